"""Measure how the detector's boxes sit against the annotated line boxes, side by side.

Each detection matched to a ground-truth line (IoU >= 0.5, one to one, best first) gives, for each
side, how far it lies inside the annotated box, in units of the detection's height (positive: the
detected side is outside, so moving it inward by that share would meet the annotation). The
medians over all matches are the ``box_adjust`` the detector's ``model.json`` can carry; they are
measured on the `train` split by default, so that `val` stays for the evaluation. The detector is
measured without any ``box_adjust`` it already has. Run from the repository root:

    .venv/bin/python -m bench.box_bias --threads 2 --split train [--detector NAME] [--write]
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from PIL import Image

from bench.common import base_parser, load_pages, markdown_table, output_stem, report, split_list, write_results
from handocr.datasets.collection import recognition_lines
from handocr.detection.boxes import BOX_SIDES
from handocr.evaluation.order_metrics import one_to_one_matches
from handocr.models import DEFAULT_DETECTOR, find_model, load_detector


def side_offsets(predicted: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``(n, 4)``: for matched boxes, how far each predicted side lies outside the annotated one
    (left, top, right, bottom), in predicted-box heights."""
    heights = np.maximum(predicted[:, 3] - predicted[:, 1], 1.0)
    return np.stack(
        [
            (gt[:, 0] - predicted[:, 0]) / heights,
            (gt[:, 1] - predicted[:, 1]) / heights,
            (predicted[:, 2] - gt[:, 2]) / heights,
            (predicted[:, 3] - gt[:, 3]) / heights,
        ],
        axis=1,
    )


def measure(detector: Any, pages: list) -> np.ndarray:
    """Side offsets of every matched detection on ``pages`` (content lines only)."""
    rows = []
    for page in pages:
        record = page.record
        rgb = np.asarray(Image.open(record.image_path).convert("RGB"))
        predicted = np.array([d.box for d in detector.detect(rgb)], dtype=np.float64).reshape(-1, 4)
        gt = np.array([line.box for line, _ in recognition_lines(record)], dtype=np.float64).reshape(-1, 4)
        pairs = one_to_one_matches(predicted, gt, 0.5)
        if pairs:
            rows.append(side_offsets(predicted[[i for i, _ in pairs]], gt[[j for _, j in pairs]]))
    return np.concatenate(rows) if rows else np.zeros((0, 4))


def main(argv: list[str] | None = None) -> int:
    """Measure per set and over all sets; print, write JSON and markdown; optionally store in model.json."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.set_defaults(split="train")
    parser.add_argument("--detector", default=DEFAULT_DETECTOR, help="detector model name or folder")
    parser.add_argument("--write", action="store_true", help="store the medians over all sets as box_adjust")
    args = parser.parse_args(argv)
    detector = load_detector(args.detector, threads=args.threads)
    detector.box_adjust = (0.0, 0.0, 0.0, 0.0)
    offsets, rows = {}, []
    for set_name in split_list(args.sets):
        offsets[set_name] = measure(detector, load_pages(args.data, [set_name], args.split, args.pages))
    offsets["all"] = np.concatenate(list(offsets.values()))
    for name, values in offsets.items():
        medians = np.median(values, axis=0) if len(values) else np.zeros(4)
        rows.append([name, len(values), *medians.round(3)])
    markdown = markdown_table(["set", "matched lines", *(f"{s} (median)" for s in BOX_SIDES)], rows, digits=3)
    adjust = dict(zip(BOX_SIDES, (round(float(v), 3) for v in rows[-1][2:]), strict=True))
    markdown = f"### side offsets on {args.split}, in detected-box heights (positive: outside)\n\n{markdown}\n"
    payload = {"detector": detector.info.model_dump(), "split": args.split, "box_adjust": adjust}
    files = write_results(output_stem(args.out, "box_bias", args.tag), payload, markdown)
    report(markdown, files)
    if args.write:
        settings_path = find_model(args.detector).folder / "model.json"
        settings = json.loads(settings_path.read_text())
        settings["box_adjust"] = adjust
        settings_path.write_text(json.dumps(settings, indent=2) + "\n")
        print(f"wrote box_adjust {adjust} to {settings_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
