"""Metrics (CER, WER, detection AP) and the evaluation runner."""
