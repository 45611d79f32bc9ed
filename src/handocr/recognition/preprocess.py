"""Turn a line crop into the recognizer's input; shared by training and inference.

The input is a float32 array ``(height, width)`` in [0, 1] with ink high and paper at 0, at a fixed
height and the crop's aspect ratio.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

LINE_HEIGHT = 32
MIN_WIDTH = 16
MAX_WIDTH = 1600
WIDTH_SCALES = (0.25, 2.0)  # the width scales a recognizer may read at (normalise_line), lowest and highest
INK_PERCENTILES = (5, 99.5)  # the ink levels mapped to 0 (paper) and 1 (dark ink) by normalise_line
# Grey levels between those two percentiles below which a crop holds no writing (is_blank). Every
# ground-truth line of the two real sets' `train` pages spans 52 or more (98 on Copiste); crops of
# line size clear of every line box span 8 (Copiste) and 13 (Hooker) at the median and 19 at Hooker's
# 75th percentile (bleed-through); the rest are print and page edges (scripts/ink_contrast.py).
MIN_INK_CONTRAST = 24


def to_gray(image: Image.Image) -> np.ndarray:
    """Grayscale uint8 array ``(h, w)`` of a PIL image."""
    return np.asarray(image.convert("L"))


def ink_contrast(gray: np.ndarray) -> float:
    """Grey levels between a uint8 crop's paper and its darkest ink: the :data:`INK_PERCENTILES`
    levels that :func:`normalise_line` stretches to 0 and 1."""
    lo, hi = ink_percentiles(255 - gray, INK_PERCENTILES)
    return hi - lo


def is_blank(gray: np.ndarray, min_contrast: float = MIN_INK_CONTRAST) -> bool:
    """Whether a grayscale uint8 crop ``(h, w)`` holds no writing: empty, or its
    :func:`ink_contrast` under ``min_contrast``.

    :func:`normalise_line` stretches any contrast to the full range, so a blank crop's paper grain
    would reach the network as strokes, and the language model would make words of them. A crop of
    another dtype is not called blank unless empty: :func:`normalise_line` refuses it.
    """
    if gray.size == 0:
        return True
    return gray.dtype == np.uint8 and ink_contrast(gray) < min_contrast


def trim_rows(gray: np.ndarray, fraction: float) -> np.ndarray:
    """A crop ``(h, w)`` without ``fraction`` of its height at the top and as much at the bottom.

    Keeps at least one row; ``fraction`` 0 returns the crop itself.
    """
    rows = round(gray.shape[0] * fraction)
    if rows <= 0 or gray.shape[0] - 2 * rows < 1:
        return gray
    return gray[rows : gray.shape[0] - rows]


def normalise_line(gray: np.ndarray, height: int = LINE_HEIGHT, width_scale: float = 1.0) -> np.ndarray:
    """Resize a grayscale crop ``(h, w)`` uint8 to ``height`` rows and normalise its contrast.

    Returns float32 ``(height, w')`` with ``w'`` the width at the crop's aspect ratio times
    ``width_scale`` (a recognizer that reads lines narrower than they are runs fewer CTC frames),
    clamped to ``[MIN_WIDTH, MAX_WIDTH]``; paper mapped to 0 and the darkest ink to 1.
    """
    h, w = gray.shape
    if h < 1 or w < 1:
        raise ValueError("empty line crop")
    if gray.dtype != np.uint8:
        raise TypeError(f"a line crop must be uint8 grey levels, not {gray.dtype}")
    new_w = round(w * height / h * width_scale)
    new_w = min(MAX_WIDTH, max(MIN_WIDTH, new_w))
    ink = 255 - np.asarray(Image.fromarray(gray).resize((new_w, height), Image.BILINEAR))  # uint8
    lo, hi = ink_percentiles(ink, INK_PERCENTILES)
    if hi - lo < 1e-3:
        return np.zeros(ink.shape, dtype=np.float32)
    # each of the 256 ink levels mapped once (in float64, as the whole line was before), then looked up
    levels = np.clip((np.arange(256, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
    return levels[ink]


def ink_percentiles(ink: np.ndarray, percentiles: tuple[float, ...]) -> tuple[float, ...]:
    """``np.percentile(ink, percentiles)`` (its default, linear interpolation) of a uint8 array, from
    its histogram: the same values, bit for bit, without sorting the pixels."""
    n = ink.size
    if n < 1:
        raise ValueError("no pixels")
    counts = np.bincount(ink.ravel(), minlength=256).cumsum()  # counts[v]: pixels at or below v
    values = []
    for percentile in percentiles:
        index = (n - 1) * (percentile / 100)  # numpy's virtual index for 'linear'
        below = int(np.floor(index))
        fraction = index - below
        # the k-th smallest pixel (from 0) is the first level with more than k pixels at or below it
        lower = float(np.searchsorted(counts, below, side="right"))
        upper = float(np.searchsorted(counts, min(below + 1, n - 1), side="right"))
        step = upper - lower
        # numpy's lerp: from the nearer end
        values.append(upper - step * (1 - fraction) if fraction >= 0.5 else lower + step * fraction)
    return tuple(values)


def pad_batch(lines: list[np.ndarray], multiple: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Stack normalised lines into ``(n, 1, height, W)`` (zero-padded right) and their widths ``(n,)``.

    ``W`` is the widest line rounded up to ``multiple``.
    """
    widths = np.array([line.shape[1] for line in lines], dtype=np.int64)
    height = lines[0].shape[0]
    width = int(-(-widths.max() // multiple) * multiple)
    batch = np.zeros((len(lines), 1, height, width), dtype=np.float32)
    for i, line in enumerate(lines):
        batch[i, 0, :, : line.shape[1]] = line
    return batch, widths
