"""Choose the detector's NMS IoU and score threshold on `val`: precision, recall and mAP per setting.

The detector runs once per page; its raw output is decoded again for every NMS IoU, and precision
and recall are read at every score threshold (mAP uses every box over 0.001, as Ultralytics and
COCO do). Run from the repository root:

    .venv/bin/python -m bench.detector_sweep --threads 2 [--detector NAME]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

from bench.common import (
    base_parser,
    load_pages,
    machine_description,
    markdown_table,
    output_stem,
    report,
    split_list,
    write_results,
)
from handocr.detection.boxes import decode_yolo
from handocr.evaluation.detection_metrics import DetectionScorer
from handocr.evaluation.runner import MAP_MIN_SCORE
from handocr.models import DEFAULT_DETECTOR, load_detector

IOUS = (0.3, 0.4, 0.5, 0.6, 0.7)
SCORES = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4)


def raw_outputs(detector: Any, pages: list) -> list[tuple[np.ndarray, Any, int, int]]:
    """The detector's raw output for each page, with what is needed to map boxes back."""
    outputs = []
    for page in pages:
        rgb = np.asarray(Image.open(page.image_path).convert("RGB"))
        output, fit = detector.raw_output(rgb)
        outputs.append((output, fit, rgb.shape[1], rgb.shape[0]))
    return outputs


def sweep(detector: Any, pages: list, outputs: list, iou: float) -> list[dict[str, float]]:
    """Precision, recall and mAP of one NMS IoU at every score threshold of :data:`SCORES`."""
    rows = []
    for threshold in SCORES:
        scorer = DetectionScorer(operating_threshold=threshold)
        for page, (output, fit, width, height) in zip(pages, outputs, strict=True):
            boxes, scores = decode_yolo(output, MAP_MIN_SCORE, iou)
            boxes = detector.image_boxes(boxes, fit, width, height)
            gt = np.array([ln.box for ln in page.record.lines], dtype=np.float64).reshape(-1, 4)
            scorer.add(boxes, scores, gt, page.record.ignore_regions)
        rows.append({"iou": iou, "score": threshold, **scorer.summary()})
    return rows


def main(argv: list[str] | None = None) -> int:
    """Sweep NMS IoU x score threshold per set; print tables, write JSON and markdown."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--detector", default=None, help="detector model name or folder (default: the shipped one)")
    args = parser.parse_args(argv)
    detector = load_detector(args.detector or DEFAULT_DETECTOR, threads=args.threads)
    results: dict[str, list[dict[str, float]]] = {}
    tables = []
    for set_name in split_list(args.sets):
        pages = load_pages(args.data, [set_name], args.split, args.pages)
        outputs = raw_outputs(detector, pages)
        rows = [row for iou in IOUS for row in sweep(detector, pages, outputs, iou)]
        results[set_name] = rows
        best = max(rows, key=lambda r: (r["map50"], r["precision"] + r["recall"]))
        table = markdown_table(
            ["NMS IoU", "score ≥", "precision", "recall", "mAP@0.5", "mAP@0.5:0.95"],
            [[r["iou"], r["score"], r["precision"], r["recall"], r["map50"], r["map50_95"]] for r in rows],
            digits=3,
        )
        tables.append(f"### {set_name} {args.split} ({len(pages)} pages)\n\nbest mAP@0.5: {best}\n\n{table}\n")
    markdown = "\n".join(tables)
    payload = {"machine": machine_description(), "detector": detector.info.model_dump(), "results": results}
    files = write_results(output_stem(args.out, "detector_sweep", args.tag), payload, markdown)
    report(markdown, files)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
