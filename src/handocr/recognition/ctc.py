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

    A character's confidence is the highest frame probability of its run.
    """
    best = log_probs.argmax(axis=1)
    probs = np.exp(log_probs.max(axis=1))
    text, confs, spans = [], [], []
    prev = 0
    for t, cls in enumerate(best):
        cls = int(cls)
        if cls != 0 and cls != prev:
            text.append(characters[cls - 1])
            confs.append(float(probs[t]))
            spans.append((t, t))
        elif cls != 0 and cls == prev:
            confs[-1] = max(confs[-1], float(probs[t]))
            spans[-1] = (spans[-1][0], t)
        prev = cls
    return DecodedLine("".join(text), confs, spans)
