"""Reading-order metrics: Kendall's tau between predicted and ground-truth line order."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from handocr.detection.boxes import iou_matrix


def kendall_tau(ranks: Sequence[int]) -> float:
    """Kendall's tau of a sequence against its sorted order (1.0: same order; -1.0: reversed).

    Sequences shorter than two items count as perfectly ordered.
    """
    n = len(ranks)
    if n < 2:
        return 1.0
    concordant = discordant = 0
    for i in range(n):
        for j in range(i + 1, n):
            if ranks[i] < ranks[j]:
                concordant += 1
            elif ranks[i] > ranks[j]:
                discordant += 1
    return (concordant - discordant) / (n * (n - 1) / 2)


def matched_gt_ranks(predicted_boxes: np.ndarray, gt_boxes: np.ndarray, iou_threshold: float = 0.5) -> list[int]:
    """For predicted boxes in reading order, the index of the ground-truth line each one matches.

    Matching is one-to-one, best IoU first; unmatched predictions are left out.
    """
    match = dict(one_to_one_matches(predicted_boxes, gt_boxes, iou_threshold))
    return [match[i] for i in range(len(predicted_boxes)) if i in match]


def one_to_one_matches(
    predicted_boxes: np.ndarray, gt_boxes: np.ndarray, iou_threshold: float
) -> list[tuple[int, int]]:
    """``(prediction, ground truth)`` index pairs at IoU >= ``iou_threshold``, one to one, best IoU first."""
    if not len(predicted_boxes) or not len(gt_boxes):
        return []
    ious = iou_matrix(predicted_boxes, gt_boxes)
    pairs = sorted(((ious[i, j], i, j) for i, j in zip(*np.nonzero(ious >= iou_threshold), strict=True)), reverse=True)
    used_pred, used_gt, matches = set(), set(), []
    for _, i, j in pairs:
        if i not in used_pred and j not in used_gt:
            used_pred.add(i)
            used_gt.add(j)
            matches.append((int(i), int(j)))
    return matches


def ground_truth_order(predicted_boxes: np.ndarray, gt_boxes_in_order: np.ndarray) -> list[int]:
    """Indices of ``predicted_boxes`` in the ground truth's order: the oracle reading order.

    Each prediction takes the rank of the ground-truth line it overlaps most (by IoU), or, when it
    overlaps none, of the line whose vertical centre is nearest; ties (a line split in two) go left
    to right. Scores what detection alone costs the page text, without reading-order mistakes.
    """
    if not len(predicted_boxes):
        return []
    if not len(gt_boxes_in_order):
        return list(range(len(predicted_boxes)))
    ious = iou_matrix(predicted_boxes, gt_boxes_in_order)
    centre = (predicted_boxes[:, 1] + predicted_boxes[:, 3]) / 2
    gt_centre = (gt_boxes_in_order[:, 1] + gt_boxes_in_order[:, 3]) / 2
    nearest = np.abs(centre[:, None] - gt_centre[None, :]).argmin(axis=1)
    rank = np.where(ious.max(axis=1) > 0, ious.argmax(axis=1), nearest)
    return sorted(range(len(predicted_boxes)), key=lambda i: (int(rank[i]), float(predicted_boxes[i, 0])))


class OrderScorer:
    """Accumulates pages; reports the share of pages in exact order and the mean Kendall tau."""

    def __init__(self) -> None:
        self.taus: list[float] = []

    def add(self, predicted_boxes_in_order: np.ndarray, gt_boxes_in_order: np.ndarray) -> None:
        """Add one page: predicted boxes in our reading order, ground-truth boxes in true order.

        A page with fewer than two matched lines has no order to judge and is not scored.
        """
        ranks = matched_gt_ranks(predicted_boxes_in_order, gt_boxes_in_order)
        if len(ranks) >= 2:
            self.taus.append(kendall_tau(ranks))

    def summary(self) -> dict[str, float | int | None]:
        """``pages_in_order`` (share with tau == 1), ``mean_kendall_tau`` and ``pages_scored``."""
        if not self.taus:
            return {"pages_in_order": None, "mean_kendall_tau": None, "pages_scored": 0}
        return {
            "pages_in_order": float(np.mean([t == 1.0 for t in self.taus])),
            "mean_kendall_tau": float(np.mean(self.taus)),
            "pages_scored": len(self.taus),
        }
