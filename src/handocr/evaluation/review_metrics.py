"""How well confidences pick out the lines and words a person should check (``needs_review``).

Lines are read on ground-truth boxes. A line's confidence is compared with ``1 - CER`` of the line
(expected calibration error), and a review threshold is judged by the share of lines it flags and
the share of all character errors that sit in the flagged lines. A word (confidence as the result
tree computes it, :func:`handocr.recognition.calibration.word_confidences`) is wrong when the
word-level alignment does not match it to an identical reference word; a threshold is judged by the
share of words it flags and the share of wrong words among them.

The suggested threshold maximises ``caught - flagged`` (errors caught minus items flagged, both as
shares): the point where flagging one more item stops finding errors faster than at random.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from handocr.evaluation.text_metrics import edit_distance
from handocr.recognition.base import RecognizedLine
from handocr.recognition.calibration import align_matches, expected_calibration_error, word_confidences

THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.05, 1.0, 0.05))


@dataclass
class ReviewScorer:
    """Accumulates recognised lines with their references; reports calibration and review thresholds."""

    line_confidence: list[float] = field(default_factory=list)
    line_errors: list[int] = field(default_factory=list)
    line_lengths: list[int] = field(default_factory=list)
    word_confidence: list[float] = field(default_factory=list)
    word_wrong: list[bool] = field(default_factory=list)

    def add(self, reference: str, line: RecognizedLine) -> None:
        """Add one line: its reference text and what the recognizer returned for it."""
        self.line_confidence.append(float(line.confidence))
        self.line_errors.append(edit_distance(reference, line.text))
        self.line_lengths.append(len(reference))
        words = word_confidences(line.text, line.char_confidences) if line.char_confidences else []
        matches = align_matches(reference.split(), [w for w, _ in words])
        self.word_confidence.extend(c for _, c in words)
        self.word_wrong.extend(not m for m in matches)

    def summary(self, line_threshold: float, word_threshold: float) -> dict:
        """Calibration (ECE), the review figures at the given thresholds, a sweep and the suggestions."""
        return {
            "lines": self._lines(line_threshold),
            "words": self._words(word_threshold),
        }

    def _lines(self, threshold: float) -> dict:
        conf = np.array(self.line_confidence)
        errors = np.array(self.line_errors, dtype=float)
        lengths = np.array(self.line_lengths, dtype=float)
        if not len(conf):
            return {"n": 0}
        accuracy = np.clip(1.0 - errors / np.maximum(lengths, 1.0), 0.0, 1.0)

        def at(t: float) -> dict:
            flagged = conf < t
            kept = ~flagged
            return {
                "threshold": t,
                "flagged": float(flagged.mean()),
                "errors_caught": float(errors[flagged].sum() / max(errors.sum(), 1.0)),
                "cer_kept": float(errors[kept].sum() / max(lengths[kept].sum(), 1.0)),
                "cer_flagged": float(errors[flagged].sum() / max(lengths[flagged].sum(), 1.0)),
            }

        sweep = [at(t) for t in THRESHOLDS]
        best = max(sweep, key=lambda r: r["errors_caught"] - r["flagged"])
        return {
            "n": len(conf),
            "ece": expected_calibration_error(conf, accuracy),
            "at_threshold": at(threshold),
            "suggested_threshold": best["threshold"],
            "sweep": sweep,
        }

    def _words(self, threshold: float) -> dict:
        conf = np.array(self.word_confidence)
        wrong = np.array(self.word_wrong, dtype=bool)
        if not len(conf):
            return {"n": 0}

        def at(t: float) -> dict:
            flagged = conf < t
            return {
                "threshold": t,
                "flagged": float(flagged.mean()),
                "errors_caught": float((flagged & wrong).sum() / max(wrong.sum(), 1)),
                "wrong_among_flagged": float(wrong[flagged].mean()) if flagged.any() else 0.0,
                "wrong_among_kept": float(wrong[~flagged].mean()) if (~flagged).any() else 0.0,
            }

        sweep = [at(t) for t in THRESHOLDS]
        best = max(sweep, key=lambda r: r["errors_caught"] - r["flagged"])
        return {
            "n": len(conf),
            "ece": expected_calibration_error(conf, ~wrong),
            "at_threshold": at(threshold),
            "suggested_threshold": best["threshold"],
            "sweep": sweep,
        }
