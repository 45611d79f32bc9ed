"""The evaluation runner behind ``handocr eval``: detection, line recognition, end-to-end page text.

Conventions (see :mod:`handocr.datasets.collection`): line CER/WER use ground-truth boxes and the
recognition targets (page-id labels, crossed-out and unreadable lines skipped, editorial marks
removed). Page CER/WER compare the text of the detected lines in reading order (joined by newlines)
with the targets in ground-truth order; detections matching a skipped line (IoU >= 0.3) or lying in
an ignore region are left out of the hypothesis. Two more page CERs split the loss between the
stages: ``cer_on_gt_boxes`` (the lines read on ground-truth boxes, in ground-truth order: the
recognizer alone) and ``cer_in_true_order`` (the detected lines put in ground-truth order: the
recognizer and the detector, without reading-order mistakes). Reading order compares the order of
the detected lines that match a ground-truth content line (IoU >= 0.5) with the ground-truth order
(Kendall's tau); lines without a recognition target (page-id labels, empty lines) are left out of it as they are
of the text scores, since the ground truth lists them wherever they were annotated (Copiste's page-id
label, at the top of the page, comes last in 10 of the 36 `val` pages).
Review: how the confidences of the lines read on ground-truth boxes separate good from bad lines and
words (:mod:`handocr.evaluation.review_metrics`), at the reader's ``needs_review`` thresholds.
``cer_ci95`` and ``wer_ci95`` beside each CER and WER: a 95% interval from a seeded bootstrap over
the pages (:meth:`~handocr.evaluation.text_metrics.ErrorRate.interval`), how far the rate could move
on another sample of pages like these.

Detection: mAP reads every box scoring at least :data:`MAP_MIN_SCORE` (the whole precision-recall
curve, as Ultralytics and COCO do); precision, recall and everything downstream (recognition, page
text, reading order) use the boxes at the detector's own score threshold, as ``handocr read`` does.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image

from handocr.datasets.collection import recognition_target
from handocr.datasets.detect import open_dataset
from handocr.datasets.records import PageRecord
from handocr.detection.boxes import iou_matrix
from handocr.evaluation.detection_metrics import DetectionScorer, inside_fraction
from handocr.evaluation.order_metrics import OrderScorer, ground_truth_order
from handocr.evaluation.review_metrics import ReviewScorer
from handocr.evaluation.text_metrics import ErrorRate
from handocr.layout import reading_order
from handocr.pipeline import Reader

MAP_MIN_SCORE = 0.001


class _TextScores:
    def __init__(self) -> None:
        self.cer, self.cer_nocase, self.wer = ErrorRate(), ErrorRate(), ErrorRate()

    def add(self, reference: str, hypothesis: str, page: int) -> None:
        self.cer.add(reference, hypothesis, page)
        self.cer_nocase.add(reference.lower(), hypothesis.lower(), page)
        self.wer.add(reference.split(), hypothesis.split(), page)

    def summary(self) -> dict[str, float | list[float]]:
        """The rates, and 95% intervals of CER and WER from a bootstrap over pages."""
        return {
            "cer": self.cer.value,
            "cer_case_insensitive": self.cer_nocase.value,
            "wer": self.wer.value,
            "cer_ci95": list(self.cer.interval()),
            "wer_ci95": list(self.wer.interval()),
        }


def _page_hypotheses(
    page: PageRecord, boxes: np.ndarray, texts: list[str], content_boxes: np.ndarray
) -> tuple[str, str]:
    """The page text of the detected lines in our reading order, and in the ground truth's order."""
    gt = np.array([ln.box for ln in page.lines], dtype=np.float64).reshape(-1, 4)
    skipped = np.array([recognition_target(ln.text) is None for ln in page.lines], dtype=bool)
    keep = np.ones(len(boxes), dtype=bool)
    if len(boxes) and len(gt):
        ious = iou_matrix(boxes, gt)
        best = ious.argmax(axis=1)
        keep &= ~((ious.max(axis=1) >= 0.3) & skipped[best])
    for region in page.ignore_regions:
        if len(boxes):
            keep &= inside_fraction(boxes, region) <= 0.5
    kept = [i for i in range(len(boxes)) if keep[i]]
    ours = reading_order([boxes[i] for i in kept])
    true = ground_truth_order(boxes[kept].reshape(-1, 4), content_boxes)
    return "\n".join(texts[kept[i]] for i in ours), "\n".join(texts[kept[i]] for i in true)


