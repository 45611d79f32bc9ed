"""Box geometry in NumPy: letterboxing, YOLOv8 output decoding, IoU and non-maximum suppression."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Letterbox:
    """How an image was fitted into the network's input: ``input = image * scale + (pad_x, pad_y)``."""

    scale: float
    pad_x: float
    pad_y: float

    def to_image(self, boxes: np.ndarray, width: int, height: int) -> np.ndarray:
        """Map ``(n, 4)`` xyxy boxes from input pixels back to image pixels, clipped to the image."""
        out = boxes.astype(np.float32).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
        return out


BOX_SIDES = ("left", "top", "right", "bottom")  # the order of ``box_adjust`` and of :func:`move_sides`


def move_sides(boxes: np.ndarray, inward: tuple[float, float, float, float]) -> np.ndarray:
    """``(n, 4)`` xyxy boxes with each side moved inward by a share of the box's height.

    ``inward`` is ``(left, top, right, bottom)``; negative values move a side outward. A detector
    whose boxes run systematically taller or wider than the annotations is corrected this way
    (``box_adjust`` in its ``model.json``, measured on `train` by ``python -m bench.box_bias``).
    """
    if not len(boxes) or not any(inward):
        return boxes
    left, top, right, bottom = inward
    heights = boxes[:, 3] - boxes[:, 1]
    out = boxes.astype(np.float32).copy()
    out[:, 0] += left * heights
    out[:, 1] += top * heights
    out[:, 2] -= right * heights
    out[:, 3] -= bottom * heights
    return out


def letterbox(image: np.ndarray, size: int, fill: int = 114, stride: int = 0) -> tuple[np.ndarray, Letterbox]:
    """Resize an RGB image ``(h, w, 3)`` to fit ``size x size`` keeping its aspect, centred on ``fill``.

    With ``stride`` 0 the canvas is the ``size x size`` square: Ultralytics' ``LetterBox(auto=False,
    center=True)``, for a network with a fixed square input. With a ``stride`` (32 for YOLOv8) the
    canvas is the smallest rectangle around the resized image whose sides are multiples of it:
    ``LetterBox(auto=True)``, what Ultralytics' rectangular inference feeds a network with a dynamic
    input; a portrait page then costs the network its own pixels, not the square's.
    """
    h, w = image.shape[:2]
    scale = min(size / h, size / w)
    new_w, new_h = round(w * scale), round(h * scale)
    canvas_w, canvas_h = (-(-new_w // stride) * stride, -(-new_h // stride) * stride) if stride else (size, size)
    pad_w, pad_h = (canvas_w - new_w) / 2, (canvas_h - new_h) / 2
    resized = np.asarray(Image.fromarray(image).resize((new_w, new_h), Image.BILINEAR))
    top, left = round(pad_h - 0.1), round(pad_w - 0.1)
    canvas = np.full((canvas_h, canvas_w, 3), fill, dtype=np.uint8)
    canvas[top : top + new_h, left : left + new_w] = resized
    return canvas, Letterbox(scale=scale, pad_x=left, pad_y=top)


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """Convert ``(n, 4)`` centre/size boxes to corner boxes."""
    cx, cy, w, h = boxes.T
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of xyxy boxes ``a (n, 4)`` and ``b (m, 4)`` -> ``(n, m)``."""
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression; returns kept indices, highest score first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        overlaps = iou_matrix(boxes[best : best + 1], boxes[order[1:]])[0]
        order = order[1:][overlaps <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def decode_yolo(
    output: np.ndarray, conf_threshold: float, iou_threshold: float, max_det: int = 300
) -> tuple[np.ndarray, np.ndarray]:
    """Decode a YOLOv8 output ``(1, 4 + classes, N)`` into xyxy boxes ``(k, 4)`` and scores ``(k,)``.

    Boxes are in the model input's pixels; classes are merged (the best class score is the score).
    """
    predictions = output[0].T  # (N, 4 + classes)
    scores = predictions[:, 4:].max(axis=1)
    mask = scores >= conf_threshold
    boxes = xywh_to_xyxy(predictions[mask, :4])
    scores = scores[mask]
    if not len(scores):
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    keep = nms(boxes, scores, iou_threshold)[:max_det]
    return boxes[keep].astype(np.float32), scores[keep].astype(np.float32)


def least_line_height(boxes: Sequence[Sequence[float]], min_share: float) -> float:
    """The height under which a line box counts as thin: ``min_share`` of the boxes' median height
    (0, so that none is thin, with fewer than three boxes or ``min_share`` 0)."""
    if min_share <= 0 or len(boxes) < 3:
        return 0.0
    return min_share * float(np.median([box[3] - box[1] for box in boxes]))


def grow_thin_boxes(boxes: Sequence[Sequence[float]], min_share: float) -> list[tuple[float, ...]]:
    """``boxes`` with those lower than ``min_share`` of their median height grown about their middle
    to that height (at least three boxes are needed for a median; ``min_share`` 0 changes nothing).

    Boxes drawn by hand or by another tool are sometimes a thin band along the baseline or through
    the middle of the writing (Hooker's annotations: 66 of 692 `val` lines are under half the page's
    median height); read as they are, the recognizer sees half-cut letters.
    """
    least = least_line_height(boxes, min_share)
    grown = []
    for x0, y0, x1, y1 in boxes:
        if y1 - y0 < least:
            middle = (y0 + y1) / 2
            y0, y1 = middle - least / 2, middle + least / 2
        grown.append((x0, y0, x1, y1))
    return grown
