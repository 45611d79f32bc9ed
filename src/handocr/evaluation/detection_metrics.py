"""Detection metrics for one class: greedy IoU matching, precision/recall and average precision.

Predictions that are mostly inside an ignore region and match no ground-truth box are neither true
nor false positives (they are removed before scoring).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from handocr.detection.boxes import iou_matrix

IOU_THRESHOLDS = tuple(np.round(np.arange(0.5, 0.96, 0.05), 2))


def inside_fraction(boxes: np.ndarray, region: Sequence[float]) -> np.ndarray:
    """Share of each box's area ``(n, 4)`` that lies inside ``region`` (xyxy)."""
    if not len(boxes):
        return np.zeros((0,))
    x0 = np.maximum(boxes[:, 0], region[0])
    y0 = np.maximum(boxes[:, 1], region[1])
    x1 = np.minimum(boxes[:, 2], region[2])
    y1 = np.minimum(boxes[:, 3], region[3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = np.maximum((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]), 1e-9)
    return inter / area


def match(pred: np.ndarray, scores: np.ndarray, gt: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy matching, highest score first; returns a bool ``(n_pred,)``: true positive or not."""
    tp = np.zeros(len(pred), dtype=bool)
    if not len(pred) or not len(gt):
        return tp
    ious = iou_matrix(pred, gt)
    taken = np.zeros(len(gt), dtype=bool)
    for i in np.argsort(-scores, kind="stable"):
        candidates = np.where(~taken & (ious[i] >= iou_threshold))[0]
        if len(candidates):
            j = candidates[np.argmax(ious[i, candidates])]
            taken[j] = True
            tp[i] = True
    return tp


def drop_ignored(
    pred: np.ndarray, scores: np.ndarray, gt: np.ndarray, ignore: Sequence[Sequence[float]]
) -> tuple[np.ndarray, np.ndarray]:
    """Remove predictions more than half inside an ignore region that overlap no ground truth (IoU < 0.5)."""
    if not ignore or not len(pred):
        return pred, scores
    inside = np.zeros(len(pred), dtype=bool)
    for region in ignore:
        inside |= inside_fraction(pred, region) > 0.5
    if len(gt):
        inside &= iou_matrix(pred, gt).max(axis=1) < 0.5
    return pred[~inside], scores[~inside]


def average_precision(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> float:
    """Area under the interpolated precision-recall curve (all points, VOC 2010+ / COCO style)."""
    if n_gt == 0:
        return float("nan")
    if not len(scores):
        return 0.0
    order = np.argsort(-scores, kind="stable")
    tp_sorted = tp[order].astype(np.float64)
    cum_tp = np.cumsum(tp_sorted)
    cum_fp = np.cumsum(1 - tp_sorted)
    recall = cum_tp / n_gt
    precision = cum_tp / np.maximum(cum_tp + cum_fp, 1e-12)
    mrec = np.concatenate([[0.0], recall, [1.0]])
    mpre = np.concatenate([[1.0], precision, [0.0]])
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    steps = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))


@dataclass
class DetectionScorer:
    """Accumulates pages and reports precision/recall at an operating threshold, AP50 and AP50:95."""

    operating_threshold: float = 0.25
    _scores: list[np.ndarray] = field(default_factory=list)
    _tp: dict[float, list[np.ndarray]] = field(default_factory=lambda: {t: [] for t in IOU_THRESHOLDS})
    n_gt: int = 0

    def add(self, pred: np.ndarray, scores: np.ndarray, gt: np.ndarray, ignore: Sequence[Sequence[float]] = ()) -> None:
        """Add one page: predicted boxes ``(n, 4)`` with scores, ground-truth boxes ``(m, 4)``."""
        pred = np.asarray(pred, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        gt = np.asarray(gt, dtype=np.float64).reshape(-1, 4)
        pred, scores = drop_ignored(pred, scores, gt, ignore)
        self._scores.append(scores)
        for t in IOU_THRESHOLDS:
            self._tp[t].append(match(pred, scores, gt, t))
        self.n_gt += len(gt)

    def summary(self) -> dict[str, float]:
        """``precision``, ``recall`` (IoU 0.5, score >= operating threshold), ``map50``, ``map50_95``."""
        scores = np.concatenate(self._scores) if self._scores else np.zeros(0)
        aps = {
            t: average_precision(scores, np.concatenate(self._tp[t]) if self._tp[t] else np.zeros(0, bool), self.n_gt)
            for t in IOU_THRESHOLDS
        }
        tp50 = np.concatenate(self._tp[0.5]) if self._tp[0.5] else np.zeros(0, bool)
        kept = scores >= self.operating_threshold
        n_tp = int(tp50[kept].sum())
        n_pred = int(kept.sum())
        return {
            "precision": n_tp / n_pred if n_pred else 0.0,
            "recall": n_tp / self.n_gt if self.n_gt else 0.0,
            "map50": aps[0.5],
            "map50_95": float(np.mean(list(aps.values()))),
            "gt_lines": self.n_gt,
            "predicted_lines": n_pred,
        }
