"""The language guess of a page (greedy readings of its lines, words looked up in each lexicon),
this checkout against another, side by side.

    git worktree add runs/base HEAD                       # the code before a change
    .venv/bin/python -m bench.page_language --recognizer line-recognizer-lite \
        --baseline-src runs/base/src --tag NAME

Before it decodes a page, a recognizer with languages of its own reads the page's lines greedily
and counts the words only one language's lexicon knows (``CtcOnnxRecognizer.page_language``); this
is the step timed, per page and for all its lines: ``greedy_decode`` of each line, then
``guess_language`` over the texts. The baseline's ``ctc``, ``lexicon`` and ``language`` modules are
loaded from ``--baseline-src`` (the ``src`` folder of another checkout) beside this checkout's, with
their own lexicons read from the recognizer's files. The recognizer reads every scored line of the
``val`` pages once (ground-truth boxes), then both versions run on each page in turn, the order
alternating page by page. Reported: ms a line (a page's time over its lines: median, p95, mean),
the total, the ratios, and the pages whose guessed language or greedy readings differ (0 expected).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from bench.common import (
    machine_description,
    markdown_table,
    output_stem,
    report,
    safe_ratio,
    summarize,
    write_results,
)
from bench.decoder import page_posteriors, recognizer_and_pages

MODULES = ("ctc", "lexicon", "language")  # the baseline's, loaded in this order


def load_baseline(src: Path) -> dict[str, ModuleType]:
    """The ``handocr.recognition`` modules of :data:`MODULES` from another checkout's ``src``, as
    modules of their own (their imports of other handocr modules read this checkout's)."""
    modules = {}
    for name in MODULES:
        path = src / "handocr" / "recognition" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(f"baseline_{name}", path)
        if spec is None or spec.loader is None or not path.is_file():
            raise SystemExit(f"--baseline-src {src}: no {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up
        spec.loader.exec_module(module)
        modules[name] = module
    return modules


def language_lexicon_files(recognizer_name: str) -> dict[str, Path]:
    """Each language's lexicon file of a recognizer (``languages`` in its ``model.json``)."""
    from handocr.models import decoder_settings, find_model

    languages = decoder_settings(find_model(recognizer_name)).get("languages") or {}
    return {code: Path(entry["lexicon"]) for code, entry in languages.items() if entry.get("lexicon")}


def guess(
    ctc: Any, language: Any, lexicons: dict[str, Any], log_probs: list[np.ndarray], characters: str
) -> tuple[list[Any], str | None]:
    """One version's language step for a page: its greedy readings and its guess."""
    readings = [ctc.greedy_decode(scores, characters) for scores in log_probs]
    return readings, language.guess_language([reading.text for reading in readings], lexicons)


def readings_key(readings: list[Any]) -> list[tuple]:
    """What must agree between two versions' greedy readings: texts, spans and confidences."""
    return [(r.text, r.spans, r.char_confidences) for r in readings]


def baseline_argument(parser: argparse.ArgumentParser) -> None:
    """``--baseline-src``, the checkout compared with."""
    parser.add_argument(
        "--baseline-src", type=Path, required=True, help="the src folder of the checkout to compare with"
    )


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write ``bench/results/page_language[-TAG].{json,md}``."""
    import handocr.recognition.ctc as ctc
    import handocr.recognition.language as language
    from handocr.recognition.lexicon import Lexicon

    args, recognizer, pages = recognizer_and_pages(__doc__.splitlines()[0], argv, add_arguments=baseline_argument)
    src = args.baseline_src
    base = load_baseline(src)  # before reading any line: a wrong folder fails at once
    files = language_lexicon_files(args.recognizer)
    if not files:
        raise SystemExit(f"{args.recognizer} has no language lexicons: it guesses no language")
    versions = {
        "this": (ctc, language, {code: Lexicon.load(path) for code, path in files.items()}),
        "baseline": (
            base["ctc"],
            base["language"],
            {code: base["lexicon"].Lexicon.load(p) for code, p in files.items()},
        ),
    }
    characters = recognizer.charset.characters
    times: dict[str, list[float]] = {name: [] for name in versions}
    rows: list[dict[str, Any]] = []
    differing = 0
    for k, (page, log_probs, _decoder) in enumerate(page_posteriors(recognizer, pages)):
        results, page_ms = {}, {}
        for name in versions if k % 2 == 0 else reversed(list(versions)):
            start = time.perf_counter()
            results[name] = guess(*versions[name], log_probs, characters)
            page_ms[name] = (time.perf_counter() - start) * 1000
            times[name].append(page_ms[name] / len(log_probs))
        (mine, my_guess), (theirs, their_guess) = results["this"], results["baseline"]
        same = my_guess == their_guess and readings_key(mine) == readings_key(theirs)
        differing += not same
        rows.append({"page": page.name, "lines": len(log_probs), "language": my_guess, "same": same, "ms": page_ms})
    summary = {name: summarize(values) for name, values in times.items()}
    totals = {name: float(sum(row["ms"][name] for row in rows)) for name in versions}
    lines = sum(row["lines"] for row in rows)
    ratio_median = safe_ratio(summary["this"]["median"], summary["baseline"]["median"])
    ratio_total = safe_ratio(totals["this"], totals["baseline"])
    table = markdown_table(
        ["version", "ms a line, median", "p95", "mean", "total ms", "this / baseline (median)", "(total)"],
        [
            [
                "this checkout",
                *(summary["this"][s] for s in ("median", "p95", "mean")),
                totals["this"],
                ratio_median,
                ratio_total,
            ],
            ["baseline", *(summary["baseline"][s] for s in ("median", "p95", "mean")), totals["baseline"], 1.0, 1.0],
        ],
        digits=3,
    )
    markdown = (
        f"## Language guess of a page, ms a line, {args.recognizer} ({lines} `{args.split}` lines of "
        f"{len(rows)} pages)\n\n{table}\n\nPages whose guess or greedy readings differ: {differing} of {len(rows)}.\n"
    )
    payload = {
        "machine": machine_description(),
        "config": {
            "recognizer": args.recognizer,
            "sets": args.sets,
            "split": args.split,
            "pages": args.pages,
            "baseline_src": str(src),
        },
        "summary": {
            "ms_per_line": summary,
            "total_ms": totals,
            "ratio_median": ratio_median,
            "ratio_total": ratio_total,
            "lines": lines,
            "differing_pages": differing,
        },
        "pages": rows,
    }
    written = write_results(output_stem(args.out, "page_language", args.tag), payload, markdown)
    report(markdown, written)


if __name__ == "__main__":
    main()
