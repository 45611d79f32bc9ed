"""The line recognizer interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from handocr.schema import ModelInfo


@dataclass
class RecognizedLine:
    """A recognised line crop.

    ``char_spans[i] = (x0, x1)`` is the horizontal extent of character ``i`` in the crop's pixels
    (empty when the backend has no alignment, e.g. TrOCR). ``uncalibrated_confidence`` is the line
    confidence before the model's calibration map, when it has one. ``language`` is the code of the
    language-specific decoder that read it (``None``: the general one, or a backend without them).
    """

    text: str
    confidence: float
    char_confidences: list[float] = field(default_factory=list)
    char_spans: list[tuple[float, float]] = field(default_factory=list)
    uncalibrated_confidence: float | None = None
    language: str | None = None

    @property
    def network_confidence(self) -> float:
        """The confidence as the network gave it (before calibration): what orientation checks
        compare with greedy readings of turned crops."""
        return self.confidence if self.uncalibrated_confidence is None else self.uncalibrated_confidence


class LineRecognizer(Protocol):
    """Reads the text of line crops."""

    info: ModelInfo
    languages: tuple[str, ...]  # codes with a decoder of their own (may be empty)

    def recognize(self, crops: list[np.ndarray], language: str = "auto") -> list[RecognizedLine]:
        """Recognise grayscale uint8 line crops ``(h, w)``, the lines of one page; one result per
        crop, in order. ``language``: ``"auto"``, ``"any"`` or one of ``languages`` (see
        :mod:`handocr.recognition.language`)."""
        ...
