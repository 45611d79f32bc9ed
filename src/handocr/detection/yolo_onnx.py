"""The YOLOv8 line detector run with ONNX Runtime (no torch at run time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from handocr.detection.base import Detection
from handocr.detection.boxes import Letterbox, decode_yolo, letterbox, move_sides
from handocr.runtime import make_session
from handocr.schema import ModelInfo

YOLO_STRIDE = 32  # YOLOv8's largest stride: the sides of a dynamic input are multiples of it


class YoloOnnxDetector:
    """Detects text lines with a YOLOv8 ONNX export (one or more classes).

    An export with a fixed square input (``handocr export detector --square``) reads each page
    letterboxed into that square. An export with a dynamic input (the command's default) reads it
    scaled to ``imgsz`` on its longer side and padded only to multiples of 32 (rectangular
    inference): the same scale, so the same boxes to within padding effects, on fewer pixels for
    any page that is not square.
    ``box_adjust`` = ``(left, top, right, bottom)``: shares of each box's height by which its sides
    are moved inward after decoding (see :func:`handocr.detection.boxes.move_sides`).
    ``runtime`` and ``openvino`` (the model's ``openvino`` entry) choose where the network runs
    (see :mod:`handocr.runtime`).
    """

    def __init__(
        self,
        path: Path,
        info: ModelInfo,
        conf_threshold: float = 0.25,
        iou_threshold: float = 0.5,
        threads: int | None = None,
        box_adjust: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
        imgsz: int = 640,
        runtime: str | None = None,
        openvino: dict | None = None,
    ) -> None:
        self.session = make_session(path, threads, runtime, openvino)
        self.box_adjust = box_adjust
        self.info = info
        self.conf_threshold = conf_threshold
        self.iou_threshold = iou_threshold
        shape = self.session.get_inputs()[0].shape
        self.input_name = self.session.get_inputs()[0].name
        fixed = isinstance(shape[2], int) and isinstance(shape[3], int)
        self.size = int(shape[2]) if fixed else imgsz
        self.stride = 0 if fixed else YOLO_STRIDE  # 0: the fixed square

    def raw_output(self, image: np.ndarray) -> tuple[np.ndarray, Letterbox]:
        """The network's output ``(1, 4 + classes, N)`` for an RGB uint8 image, before decoding and
        NMS, with the letterbox that maps its boxes back (threshold sweeps decode it many times)."""
        canvas, fit = letterbox(image, self.size, stride=self.stride)
        tensor = (canvas.transpose(2, 0, 1)[None].astype(np.float32)) / 255.0
        return self.session.run(None, {self.input_name: tensor})[0], fit

    def image_boxes(self, boxes: np.ndarray, fit: Letterbox, width: int, height: int) -> np.ndarray:
        """Decoded boxes in input pixels mapped to the image's pixels, sides adjusted, clipped."""
        out = move_sides(fit.to_image(boxes, width, height), self.box_adjust)
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
        return out

    def detect(self, image: np.ndarray, min_score: float | None = None) -> list[Detection]:
        """Detect lines in an RGB uint8 image ``(h, w, 3)``; boxes in the image's pixels.

        Boxes scoring under ``min_score`` (default: the model's ``conf_threshold``) are dropped.
        """
        height, width = image.shape[:2]
        output, fit = self.raw_output(image)
        threshold = self.conf_threshold if min_score is None else min_score
        boxes, scores = decode_yolo(output, threshold, self.iou_threshold)
        boxes = self.image_boxes(boxes, fit, width, height)
        return [
            Detection(box=tuple(float(v) for v in box), score=float(score))
            for box, score in zip(boxes, scores, strict=True)
            if box[2] - box[0] >= 2 and box[3] - box[1] >= 2
        ]
