"""Line CER and time of a recognizer at several crop trims, width scales and least line heights, on
detected and on annotated line boxes.

    python scripts/crop_trim_eval.py --data ../shared/data/real/copiste --data ../shared/data/real/hooker \
        --split val --half a --trims 0,0.07,0.11,0.13,0.15,0.19 --width-scales 1,0.8 --threads 2

The recognizer's ``crop_trim`` (in its ``model.json``) leaves that share of each crop's height out
at the top and at the bottom before reading; its ``width_scale`` squeezes the line to that share of
its width (fewer CTC frames); the reader's ``min_line_height`` grows boxes lower than that share of
the page's median box height (see :func:`handocr.detection.boxes.grow_thin_boxes`). Per page, the
detector runs once; each detection matched one to one to an annotated content line (IoU >= 0.5) is
read at every setting, and so is every annotated line on its own box, both cut with the reader's
crop margin (the median height is taken over all the page's detections, or all its annotated
content lines). ``--half a`` keeps the even pages of the split, ``--half b`` the odd ones: choose on
one half, report on the other. The recognizer's own ``crop_trim`` and ``width_scale`` are ignored
(each setting replaces them). The settings take turns on every page, so their recognition times (ms
a line, on the detected lines) share the machine's noise; compare them as ratios.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from handocr.datasets.collection import recognition_lines
from handocr.datasets.detect import open_dataset
from handocr.evaluation.order_metrics import one_to_one_matches
from handocr.evaluation.text_metrics import ErrorRate
from handocr.pipeline import Reader, ReadOptions, cut_line_crops


def evaluate_set(
    reader: Reader,
    folder: Path,
    split: str,
    half: str | None,
    trims: Sequence[float],
    width_scales: Sequence[float] = (1.0,),
    limit: int = 0,
    min_line_heights: Sequence[float] = (0.0,),
) -> list[dict]:
    """One row per (trim, width scale, least line height) for one dataset folder: its ``trim``,
    ``width_scale``, ``min_line_height``, ``detected`` and ``annotated`` CER, ``ms_per_line``
    (detected lines) and the counts."""
    recognizer, margin = reader.recognizer, reader.options.crop_margin
    settings = list(itertools.product(trims, width_scales, min_line_heights))
    detected = {s: ErrorRate() for s in settings}
    annotated = {s: ErrorRate() for s in settings}
    seconds = dict.fromkeys(settings, 0.0)
    pages = matched = 0
    for k, page in enumerate(open_dataset(folder, prefer="pages").pages(split)):
        if half is not None and (k % 2 == 0) != (half == "a"):
            continue
        if limit and pages >= limit:
            break
        lines = recognition_lines(page)
        if not lines:
            continue
        pages += 1
        image = Image.open(page.image_path).convert("RGB")
        rgb, gray = np.asarray(image), np.asarray(image.convert("L"))
        boxes = np.array([d.box for d in reader.detector.detect(rgb)], dtype=np.float64).reshape(-1, 4)
        gt = np.array([line.box for line, _ in lines], dtype=np.float64).reshape(-1, 4)
        pairs = one_to_one_matches(boxes, gt, 0.5)
        matched += len(pairs)
        crops = {
            least: (cut_line_crops(gray, boxes, margin, least), cut_line_crops(gray, gt, margin, least))
            for least in min_line_heights
        }
        for setting in settings:
            recognizer.crop_trim, recognizer.width_scale, least = setting
            all_detected_crops, annotated_crops = crops[least]
            detected_crops = [all_detected_crops[i] for i, _ in pairs]
            start = time.perf_counter()
            reads = recognizer.recognize(detected_crops)
            seconds[setting] += time.perf_counter() - start
            for (_, j), read in zip(pairs, reads, strict=True):
                detected[setting].add(lines[j][1], read.text)
            for (_, target), read in zip(lines, recognizer.recognize(annotated_crops), strict=True):
                annotated[setting].add(target, read.text)
    counts = {"pages": pages, "matched_lines": matched}
    return [
        {
            "trim": trim,
            "width_scale": scale,
            "min_line_height": least,
            "detected": detected[trim, scale, least].value,
            "annotated": annotated[trim, scale, least].value,
            "ms_per_line": 1000 * seconds[trim, scale, least] / max(1, matched),
            **counts,
        }
        for trim, scale, least in settings
    ]


def main(argv: list[str] | None = None) -> int:
    """Print a table per set; write JSON with ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, action="append", required=True, help="dataset folder (repeatable)")
    parser.add_argument("--split", default="val")
    parser.add_argument("--half", choices=("a", "b"), help="even (a) or odd (b) pages only")
    parser.add_argument("--trims", default="0,0.13", help="comma-separated crop trims")
    parser.add_argument("--width-scales", default="1", help="comma-separated width scales")
    parser.add_argument(
        "--min-line-heights",
        default=str(ReadOptions.min_line_height),
        help="comma-separated least line heights (shares of the median height; default: the reader's)",
    )
    parser.add_argument("--recognizer", default="line-recognizer")
    parser.add_argument("--detector", default="line-detector")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--pages", type=int, default=0, help="at most this many pages per set (0: all)")
    parser.add_argument("--out", type=Path, help="write the results JSON here")
    args = parser.parse_args(argv)
    trims = [float(t) for t in args.trims.split(",")]
    width_scales = [float(s) for s in args.width_scales.split(",")]
    min_line_heights = [float(s) for s in args.min_line_heights.split(",")]
    reader = Reader.load(args.detector, args.recognizer, threads=args.threads, options=ReadOptions())
    if not hasattr(reader.recognizer, "crop_trim"):
        parser.error(f"{args.recognizer}: only CTC recognizers have a crop trim and a width scale")
    results = {}
    for folder in args.data:
        rows = evaluate_set(reader, folder, args.split, args.half, trims, width_scales, args.pages, min_line_heights)
        results[folder.name] = rows
        print(f"{folder.name} {args.split} {'half ' + args.half if args.half else ''}")
        print(
            "| trim | width scale | least line height | CER on detected boxes (matched lines) "
            "| CER on annotated boxes | ms/line |"
        )
        print("|---|---|---|---|---|---|")
        for row in rows:
            print(
                f"| {row['trim']} | {row['width_scale']} | {row['min_line_height']} | {100 * row['detected']:.2f}% "
                f"| {100 * row['annotated']:.2f}% | {row['ms_per_line']:.1f} |"
            )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        settings = {**vars(args), "data": [str(d) for d in args.data], "out": str(args.out)}
        args.out.write_text(json.dumps({"settings": settings, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
