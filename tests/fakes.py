"""Deterministic stand-ins for the detector and recognizer, for tests of code around the models.

The fake detector finds dark horizontal bands (real ink rows) on the page, so it reacts to the
image it is given; the fake recognizer returns a fixed text per line with alignment spans.
"""

from __future__ import annotations

import numpy as np

from handocr.detection.base import Detection
from handocr.pipeline import Reader
from handocr.recognition.base import RecognizedLine
from handocr.schema import ModelInfo


class InkBandDetector:
    """Boxes each run of rows that contains dark pixels."""

    info = ModelInfo(name="fake-ink-bands", version="0")

    def detect(self, image: np.ndarray, min_score: float | None = None) -> list[Detection]:
        gray = image.mean(axis=2)
        ink_rows = (gray < 128).any(axis=1)
        detections, start = [], None
        for y, ink in enumerate([*ink_rows, False]):
            if ink and start is None:
                start = y
            elif not ink and start is not None:
                cols = np.where((gray[start:y] < 128).any(axis=0))[0]
                detections.append(Detection((float(cols[0]), float(start), float(cols[-1] + 1), float(y)), 0.9))
                start = None
        return detections


class FixedTextRecognizer:
    """Returns ``text`` for every crop, with evenly spread character spans."""

    info = ModelInfo(name="fake-fixed-text", version="0")

    def __init__(self, text: str = "hello world", confidence: float = 0.8) -> None:
        self.text = text
        self.confidence = confidence

    def recognize(self, crops: list[np.ndarray], language: str = "auto") -> list[RecognizedLine]:
        out = []
        for crop in crops:
            step = crop.shape[1] / max(1, len(self.text))
            spans = [(i * step, (i + 1) * step) for i in range(len(self.text))]
            out.append(RecognizedLine(self.text, self.confidence, [self.confidence] * len(self.text), spans))
        return out


def fake_reader(text: str = "hello world", confidence: float = 0.8) -> Reader:
    """A :class:`Reader` built from the fakes above."""
    return Reader(InkBandDetector(), FixedTextRecognizer(text, confidence))
