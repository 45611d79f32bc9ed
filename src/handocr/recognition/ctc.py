"""CTC decoding in NumPy: greedy best path with per-character confidence and frame positions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class DecodedLine:
    """A decoded line: text, one confidence and one frame span per character.

    ``spans[i] = (first_frame, last_frame)`` of character ``i`` (inclusive), used for word boxes.
    ``uncalibrated_confidence`` is the line confidence before a calibration map was applied to the
    character confidences (``None`` when none was).
    """

    text: str
    char_confidences: list[float]
    spans: list[tuple[int, int]]
    uncalibrated_confidence: float | None = None

    @property
    def confidence(self) -> float:
        """Line confidence: the geometric mean of character confidences (0.0 when nothing was read)."""
        if not self.char_confidences:
            return 0.0
        return float(np.exp(np.mean(np.log(np.clip(self.char_confidences, 1e-6, 1.0)))))


def log_softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable log-softmax."""
    shifted = logits - logits.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def greedy_decode(log_probs: np.ndarray, characters: str) -> DecodedLine:
    """Best-path decode of one line's ``(T, C)`` log-probabilities (class 0 = blank).

    A character's confidence is the highest frame probability of its run. The runs of the best
    path are found with NumPy, so the cost in Python is per character, not per frame.
    """
    frames = log_probs.shape[0]
    if frames == 0:
        return DecodedLine("", [], [])
    best = log_probs.argmax(axis=1)
    probs = np.exp(np.take_along_axis(log_probs, best[:, None], axis=1)[:, 0])
    starts = np.flatnonzero(np.concatenate(([True], best[1:] != best[:-1])))
    ends = np.append(starts[1:] - 1, frames - 1)
    peaks = np.maximum.reduceat(probs, starts)
    run_classes = best[starts]
    kept = run_classes != 0
    classes = run_classes[kept].tolist()
    spans = list(zip(starts[kept].tolist(), ends[kept].tolist(), strict=True))
    text = "".join(characters[c - 1] for c in classes)
    return DecodedLine(text, peaks[kept].tolist(), spans)
