"""In-process latency of handocr per page: each stage's median and p95, lines per page, CPU time.

Run from the repository root:  .venv/bin/python -m bench.latency --threads 2
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from bench.common import (
    BenchPage,
    base_parser,
    cores_available,
    load_pages,
    machine_description,
    markdown_table,
    output_stem,
    pyplot,
    reader_runtimes,
    report,
    save_figure,
    split_list,
    summarize,
    write_results,
)

STAGES = ("decode", "detect", "orient", "recognize", "layout", "total")


class CallProbe:
    """Wraps a model object's method on one instance to record each call's wall ms and item count.

    Installed on the reader's detector and recognizer by this benchmark only (nothing in
    ``src/`` changes). It shows work hidden inside a stage: extra detector passes and recognizer
    calls made by the orientation check count towards the ``detect`` stage.
    """

    def __init__(self, target: Any, method: str) -> None:
        self.calls: list[tuple[float, int]] = []
        original = getattr(target, method)

        def probed(items: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(items, *args, **kwargs)
            finally:
                size = len(items) if isinstance(items, list) else 1
                self.calls.append(((time.perf_counter() - start) * 1000, size))

        setattr(target, method, probed)

    def take(self) -> list[tuple[float, int]]:
        """The calls recorded since the last ``take``."""
        calls, self.calls = self.calls, []
        return calls


def probe_fields(detector_calls: list[tuple[float, int]], recognizer_calls: list[tuple[float, int]]) -> dict[str, Any]:
    """Per-page model-call counts and the time spent outside the main detector and recognizer calls.

    The first detector call is the page's detection and the last recognizer call its recognition;
    the others (extra orientation passes, the 180-degree confidence check) are ``orientation_ms``.
    """
    extra_det = sum(ms for ms, _ in detector_calls[1:])
    extra_rec = sum(ms for ms, _ in recognizer_calls[:-1])
    return {
        "detector_calls": len(detector_calls),
        "detector_ms": round(sum(ms for ms, _ in detector_calls), 2),
        "recognizer_calls": len(recognizer_calls),
        "recognizer_crops": sum(n for _, n in recognizer_calls),
        "orientation_ms": round(extra_det + extra_rec, 2),
    }


def measure_page(reader: Any, page: BenchPage, probes: tuple[CallProbe, CallProbe]) -> dict[str, Any]:
    """Read one page file; its stage timings (ms), wall and CPU time, lines found, model calls."""
    for probe in probes:
        probe.take()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    document = reader.read(page.image_path)
    wall_ms = (time.perf_counter() - wall0) * 1000
    cpu_s = time.process_time() - cpu0
    result = document.pages[0]
    return {
        "page": page.name,
        "set": page.set_name,
        "width": result.width,
        "height": result.height,
        "lines": len(result.lines),
        "reference_lines": page.reference.count("\n") + 1 if page.reference else 0,
        **{f"{stage}_ms": getattr(result.timings_ms, stage) for stage in STAGES},
        "wall_ms": round(wall_ms, 2),
        "cpu_s": round(cpu_s, 4),
        "rotation": getattr(result, "rotation", 0),
        **probe_fields(probes[0].take(), probes[1].take()),
    }


def summarize_rows(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Per-stage and per-page statistics of measured rows (milliseconds, lines, CPU seconds)."""
    out: dict[str, Any] = {"pages": len(rows)}
    for key in [f"{s}_ms" for s in STAGES] + ["wall_ms", "lines", "cpu_s", "orientation_ms", "detector_calls"]:
        out[key] = summarize(r[key] for r in rows)
    wall_s = sum(r["wall_ms"] for r in rows) / 1000
    out["pages_per_s"] = len(rows) / wall_s if wall_s else float("nan")
    out["cpu_utilisation"] = sum(r["cpu_s"] for r in rows) / wall_s if wall_s else float("nan")
    out["pages_turned"] = sum(1 for r in rows if r["rotation"])
    out["ms_per_line_recognize"] = summarize(r["recognize_ms"] / r["lines"] for r in rows if r["lines"])
    return out


