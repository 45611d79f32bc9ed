"""Reading order, paragraphs and word boxes, from line boxes and recognised text.

All geometry is in pixels of the page image.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from handocr.recognition.calibration import word_ranges
from handocr.schema import Line, Paragraph, Word

BoxT = Sequence[float]


def _vertical_overlap(a: BoxT, b: BoxT) -> float:
    """Overlap of two boxes' vertical extents, as a share of the taller one.

    The taller one, so that a tall detection spanning two lines does not pull a neighbouring line
    into its row.
    """
    inter = min(a[3], b[3]) - max(a[1], b[1])
    taller = max(1e-6, max(a[3] - a[1], b[3] - b[1]))
    return max(0.0, inter) / taller


def reading_order(boxes: Sequence[BoxT]) -> list[int]:
    """Indices of ``boxes`` in reading order: top to bottom, and left to right within a row.

    Boxes whose vertical extents overlap by more than half of the taller one share a row (words of
    one line split by the detector, or a marginal note beside a line).
    """
    order = sorted(range(len(boxes)), key=lambda i: (boxes[i][1] + boxes[i][3]) / 2)
    rows: list[list[int]] = []
    for i in order:
        if rows and all(_vertical_overlap(boxes[i], boxes[j]) > 0.5 for j in rows[-1]):
            rows[-1].append(i)
        else:
            rows.append([i])
    return [i for row in rows for i in sorted(row, key=lambda k: boxes[k][0])]


def union_box(boxes: Sequence[BoxT]) -> list[int]:
    """The integer box that encloses ``boxes``."""
    return [
        int(min(b[0] for b in boxes)),
        int(min(b[1] for b in boxes)),
        int(np.ceil(max(b[2] for b in boxes))),
        int(np.ceil(max(b[3] for b in boxes))),
    ]


def paragraphs(lines: Sequence[Line]) -> list[Paragraph]:
    """Group consecutive lines (already in reading order) into paragraphs.

    A new paragraph starts after a vertical gap larger than 0.75 of the median line height, or at a
    line indented by more than 1.5 median heights from the previous one after a short line.
    """
    if not lines:
        return []
    heights = [ln.box[3] - ln.box[1] for ln in lines]
    median_h = float(np.median(heights))
    widths = [ln.box[2] - ln.box[0] for ln in lines]
    full = float(np.percentile(widths, 75))
    groups: list[list[int]] = [[0]]
    for i in range(1, len(lines)):
        prev, cur = lines[i - 1].box, lines[i].box
        gap = cur[1] - prev[3]
        indented = cur[0] - prev[0] > 1.5 * median_h
        prev_short = (prev[2] - prev[0]) < 0.7 * full
        if gap > 0.75 * median_h or (indented and prev_short):
            groups.append([i])
        else:
            groups[-1].append(i)
    return [Paragraph(box=union_box([lines[i].box for i in g]), lines=g) for g in groups]


def words_from_chars(
    text: str,
    char_confidences: Sequence[float],
    char_spans: Sequence[tuple[float, float]],
    crop_box: BoxT,
    line_box: Sequence[int],
    review_below: float = 0.0,
) -> list[Word]:
    """Split a line's text into words with boxes from per-character spans in crop pixels.

    ``crop_box`` is where the crop was cut from the page; word boxes take the line box's vertical
    extent. Without spans (a backend with no alignment) words share the line box. A word's confidence
    is the product of its characters' (the chance that all are right), which is close to calibrated
    on ``val`` (see the recognizer's model card); words under ``review_below`` are flagged
    ``needs_review``.
    """
    words: list[Word] = []
    have_spans = len(char_spans) == len(text) and len(text) > 0
    have_confidences = len(char_confidences) == len(text)
    for start, end in word_ranges(text):
        confs = char_confidences[start:end] if have_confidences else [1.0]
        if have_spans:
            x0 = crop_box[0] + char_spans[start][0]
            x1 = crop_box[0] + char_spans[end - 1][1]
            box = [int(max(line_box[0], x0)), line_box[1], int(min(line_box[2], np.ceil(x1))), line_box[3]]
            box[2] = max(box[2], box[0])
        else:
            box = list(line_box)
        confidence = float(np.prod(confs))
        words.append(Word(box=box, text=text[start:end], confidence=confidence, needs_review=confidence < review_below))
    return words
