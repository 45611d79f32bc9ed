"""The line detector interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from handocr.schema import ModelInfo


@dataclass(frozen=True)
class Detection:
    """A detected line: ``box = (x0, y0, x1, y1)`` in pixels of the input image, ``score`` in [0, 1]."""

    box: tuple[float, float, float, float]
    score: float


class LineDetector(Protocol):
    """Finds text lines on a page image."""

    info: ModelInfo

    def detect(self, image: np.ndarray, min_score: float | None = None) -> list[Detection]:
        """Detect lines in an RGB uint8 image ``(h, w, 3)``; ``min_score`` overrides the model's
        score threshold (evaluation reads the whole precision-recall curve with a low one)."""
        ...
