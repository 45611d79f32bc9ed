"""Decoding time per line: the C beam search against the pure-Python one, side by side.

    .venv/bin/python -m bench.decoder --threads 2                       # the default recognizer
    .venv/bin/python -m bench.decoder --recognizer line-recognizer-fast --tag fast

With ``--baseline FILE`` the C search is timed against another build of it instead (a copy of
``src/handocr/recognition/_ctcbeam*.so`` made before a change to ``_ctcbeam.c``):

    cp src/handocr/recognition/_ctcbeam*.so runs/_ctcbeam_base.so   # then edit, pip install -e .
    .venv/bin/python -m bench.decoder --baseline runs/_ctcbeam_base.so --tag c-change

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
import contextlib
import dataclasses
import importlib.machinery
import importlib.util
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
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

NATIVE_MODULE = "handocr.recognition._ctcbeam"


def recognizer_and_pages(
    description: str,
    argv: list[str] | None,
    baseline_option: bool = False,
    add_arguments: Callable[[argparse.ArgumentParser], None] | None = None,
) -> tuple[argparse.Namespace, Any, list]:
    """The decoding benchmarks' arguments (the shared ones, ``--recognizer``, with
    ``baseline_option`` ``--baseline``, and those ``add_arguments`` adds), the recognizer (loaded
    with ``--threads``) and the pages; exits with a message when the C search is not built."""
    parser = base_parser(description)
    parser.add_argument("--recognizer", default="line-recognizer", help="model folder or name")
    if add_arguments is not None:
        add_arguments(parser)
    if baseline_option:
        parser.add_argument(
            "--baseline",
            type=Path,
            help="another build of the C search (a _ctcbeam shared library) to time in place of the Python one",
        )
    args = parser.parse_args(argv)
    if getattr(args, "baseline", None) is not None and not args.baseline.is_file():
        parser.error(f"--baseline {args.baseline}: no such file")

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


LM_TABLES_OF_INTERFACE_2 = 9  # the LM tables before the hash indexes (interface 3) were added


class Interface2Search:
    """A build of interface 2 (before the LM's hash indexes) behind the calls of this checkout: its
    search gets the LM tables without the indexes, which it does not read; nothing else differs."""

    ABI_VERSION = 3

    def __init__(self, module: ModuleType) -> None:
        self.module = module

    def search(self, log_probs: Any, log_threshold: float, max_candidates: int, beam_width: int, *rest: Any) -> Any:
        """``module.search`` with the LM tables (the third of ``rest``) cut to interface 2's."""
        beam_threshold, lm, *others = rest
        tables = lm[:LM_TABLES_OF_INTERFACE_2] if lm is not None else None
        return self.module.search(log_probs, log_threshold, max_candidates, beam_width, beam_threshold, tables, *others)

    def align(self, *args: Any) -> Any:
        """``module.align`` (unchanged between the two interfaces)."""
        return self.module.align(*args)


def load_native_build(path: Path) -> Any:
    """Another build of the C search (a ``_ctcbeam`` shared library), as a module of its own beside
    the installed one (a build of interface 2 behind :class:`Interface2Search`)."""
    from handocr.recognition.beam import NATIVE_ABI_VERSION

    loader = importlib.machinery.ExtensionFileLoader(NATIVE_MODULE, str(path))
    spec = importlib.util.spec_from_file_location(NATIVE_MODULE, path, loader=loader)
    if spec is None:
        raise ImportError(f"{path}: not a loadable extension module")
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    version = getattr(module, "ABI_VERSION", None)
    if version == 2 and NATIVE_ABI_VERSION == Interface2Search.ABI_VERSION:
        return Interface2Search(module)
    if version != NATIVE_ABI_VERSION:
        raise ImportError(f"{path}: interface version {version}, which this checkout cannot call")
    return module


@contextlib.contextmanager
def native_search(module: Any) -> Iterator[None]:
    """The beam decoder's C search is ``module`` within the block."""
    from handocr.recognition import beam

    installed = beam._ctcbeam
    beam._ctcbeam = module
    try:
        yield
    finally:
        beam._ctcbeam = installed


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and write ``bench/results/decoder[-TAG].{json,md}``."""
    args, recognizer, pages = recognizer_and_pages(__doc__.splitlines()[0], argv, baseline_option=True)
    try:
        baseline = load_native_build(args.baseline) if args.baseline is not None else None
    except ImportError as exc:
        raise SystemExit(f"--baseline: {exc}") from None
    other, other_label = ("baseline", "baseline C") if baseline is not None else ("python", "Python")
    searches = ("c", other)
    times: dict[str, list[float]] = {name: [] for name in searches}
    rows: list[dict[str, Any]] = []
    differing = 0
    for page, log_probs, decoder in page_posteriors(recognizer, pages):
        decoders = {
            "c": dataclasses.replace(decoder, native=True),
            other: dataclasses.replace(decoder, native=baseline is not None),  # the baseline: C, swapped in
        }
        for i, scores in enumerate(log_probs):
            texts: dict[str, str] = {}
            line_ms: dict[str, float] = {}
            for name in searches if i % 2 == 0 else reversed(searches):
                with native_search(baseline) if name == "baseline" else contextlib.nullcontext():
                    start = time.perf_counter()
                    texts[name] = decoders[name](scores).text
                    line_ms[name] = (time.perf_counter() - start) * 1000
                times[name].append(line_ms[name])
            same = texts["c"] == texts[other]
            differing += not same
            rows.append({"page": page.name, "line": i, "frames": int(scores.shape[0]), "same": same, "ms": line_ms})
    summary = {name: summarize(values) for name, values in times.items()}
    totals = {name: float(np.sum(values)) for name, values in times.items()}
    median_ratio = safe_ratio(summary["c"]["median"], summary[other]["median"])
    total_ratio = safe_ratio(totals["c"], totals[other])
    table = markdown_table(
        [
            "search",
            "ms a line, median",
            "p95",
            "mean",
            "total s",
            f"C / {other_label} (median)",
            f"C / {other_label} (total)",
        ],
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
                other_label,
                summary[other]["median"],
                summary[other]["p95"],
                summary[other]["mean"],
                totals[other] / 1000,
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
        "config": {
            "recognizer": args.recognizer,
            "sets": args.sets,
            "split": args.split,
            "pages": args.pages,
            "against": str(args.baseline) if baseline is not None else "python",
        },
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