def tables(groups: dict[str, dict[str, Any]]) -> str:
    """The stage table (median / p95 ms) and the per-page table, one row per set and overall."""
    stage_rows = [
        [name] + [f"{g[f'{s}_ms']['median']:.1f} / {g[f'{s}_ms']['p95']:.1f}" for s in STAGES]
        for name, g in groups.items()
    ]
    page_rows = [
        [
            name,
            g["pages"],
            g["lines"]["median"],
            g["ms_per_line_recognize"]["median"],
            g["cpu_s"]["median"],
            g["cpu_utilisation"],
            g["pages_per_s"],
        ]
        for name, g in groups.items()
    ]
    hidden_rows = [
        [
            name,
            g["detector_calls"]["mean"],
            g["orientation_ms"]["median"],
            g["orientation_ms"]["p95"],
            g["orientation_ms"]["mean"] / g["total_ms"]["mean"] if g["total_ms"]["mean"] else float("nan"),
            g["pages_turned"],
        ]
        for name, g in groups.items()
    ]
    return "\n\n".join(
        [
            "Stage latency, ms per page: median / p95\n\n" + markdown_table(["set", *STAGES], stage_rows),
            markdown_table(
                ["set", "pages", "lines/page (median)", "recognize ms/line", "CPU s/page", "CPU/wall", "pages/s"],
                page_rows,
                digits=2,
            ),
            "Work inside the detect stage: the orientation check (extra detector passes when a page does not "
            "look upright, recognizer runs for the 180-degree check)\n\n"
            + markdown_table(
                ["set", "detector runs/page", "orientation ms median", "p95", "share of total", "pages turned"],
                hidden_rows,
                digits=2,
            ),
        ]
    )


def plot(rows: Sequence[dict[str, Any]], stem: Any) -> Any:
    """Box plots of each stage's ms per page, and total ms against lines per page."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    left.boxplot([[r[f"{s}_ms"] for r in rows] for s in STAGES], tick_labels=list(STAGES), showfliers=True)
    left.set_ylabel("ms per page")
    left.set_title("handocr stage latency")
    for set_name in sorted({r["set"] for r in rows}):
        subset = [r for r in rows if r["set"] == set_name]
        right.scatter([r["lines"] for r in subset], [r["total_ms"] for r in subset], label=set_name, s=18)
    right.set_xlabel("lines found on the page")
    right.set_ylabel("total ms")
    right.set_title("total latency vs lines")
    right.legend()
    return save_figure(fig, stem)


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=2, help="pages read (and discarded) before measuring")
    parser.add_argument("--no-auto-rotate", action="store_true", help="ReadOptions(auto_rotate=False)")
    parser.add_argument("--sure-upright", type=float, help="ReadOptions(sure_upright=...) (default: the reader's)")
    parser.add_argument("--repeat", type=int, default=1, help="times each page is measured (default 1)")
    parser.add_argument("--detector", help="detector model name or folder (default: the shipped one)")
    parser.add_argument("--recognizer", help="recognizer model name or folder (default: the shipped one)")
    parser.add_argument("--min-line-height", type=float, help="ReadOptions(min_line_height=...)")
    parser.add_argument("--language", help="ReadOptions(language=...): auto, any or a code of the recognizer's")
    parser.add_argument("--runtime", help="auto, onnxruntime or openvino (default: HANDOCR_RUNTIME, else auto)")
    args = parser.parse_args(argv)
    threads = args.threads or cores_available()

    from handocr.pipeline import Reader, ReadOptions

    machine = machine_description()
    options = ReadOptions(auto_rotate=not args.no_auto_rotate)
    if args.sure_upright is not None:
        options = replace(options, sure_upright=args.sure_upright)
    if args.min_line_height is not None:
        options = replace(options, min_line_height=args.min_line_height)
    if args.language is not None:
        options = replace(options, language=args.language)
    models = {k: v for k, v in (("detector", args.detector), ("recognizer", args.recognizer)) if v}
    load0 = time.perf_counter()
    reader = Reader.load(threads=threads, options=options, runtime=args.runtime, **models)
    load_s = time.perf_counter() - load0
    probes = (CallProbe(reader.detector, "detect"), CallProbe(reader.recognizer, "recognize"))
    pages = load_pages(args.data, split_list(args.sets), args.split, args.pages)
    if not pages:
        parser.error("no pages found")
    for i in range(args.warmup):
        reader.read(pages[i % len(pages)].image_path)

    rows = [measure_page(reader, page, probes) for _ in range(args.repeat) for page in pages]
    groups = {s: summarize_rows([r for r in rows if r["set"] == s]) for s in dict.fromkeys(r["set"] for r in rows)}
    groups["all"] = summarize_rows(rows)

    stem = output_stem(args.out, "latency", args.tag)
    runtimes = reader_runtimes(reader)
    on = ", ".join(f"{name} on {runtime}" for name, runtime in runtimes.items())
    markdown = f"# handocr in-process latency ({threads} threads, models {reader.models.model_dump()}; {on})\n\n"
    markdown += tables(groups)
    payload = {
        "benchmark": "latency",
        "machine": {**machine, "load_average_end": list(os.getloadavg())},
        "config": {
            **vars(args),
            "threads": threads,
            "read_options": vars(options),
            "models": reader.models.model_dump(),
            "runtimes": runtimes,
            "load_s": load_s,
        },
        "summary": groups,
        "pages": rows,
    }
    files = write_results(stem, payload, markdown)
    files.append(plot(rows, stem))
    report(markdown, files)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
