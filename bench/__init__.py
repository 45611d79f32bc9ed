"""Speed and accuracy benchmarks of handocr; see bench/README.md."""
