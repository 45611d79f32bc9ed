"""The 180-degree check, measured: how often it runs, what it costs, and whether it is right.

Every page is read upright and turned over (180 degrees). On each, the check's sample lines (the
best-scoring detections, :func:`handocr.orientation.flip_check_lines`) are read as the reader reads
them, then turned over; the mean confidences of both decide, as in
:func:`handocr.orientation.prefers_flipped`, for every ``--sure-upright`` value at once: a page whose
lines read at least that confident is taken as upright without the turned read. For each value the
table gives the share of upright pages that pay for the turned read, its mean cost per page, upright
pages wrongly turned and upside-down pages missed. The sample lines are read as a batch of their own
(in a page they share batches with other lines: padding can move a confidence by a little).

    .venv/bin/python -m bench.orientation --threads 2 --sure-upright 0.85,0.8,0.75,0.7
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PIL import Image

from bench.common import base_parser, load_pages, markdown_table, output_stem, report, split_list, write_results
from handocr.orientation import SURE_UPRIGHT, flip_check_lines, prefers_flipped
from handocr.pipeline import Reader, ReadOptions


def sample_confidences(reader: Reader, rgb: np.ndarray) -> dict[str, float]:
    """The check's inputs on one page image: mean confidence of its sample lines as read and turned
    over, and the milliseconds the turned read took."""
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    detections = reader.detector.detect(rgb)
    picks = flip_check_lines(detections)
    if not picks:
        return {"upright": float("nan"), "turned": float("nan"), "turned_ms": 0.0}
    sample = [detections[i] for i in picks]
    recognized = reader.recognize_boxes(gray, [d.box for d in sample])
    upright, read_turned = reader.flip_check(gray, sample, recognized)
    start = time.perf_counter()
    turned = read_turned()
    return {
        "upright": float(np.mean(upright)),
        "turned": float(np.mean(turned)),
        "turned_ms": 1000 * (time.perf_counter() - start),
    }


def decide(rows: list[dict[str, Any]], sure_upright: float) -> dict[str, float]:
    """The check's outcomes over ``rows`` (one per page and orientation) at one ``sure_upright``."""
    upright = [r for r in rows if r["rotation"] == 0]
    flipped = [r for r in rows if r["rotation"] == 180]

    checked: list[dict[str, Any]] = []  # upright pages whose turned read the check asked for

    def turns(row: dict[str, Any]) -> bool:
        def read_turned() -> list[float]:
            if row["rotation"] == 0:
                checked.append(row)
            return [row["turned"]]

        sample = [] if np.isnan(row["upright"]) else [row["upright"]]  # no lines: no check, as in the reader
        return prefers_flipped(sample, read_turned, sure_upright=sure_upright)

    upright_pages_turned = sum(turns(r) for r in upright)
    return {
        "sure_upright": sure_upright,
        "upright_pages_checked": len(checked) / max(1, len(upright)),
        "check_ms_per_upright_page": sum(r["turned_ms"] for r in checked) / max(1, len(upright)),
        "upright_pages_turned": upright_pages_turned,
        "upside_down_pages_missed": sum(not turns(r) for r in flipped),
        "pages": len(upright),
    }


def main(argv: list[str] | None = None) -> int:
    """Measure every page both ways; print and write the table for each ``--sure-upright``."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--sure-upright", default="0.85,0.8,0.75,0.7", help="comma-separated values to compare")
    parser.add_argument("--recognizer", default="line-recognizer", help="recognizer model name or folder")
    parser.add_argument("--detector", default="line-detector", help="detector model name or folder")
    args = parser.parse_args(argv)
    reader = Reader.load(args.detector, args.recognizer, threads=args.threads, options=ReadOptions())
    rows = []
    for page in load_pages(args.data, split_list(args.sets), args.split, args.pages):
        rgb = np.asarray(Image.open(page.image_path).convert("RGB"))
        for rotation, image in ((0, rgb), (180, np.ascontiguousarray(rgb[::-1, ::-1]))):
            rows.append({"page": page.name, "rotation": rotation, **sample_confidences(reader, image)})
    values = [float(v) for v in split_list(args.sure_upright)]
    outcomes = [decide(rows, v) for v in values]
    table = markdown_table(
        ["sure_upright", "upright pages read turned", "ms/page for it", "upright pages turned", "upside-down missed"],
        [
            [
                f"{o['sure_upright']:.2f}" + (" (default)" if o["sure_upright"] == SURE_UPRIGHT else ""),
                f"{100 * o['upright_pages_checked']:.0f}%",
                o["check_ms_per_upright_page"],
                f"{o['upright_pages_turned']} of {o['pages']}",
                f"{o['upside_down_pages_missed']} of {o['pages']}",
            ]
            for o in outcomes
        ],
    )
    upright = np.array([r["upright"] for r in rows if r["rotation"] == 0])
    upside_down = np.array([r["upright"] for r in rows if r["rotation"] == 180])
    spread = (
        f"Mean sample-line confidence as read: upright pages min {np.nanmin(upright):.3f}, median "
        f"{np.nanmedian(upright):.3f}; upside-down pages median {np.nanmedian(upside_down):.3f}, "
        f"max {np.nanmax(upside_down):.3f}."
    )
    info = reader.recognizer.info
    markdown = f"### the 180-degree check on {args.split} ({info.name} {info.version})\n\n{table}\n\n{spread}\n"
    payload = {"models": reader.models.model_dump(), "split": args.split, "outcomes": outcomes, "pages": rows}
    report(markdown, write_results(output_stem(args.out, "orientation", args.tag), payload, markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
