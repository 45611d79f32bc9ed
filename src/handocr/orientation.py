"""Page orientation: find the quarter-turn that makes text lines upright, and map boxes back.

``k`` counts counter-clockwise quarter-turns as in ``numpy.rot90``: the page is read in the frame
``rot90(image, k)`` and every box is mapped back to the input image's pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from handocr.detection.base import Detection

BoxT = Sequence[float]


def rotate_box_back(box: BoxT, k: int, width: int, height: int) -> tuple[float, float, float, float]:
    """Map a box from the frame ``rot90(image, k)`` back to the image (``width`` x ``height`` pixels)."""
    x0, y0, x1, y1 = box
    k %= 4
    if k == 0:
        return (x0, y0, x1, y1)
    if k == 1:
        return (width - y1, x0, width - y0, x1)
    if k == 2:
        return (width - x1, height - y1, width - x0, height - y0)
    return (y0, height - x1, y1, height - x0)


def flip_box(box: BoxT, width: int, height: int) -> tuple[float, float, float, float]:
    """The box after turning a ``width`` x ``height`` frame by 180 degrees."""
    return rotate_box_back(box, 2, width, height)


def looks_upright(detections: list[Detection], min_lines: int = 2, min_aspect: float = 2.0) -> bool:
    """True when the detected lines are mostly wide: text runs horizontally in this frame."""
    if len(detections) < min_lines:
        return False
    aspects = [(d.box[2] - d.box[0]) / max(1.0, d.box[3] - d.box[1]) for d in detections]
    return float(np.median(aspects)) >= min_aspect


def across_ink_ratio(gray: np.ndarray, size: int = 384, contrast: float = 40.0) -> float:
    """How much more the ink changes from row to row than from column to column (> 1: text lines run across).

    On a thumbnail of at most ``size`` pixels a side, pixels ``contrast`` grey levels darker than the
    paper (the median) are ink; the ratio compares the mean absolute step of the row profile with
    that of the column profile. Horizontal lines of text alternate ink and gaps down the page. On the
    66 `val` pages: 1.02-5 upright, at most 0.98 turned a quarter.
    """
    from PIL import Image

    thumb = Image.fromarray(gray)
    thumb.thumbnail((size, size))
    pixels = np.asarray(thumb, dtype=np.float32)
    ink = (pixels < float(np.median(pixels)) - contrast).astype(np.float32)
    rows = np.abs(np.diff(ink.mean(axis=1))).mean() if ink.shape[0] > 1 else 0.0
    cols = np.abs(np.diff(ink.mean(axis=0))).mean() if ink.shape[1] > 1 else 0.0
    return float(rows / max(float(cols), 1e-6))


def line_score(detections: list[Detection]) -> float:
    """A frame's evidence of horizontal text: summed score of the wide detections."""
    return sum(d.score for d in detections if (d.box[2] - d.box[0]) >= 2 * (d.box[3] - d.box[1]))


def flip_check_lines(detections: list[Detection], samples: int = 5) -> list[int]:
    """Indices of the ``samples`` highest-scoring detections, the lines the 180-degree check compares."""
    return sorted(range(len(detections)), key=lambda i: -detections[i].score)[:samples]


SURE_UPRIGHT = 0.7  # see prefers_flipped


def prefers_flipped(
    upright: Sequence[float],
    read_turned: Callable[[], Sequence[float]],
    margin: float = 0.1,
    sure_upright: float = SURE_UPRIGHT,
) -> bool:
    """Whether the frame reads better turned by 180 degrees.

    ``upright`` holds the recognizer's confidences on the sample lines (:func:`flip_check_lines`) as
    the page was read; ``read_turned`` reads the same crops turned over and returns theirs. The mean
    turned confidence must beat the upright one by ``margin`` to flip. A mean upright confidence of
    at least ``sure_upright`` settles it without reading the turned crops. ``SURE_UPRIGHT`` (0.7) was
    measured with ``bench/orientation.py`` and recognizer 0.5.0: upside-down pages read at most 0.51
    on the 66 `val` scans and 0.60 on 39 generated photos, so none skips the check, while 83% of the
    upright scans do (0.85 before: 38%); the errors are the same at every value from 0.65 to 0.85.
    """
    if not upright:
        return False
    mean_upright = float(np.mean(upright))
    if mean_upright >= sure_upright:
        return False
    turned = read_turned()
    return bool(turned) and float(np.mean(turned)) > mean_upright + margin
