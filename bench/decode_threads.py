"""Decoding a page's lines: the lexicon in C and the lines on several threads, against before.

    .venv/bin/python -m bench.decode_threads --threads 2                       # the default recognizer
    .venv/bin/python -m bench.decode_threads --threads 2 --recognizer line-recognizer-fast --tag fast

The recognizer reads every scored line of the ``val`` pages once (ground-truth boxes, cut as the
reader cuts them) with the decoder the reader would pick for the page (see ``bench/decoder.py``).
Then each page's lines are decoded three ways, in turn, the order rotating from page to page so
that slow drifts of the machine hit all alike:

- ``callbacks``: one line after another, the C search asking Python whether the lexicon knows each
  word (as before the lexicon's tables were read in C);
- ``tables``: one line after another, the lexicon looked up in C (the search runs without the GIL);
- ``threads``: as the reader decodes: the lines on the recognizer's ``--threads`` threads at once.

The table gives ms a page (median, p95, total), the ratios of the medians to ``callbacks`` and how
many lines read differently from ``callbacks`` (0 expected: the same search, the same lookups).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench.common import machine_description, markdown_table, output_stem, report, safe_ratio, summarize, write_results
from bench.decoder import page_posteriors, recognizer_and_pages

WAYS = ("callbacks", "tables", "threads")


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write ``bench/results/decode_threads[-TAG].{json,md}``."""
    from handocr.recognition.lexicon import Lexicon

    args, recognizer, pages = recognizer_and_pages(__doc__.splitlines()[0], argv)
    tables_of = Lexicon.native_tables

    def decode(way: str, decoder: Any, log_probs: list[np.ndarray]) -> list[str]:
        if way == "threads":
            return [line.text for line in recognizer._decode_lines(decoder, log_probs)]
        if way == "callbacks":
            Lexicon.native_tables = lambda self, characters: None  # the search calls Lexicon.knows
        try:
            return [decoder(scores).text for scores in log_probs]
        finally:
            Lexicon.native_tables = tables_of

    times: dict[str, list[float]] = {way: [] for way in WAYS}
    rows: list[dict[str, Any]] = []
    differing = {way: 0 for way in WAYS}
    for k, (page, log_probs, decoder) in enumerate(page_posteriors(recognizer, pages)):
        texts: dict[str, list[str]] = {}
        page_ms: dict[str, float] = {}
        for way in WAYS[k % 3 :] + WAYS[: k % 3]:
            start = time.perf_counter()
            texts[way] = decode(way, decoder, log_probs)
            page_ms[way] = (time.perf_counter() - start) * 1000
            times[way].append(page_ms[way])
        for way in WAYS:
            differing[way] += sum(a != b for a, b in zip(texts[way], texts["callbacks"], strict=True))
        rows.append({"page": page.name, "lines": len(log_probs), "ms": page_ms})
    summary = {way: summarize(values) for way, values in times.items()}
    totals = {way: float(np.sum(values)) for way, values in times.items()}
    ratios = {way: safe_ratio(summary[way]["median"], summary["callbacks"]["median"]) for way in WAYS}
    lines = sum(row["lines"] for row in rows)
    table = markdown_table(
        ["decoding", "ms a page, median", "p95", "total s", "/ callbacks (median)", "lines read differently"],
        [
            [way, summary[way]["median"], summary[way]["p95"], totals[way] / 1000, ratios[way], differing[way]]
            for way in WAYS
        ],
        digits=3,
    )
    markdown = (
        f"## Decoding a page, {args.recognizer}, {recognizer.threads} threads "
        f"({len(rows)} `{args.split}` pages, {lines} lines)\n\n{table}\n"
    )
    payload = {
        "machine": machine_description(),
        "config": {
            "recognizer": args.recognizer,
            "threads": recognizer.threads,
            "sets": args.sets,
            "split": args.split,
            "pages": args.pages,
        },
        "summary": {
            "ms_per_page": summary,
            "total_ms": totals,
            "ratio_median": ratios,
            "lines": lines,
            "differing_lines": differing,
        },
        "pages": rows,
    }
    files = write_results(output_stem(args.out, "decode_threads", args.tag), payload, markdown)
    report(markdown, files)


if __name__ == "__main__":
    main()
