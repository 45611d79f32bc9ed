"""Decoding time per line: the C beam search against the pure-Python one, side by side.

    .venv/bin/python -m bench.decoder --threads 2                       # the default recognizer
    .venv/bin/python -m bench.decoder --recognizer line-recognizer-fast --tag fast

The recognizer reads every scored line of the ``val`` pages once (ground-truth boxes, cut as the
reader cuts them); each page's decoder is the one the reader would pick (the page's language, see
``CtcOnnxRecognizer.page_decoder``). Then both searches decode every line of the page, in turn and
in alternating order (C first on even lines, Python first on odd ones), so slow drifts of the
machine hit both alike. A decode is the whole decoder call (search, alignment, confidences). The
table gives ms a line (median, p95, mean), the ratio of the medians and of the totals, and how many
lines got a different text (0 expected: both run the same search).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

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

SEARCHES = ("c", "python")


def recognizer_and_pages(description: str, argv: list[str] | None) -> tuple[argparse.Namespace, Any, list]:
    """The decoding benchmarks' arguments (the shared ones and ``--recognizer``), the recognizer
    (loaded with ``--threads``) and the pages; exits with a message when the C search is not built."""
    parser = base_parser(description)
    parser.add_argument("--recognizer", default="line-recognizer", help="model folder or name")
    args = parser.parse_args(argv)

    from handocr.models import load_recognizer
    from handocr.recognition.beam import native_available

    if not native_available():
        parser.error("the C beam search is not built (pip install -e . with a C compiler)")
    recognizer = load_recognizer(args.recognizer, threads=args.threads)
    return args, recognizer, load_pages(args.data, split_list(args.sets), args.split, args.pages)


def page_posteriors(recognizer: Any, pages: list) -> Iterator[tuple[Any, list[np.ndarray], Any]]:
    """For each page with scored lines: the page, its lines' log-probabilities (ground-truth boxes,
    cut as the reader cuts them) and the decoder the reader would pick for it (its language)."""
    from handocr.evaluation.calibration_eval import collect_samples

    for page in pages:
        log_probs = [sample.log_probs for sample in collect_samples(recognizer, pages=[page.record])]
        if log_probs:
            yield page, log_probs, recognizer.page_decoder(log_probs)


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write ``bench/results/decoder[-TAG].{json,md}``."""
    args, recognizer, pages = recognizer_and_pages(__doc__.splitlines()[0], argv)
    times: dict[str, list[float]] = {name: [] for name in SEARCHES}
    rows: list[dict[str, Any]] = []
    differing = 0
    for page, log_probs, decoder in page_posteriors(recognizer, pages):
        decoders = {
            "c": dataclasses.replace(decoder, native=True),
            "python": dataclasses.replace(decoder, native=False),
        }
        for i, scores in enumerate(log_probs):
            texts: dict[str, str] = {}
            line_ms: dict[str, float] = {}
            for name in SEARCHES if i % 2 == 0 else reversed(SEARCHES):
                start = time.perf_counter()
                texts[name] = decoders[name](scores).text
                line_ms[name] = (time.perf_counter() - start) * 1000
                times[name].append(line_ms[name])
            same = texts["c"] == texts["python"]
            differing += not same
            rows.append({"page": page.name, "line": i, "frames": int(scores.shape[0]), "same": same, "ms": line_ms})
    summary = {name: summarize(values) for name, values in times.items()}
    totals = {name: float(np.sum(values)) for name, values in times.items()}
    median_ratio = safe_ratio(summary["c"]["median"], summary["python"]["median"])
    total_ratio = safe_ratio(totals["c"], totals["python"])
    table = markdown_table(
        ["search", "ms a line, median", "p95", "mean", "total s", "C / Python (median)", "C / Python (total)"],
        [
            [
                "C",
                summary["c"]["median"],
                summary["c"]["p95"],
                summary["c"]["mean"],
                totals["c"] / 1000,
                median_ratio,
                total_ratio,
            ],
            [
                "Python",
                summary["python"]["median"],
                summary["python"]["p95"],
                summary["python"]["mean"],
                totals["python"] / 1000,
                1.0,
                1.0,
            ],
        ],
        digits=3,
    )
    markdown = (
        f"## Decoding time per line, {args.recognizer} ({len(rows)} `{args.split}` lines of {len(pages)} pages)\n\n"
        f"{table}\n\nLines whose text differs between the two: {differing} of {len(rows)}.\n"
    )
    payload = {
        "machine": machine_description(),
        "config": {"recognizer": args.recognizer, "sets": args.sets, "split": args.split, "pages": args.pages},
        "summary": {
            "ms_per_line": summary,
            "total_ms": totals,
            "ratio_median": median_ratio,
            "ratio_total": total_ratio,
            "lines": len(rows),
            "differing_texts": differing,
        },
        "lines": rows,
    }
    files = write_results(output_stem(args.out, "decoder", args.tag), payload, markdown)
    report(markdown, files)


if __name__ == "__main__":
    main()
