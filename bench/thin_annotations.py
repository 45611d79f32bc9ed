"""How much of the detector's score on a set is lost to thin annotated line boxes, side by side.

Some annotated line boxes are a thin band through or along a line of writing rather than the line
(Hooker: 66 of 693 `val` boxes are under half their page's median box height). A detector that
boxes the whole line cannot reach IoU 0.5 with such a band, so the line counts as missed and the
detection as a false positive. Per set, this counts the annotated boxes under ``--thin`` of their
page's median height and how many of them the detector misses (no one-to-one match at IoU >= 0.5),
then scores the detector twice: against the boxes as annotated (what ``handocr eval`` reports), and
with each thin box, grown about its middle to the median height, as an ignore region (no line to
find there, and a detection lying mostly inside it is no false positive).
The first is the score to quote; the second says how much of the gap is the annotation. A third
row, the whole-line ceiling, scores no detector: it puts forward the annotated boxes themselves,
each thin one grown about its middle to the page's median height (what a perfect detector that
boxes whole lines would find, ranked the best way: the thin ones last), against the boxes as
annotated: the most such a detector can score.
Run from the repository root:

    .venv/bin/python -m bench.thin_annotations --threads 2 [--detector NAME] [--thin 0.5]
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from bench.common import base_parser, load_pages, markdown_table, output_stem, report, split_list, write_results
from handocr.detection.boxes import grow_thin_boxes, least_line_height
from handocr.evaluation.detection_metrics import DetectionScorer
from handocr.evaluation.order_metrics import one_to_one_matches
from handocr.evaluation.runner import MAP_MIN_SCORE
from handocr.models import DEFAULT_DETECTOR, load_detector

SCORES = ("precision", "recall", "map50", "map50_95")
SCORINGS = ("as_annotated", "thin_ignored", "whole_line_ceiling")


def thin_mask(gt: np.ndarray, share: float) -> np.ndarray:
    """Which of a page's annotated boxes ``(n, 4)`` are lower than ``share`` of their median height,
    by the reader's own rule (:func:`handocr.detection.boxes.least_line_height`)."""
    return (gt[:, 3] - gt[:, 1]) < least_line_height(gt, share)


def missed_mask(found: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Which annotated boxes ``gt`` no box of ``found`` matches one to one at IoU >= 0.5."""
    matched = {j for _, j in one_to_one_matches(found, gt, 0.5)}
    return np.array([j not in matched for j in range(len(gt))], dtype=bool)


def measure(detector, pages: list, share: float) -> dict:
    """Counts and the three detection scores over ``pages`` (see the module docstring)."""
    operating = getattr(detector, "conf_threshold", 0.0)
    as_annotated, thin_ignored = DetectionScorer(operating), DetectionScorer(operating)
    ceiling = DetectionScorer(0.0)
    counted = ("pages", "annotated", "thin", "missed", "thin_missed", "ceiling_missed", "ceiling_thin_missed")
    counts = dict.fromkeys(counted, 0)
    for page in pages:
        record = page.record
        curve = detector.detect(np.asarray(Image.open(record.image_path).convert("RGB")), min_score=MAP_MIN_SCORE)
        boxes = np.array([d.box for d in curve], dtype=np.float64).reshape(-1, 4)
        scores = np.array([d.score for d in curve], dtype=np.float64)
        gt = np.array([line.box for line in record.lines], dtype=np.float64).reshape(-1, 4)
        thin = thin_mask(gt, share)
        missed = missed_mask(boxes[scores >= operating], gt)
        counts["pages"] += 1
        counts["annotated"] += len(gt)
        counts["thin"] += int(thin.sum())
        counts["missed"] += int(missed.sum())
        counts["thin_missed"] += int((missed & thin).sum())
        as_annotated.add(boxes, scores, gt, record.ignore_regions)
        grown = np.array(grow_thin_boxes(gt.tolist(), 1.0)).reshape(-1, 4)
        ignore = [*record.ignore_regions, *grown[thin]]
        thin_ignored.add(boxes, scores, gt[~thin], ignore)
        whole = np.where(thin[:, None], grown, gt)  # a perfect detector that boxes whole lines
        ceiling_missed = missed_mask(whole, gt)
        counts["ceiling_missed"] += int(ceiling_missed.sum())
        counts["ceiling_thin_missed"] += int((ceiling_missed & thin).sum())
        ceiling.add(whole, np.where(thin, 0.5, 1.0), gt, record.ignore_regions)  # the best order: bands last
    return {
        **counts,
        "as_annotated": as_annotated.summary(),
        "thin_ignored": thin_ignored.summary(),
        "whole_line_ceiling": ceiling.summary(),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure each set; print, write JSON and markdown."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, help="detector model name or folder")
    parser.add_argument("--thin", type=float, default=0.5, help="thin: under this share of the page's median height")
    args = parser.parse_args(argv)
    detector = load_detector(args.detector, threads=args.threads)
    results, rows = {}, []
    for set_name in split_list(args.sets):
        result = measure(detector, load_pages(args.data, [set_name], args.split, args.pages), args.thin)
        results[set_name] = result
        for scoring in SCORINGS:
            prefix = "ceiling_" if scoring == "whole_line_ceiling" else ""
            rows.append(
                [
                    set_name,
                    scoring.replace("_", " "),
                    result["annotated"],
                    result["thin"],
                    f"{result[prefix + 'missed']} ({result[prefix + 'thin_missed']} thin)",
                    *(result[scoring][k] for k in SCORES),
                ]
            )
    headers = ["set", "scored", "annotated lines", "thin", "missed at IoU 0.5", "P", "R", "mAP@0.5", "mAP@0.5:0.95"]
    markdown = f"### {args.split}: thin = under {args.thin} of the page's median box height\n\n"
    markdown += markdown_table(headers, rows, digits=3) + "\n"
    payload = {"detector": detector.info.model_dump(), "split": args.split, "thin": args.thin, "sets": results}
    report(markdown, write_results(output_stem(args.out, "thin_annotations", args.tag), payload, markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