def evaluate_folder(reader: Reader, folder: Path, split: str | None, limit: int | None = None) -> dict:
    """Evaluate ``reader`` on one dataset folder's ``split``; returns a JSON-ready dict."""
    operating = getattr(reader.detector, "conf_threshold", 0.0)
    detection = DetectionScorer(operating_threshold=operating)
    lines_scores, page_scores, order, review = _TextScores(), _TextScores(), OrderScorer(), ReviewScorer()
    page_gt_boxes, page_true_order = ErrorRate(), ErrorRate()
    latencies, line_times, n_pages, n_lines = [], [], 0, 0
    for page in open_dataset(Path(folder), prefer="pages").pages(split):
        if limit is not None and n_pages >= limit:
            break
        n_pages += 1
        image = Image.open(page.image_path).convert("RGB")
        rgb, gray = np.asarray(image), np.asarray(image.convert("L"))
        start = time.perf_counter()
        curve = reader.detector.detect(rgb, min_score=MAP_MIN_SCORE)
        detections = [d for d in curve if d.score >= operating]
        boxes = np.array([d.box for d in detections], dtype=np.float64).reshape(-1, 4)
        recognized = reader.recognize_boxes(gray, boxes)
        latencies.append((time.perf_counter() - start) * 1000)
        gt_boxes = np.array([ln.box for ln in page.lines], dtype=np.float64).reshape(-1, 4)
        curve_boxes = np.array([d.box for d in curve], dtype=np.float64).reshape(-1, 4)
        detection.add(curve_boxes, np.array([d.score for d in curve]), gt_boxes, page.ignore_regions)
        scored = [(ln, t) for ln in page.lines if (t := recognition_target(ln.text)) is not None]
        content_boxes = np.array([ln.box for ln, _ in scored], dtype=np.float64).reshape(-1, 4)
        order.add(boxes[reading_order(boxes)] if len(boxes) else boxes, content_boxes)
        t0 = time.perf_counter()
        gt_recognized = reader.recognize_boxes(gray, [ln.box for ln, _ in scored])
        if scored:
            line_times.append((time.perf_counter() - t0) * 1000 / len(scored))
        n_lines += len(scored)
        for (_, target), rec in zip(scored, gt_recognized, strict=True):
            lines_scores.add(target, rec.text, n_pages)
            review.add(target, rec)
        reference = "\n".join(t for _, t in scored)
        ours, true = _page_hypotheses(page, boxes, [r.text for r in recognized], content_boxes)
        page_scores.add(reference, ours, n_pages)
        page_true_order.add(reference, true)
        page_gt_boxes.add(reference, "\n".join(r.text for r in gt_recognized))
    return {
        "dataset": str(folder),
        "split": split,
        "pages": n_pages,
        "detection": detection.summary(),
        "lines_on_gt_boxes": {
            **lines_scores.summary(),
            "lines": n_lines,
            "ms_per_line_median": float(np.median(line_times)) if line_times else None,
        },
        "page_end_to_end": {
            **page_scores.summary(),
            "cer_in_true_order": page_true_order.value,
            "cer_on_gt_boxes": page_gt_boxes.value,
        },
        "reading_order": order.summary(),
        "review": review.summary(reader.options.review_below, reader.options.review_words_below),
        "latency_ms": {
            "median": float(np.median(latencies)) if latencies else None,
            "p95": float(np.percentile(latencies, 95)) if latencies else None,
        },
    }
