"""Line preprocessing time (crop to network input), the recognizer's against the one before, side by side.

    .venv/bin/python -m bench.preprocess --threads 2 --tag histogram

Before every line reaches the network it is trimmed, resized to the network's height and mapped
from grey levels to ink (``CtcOnnxRecognizer.line_input``: ``normalise_line``). Two ways are timed
on the same crops, page by page, in alternating order, so slow drifts of the machine hit both alike:

- ``before``: the contrast range from ``np.percentile`` over the resized line in float32, and the
  whole line mapped in float arithmetic (:func:`reference_line_input`, kept here as the baseline);
- ``now``: the recognizer's own ``line_input`` (the range from a 256-level histogram, the line
  mapped through a 256-entry table).

Both run on the calling thread, as the recognizer runs them. (Spreading the crops over the
recognizer's decoding threads was tried: on 2 cores it gained 0.1 ms a line on a quiet machine and
lost 0.2–0.35 ms with other work running, so it is not done.)

The crops are the scored lines of each page, cut as the reader cuts them from ground-truth boxes.
The table gives ms a line (each page's time over its lines: median and p95 over pages, and the
total over all lines), the ratio to ``before``, and how many lines' inputs differ from
``before``'s in any bit (0 expected: the new way computes the same values).
"""

from __future__ import annotations

import time
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
    safe_ratio,
    split_list,
    summarize,
    write_results,
)

WAYS = ("before", "now")


def reference_normalise_line(gray: np.ndarray, height: int, width_scale: float) -> np.ndarray:
    """``normalise_line`` as it was before its histogram and table (the baseline), as float32."""
    from handocr.recognition.preprocess import INK_PERCENTILES, MAX_WIDTH, MIN_WIDTH

    h, w = gray.shape
    new_w = min(MAX_WIDTH, max(MIN_WIDTH, round(w * height / h * width_scale)))
    resized = np.asarray(Image.fromarray(gray).resize((new_w, height), Image.BILINEAR), dtype=np.float32)
    ink = 255.0 - resized
    lo, hi = np.percentile(ink, INK_PERCENTILES)
    if hi - lo < 1e-3:
        return np.zeros_like(ink)
    return np.clip((ink - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)  # float64 before; batches are float32


def reference_line_input(recognizer: Any, crop: np.ndarray) -> np.ndarray:
    """The recognizer's network input for ``crop`` the way it was made before (the baseline)."""
    from handocr.recognition.preprocess import trim_rows

    return reference_normalise_line(trim_rows(crop, recognizer.crop_trim), recognizer.height, recognizer.width_scale)


def time_recognizer(recognizer: Any, pages: list) -> dict[str, Any]:
    """Each way's ms a line on every page (see the module's docstring) and the lines that differ."""
    from handocr.pipeline import ReadOptions, ground_truth_line_crops

    ways = {
        "before": lambda crops: [reference_line_input(recognizer, c) for c in crops],
        "now": lambda crops: [recognizer.line_input(c) for c in crops],
    }
    per_page: dict[str, list[float]] = {way: [] for way in WAYS}
    totals = dict.fromkeys(WAYS, 0.0)
    lines = differing = 0
    for k, page in enumerate(pages):
        crops = [crop for _, crop in ground_truth_line_crops(page.record, ReadOptions.crop_margin)]
        if not crops:
            continue
        outputs = {}
        order = WAYS if k % 2 == 0 else WAYS[::-1]
        for way in order:
            start = time.perf_counter()
            outputs[way] = ways[way](crops)
            seconds = time.perf_counter() - start
            per_page[way].append(1000 * seconds / len(crops))
            totals[way] += seconds
        lines += len(crops)
        differing += sum(
            not np.array_equal(a, b) or b.dtype != np.float32
            for a, b in zip(outputs["before"], outputs["now"], strict=True)
        )
    return {
        "lines": lines,
        "pages": len(per_page["before"]),
        "per_page": per_page,
        "totals": totals,
        "differing": differing,
    }


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write ``bench/results/preprocess[-TAG].{json,md}``."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument(
        "--recognizers", default="line-recognizer,line-recognizer-fast", help="comma-separated model names or folders"
    )
    args = parser.parse_args(argv)
    from handocr.models import load_recognizer

    pages = load_pages(args.data, split_list(args.sets), args.split, args.pages)
    rows, results = [], {}
    for name in split_list(args.recognizers):
        recognizer = load_recognizer(name, threads=args.threads, runtime="onnxruntime")  # no network is run
        result = time_recognizer(recognizer, pages)
        results[name] = {**result, "summary": {way: summarize(result["per_page"][way]) for way in WAYS}}
        before_total = result["totals"]["before"]
        for way in WAYS:
            stats = results[name]["summary"][way]
            rows.append(
                [
                    name,
                    way,
                    stats["median"],
                    stats["p95"],
                    1000 * result["totals"][way] / max(1, result["lines"]),
                    safe_ratio(stats["median"], results[name]["summary"]["before"]["median"]),
                    safe_ratio(result["totals"][way], before_total),
                    "" if way == "before" else f"{result['differing']} of {result['lines']}",
                ]
            )
    headers = [
        "recognizer",
        "way",
        "ms a line, median over pages",
        "p95",
        "ms a line, all lines",
        "/ before (median)",
        "/ before (total)",
        "inputs that differ",
    ]
    markdown = (
        f"# Line preprocessing: ms a line ({args.threads or 'all'} threads, {len(pages)} pages of "
        f"{args.sets} {args.split})\n\n" + markdown_table(headers, rows, digits=3)
    )
    payload = {"benchmark": "preprocess", "machine": machine_description(), "config": vars(args), "results": results}
    stem = output_stem(args.out, "preprocess", args.tag)
    report(markdown, write_results(stem, payload, markdown))


if __name__ == "__main__":
    main()
