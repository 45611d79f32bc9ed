"""handocr against Tesseract 5 and RapidOCR on the same pages, in the same run: time and page CER/WER.

Run from the repository root:  .venv/bin/python -m bench.peers --threads 2
Line mode (recognizers alone on ground-truth line crops):  .venv/bin/python -m bench.peers --mode lines
"""

from __future__ import annotations

import io
import math
import os
import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from bench.common import (
    BenchPage,
    base_parser,
    cores_available,
    corpus_rates,
    interleave_by_set,
    load_pages,
    machine_description,
    markdown_table,
    output_stem,
    pyplot,
    report,
    safe_ratio,
    save_figure,
    split_list,
    summarize,
    text_scores,
    turn_order,
    write_results,
)
from bench.peer_engines import HandocrSystem, RapidOcrSystem, TesseractSystem, parse_languages


def masked_page(page: BenchPage, mask: bool) -> Image.Image:
    """The page image (RGB), with its ignore regions (unannotated printed band) painted white if ``mask``."""
    with Image.open(page.image_path) as opened:
        image = opened.convert("RGB")
    if mask and page.record.ignore_regions:
        draw = ImageDraw.Draw(image)
        for x0, y0, x1, y1 in page.record.ignore_regions:
            draw.rectangle((x0, y0, x1, y1), fill="white")
    return image


def timed(function: Callable[[], Any]) -> tuple[Any, float, float]:
    """Call ``function``; return its result, wall ms, and CPU s of this process and its children."""
    own, kids = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = function()
    wall_ms = (time.perf_counter() - start) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = time.process_time() - own + (after.ru_utime - kids.ru_utime) + (after.ru_stime - kids.ru_stime)
    return result, wall_ms, cpu_s


# -- page mode -----------------------------------------------------------------------------------


def run_pages(systems: Sequence[Any], pages: Sequence[BenchPage], mask: bool, tmp: Path) -> list[dict[str, Any]]:
    """Every system on every page, in a shuffled order (:func:`turn_order`). One row per (page, system)."""
    rows = []
    for i, page in enumerate(pages):
        image = masked_page(page, mask)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data = buffer.getvalue()
        path = tmp / f"page{i}.png"
        path.write_bytes(data)
        for system in turn_order(systems, i):
            text, wall_ms, cpu_s = timed(partial(system.read_page, data, path, page.set_name))
            rows.append(
                {
                    "page": page.name,
                    "set": page.set_name,
                    "system": system.name,
                    "ms": round(wall_ms, 2),
                    "cpu_s": round(cpu_s, 4),
                    "text": text,
                    **text_scores(page.reference, text),
                }
            )
        path.unlink()
        print(
            f"[{i + 1}/{len(pages)}] {page.name}: "
            + ", ".join(f"{r['system']} {r['ms']:.0f} ms" for r in rows[-len(systems) :])
        )
    return rows


def summarize_pages(rows: Sequence[dict[str, Any]], order: Sequence[str] = ()) -> dict[str, dict[str, dict[str, Any]]]:
    """``summary[set][system]``: time statistics (ms), CPU s/page and corpus CER/WER; plus set ``all``.

    Systems come in ``order`` (then any others in order of appearance).
    """
    summary: dict[str, dict[str, dict[str, Any]]] = {}
    sets = [*dict.fromkeys(r["set"] for r in rows), "all"]
    for set_name in sets:
        subset = [r for r in rows if set_name in ("all", r["set"])]
        summary[set_name] = {}
        present = {r["system"] for r in subset}
        for system in dict.fromkeys([*(s for s in order if s in present), *(r["system"] for r in subset)]):
            mine = [r for r in subset if r["system"] == system]
            summary[set_name][system] = {
                "pages": len(mine),
                "ms": summarize(r["ms"] for r in mine),
                "cpu_s": summarize(r["cpu_s"] for r in mine),
                **corpus_rates(mine),
            }
    return summary


def best_tesseract(per_system: dict[str, dict[str, Any]]) -> str | None:
    """The Tesseract variant (psm) with the lowest whitespace-normalised CER, or ``None``."""
    variants = [name for name in per_system if name.startswith("tesseract")]
    return min(variants, key=lambda name: _nan_last(per_system[name]["cer_ws"]), default=None)


def _nan_last(value: float) -> float:
    return math.inf if value is None or math.isnan(value) else value


def ratios(per_system: dict[str, dict[str, Any]], metric: str = "ms", stat: str = "median") -> dict[str, float]:
    """Each handocr system's time (``handocr``, ``handocr:NAME``, either with ``@RUNTIME``) over each
    peer's (best Tesseract psm, RapidOCR), labelled ``SYSTEM/tesseract`` and ``SYSTEM/rapidocr``; ``< 1``
    means handocr is faster."""
    out: dict[str, float] = {}
    best = best_tesseract(per_system)
    for system, ours in per_system.items():
        if system != "handocr" and not system.startswith(("handocr:", "handocr@")):
            continue
        for peer, name in (("tesseract", best), ("rapidocr", "rapidocr")):
            if name in per_system:
                out[f"{system}/{peer}"] = safe_ratio(ours[metric][stat], per_system[name][metric][stat])
    return out


def page_tables(summary: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The per-set comparison table and the ratio table."""
    rows, ratio_rows = [], []
    for set_name, per_system in summary.items():
        best = best_tesseract(per_system)
        for system, s in per_system.items():
            label = (
                f"{system} (best psm)"
                if system == best and sum(n.startswith("tess") for n in per_system) > 1
                else system
            )
            rows.append(
                [set_name, label, s["pages"], s["ms"]["median"], s["ms"]["p95"], s["cpu_s"]["median"]]
                + [100 * s[k] for k in ("cer", "cer_ws", "cer_ws_ci", "wer")]
            )
        time_ratio, p95_ratio = ratios(per_system), ratios(per_system, stat="p95")
        for label, value in time_ratio.items():
            ratio_rows.append([set_name, label, f"{value:.2f}x", f"{p95_ratio[label]:.2f}x"])
    headers = [
        "set",
        "system",
        "pages",
        "ms median",
        "ms p95",
        "CPU s/page",
        "CER %",
        "CER ws %",
        "CER ws ci %",
        "WER %",
    ]
    text = "Page mode: time per page (bytes in, text out) and corpus error rates\n\n" + markdown_table(headers, rows)
    if ratio_rows:
        text += "\n\nTime ratios (< 1: handocr faster; Tesseract = its best-CER psm)\n\n"
        text += markdown_table(["set", "ratio", "median", "p95"], ratio_rows)
    return text


# -- line mode -----------------------------------------------------------------------------------


def line_crops(page: BenchPage, margin: int) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Grayscale and BGR crops of the page's scored lines (box + ``margin`` px) and their targets."""
    from handocr.datasets.collection import recognition_lines
    from handocr.pipeline import crop_box

    with Image.open(page.image_path) as opened:
        rgb = np.asarray(opened.convert("RGB"))
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    height, width = gray.shape
    grays, bgrs, targets = [], [], []
    for line, target in recognition_lines(page.record):
        x0, y0, x1, y1 = crop_box(line.box, margin, width, height)
        if x1 <= x0 or y1 <= y0:
            continue
        grays.append(np.ascontiguousarray(gray[y0:y1, x0:x1]))
        bgrs.append(np.ascontiguousarray(rgb[y0:y1, x0:x1, ::-1]))
        targets.append(target)
    return grays, bgrs, targets


def run_lines(systems: Sequence[Any], pages: Sequence[BenchPage], margin: int) -> list[dict[str, Any]]:
    """Each recognizer on each page's line crops (one call per page); one row per (line, system)."""
    rows = []
    for i, page in enumerate(pages):
        grays, bgrs, targets = line_crops(page, margin)
        if not targets:
            continue
        for system in turn_order(systems, i):
            texts, wall_ms, cpu_s = timed(partial(system.read_lines, grays, bgrs))
            for target, text in zip(targets, texts, strict=True):
                rows.append(
                    {
                        "page": page.name,
                        "set": page.set_name,
                        "system": system.name,
                        "ms": round(wall_ms / len(targets), 3),
                        "cpu_s": round(cpu_s / len(targets), 5),
                        "target": target,
                        "text": text,
                        **text_scores(target, text),
                    }
                )
        print(f"[{i + 1}/{len(pages)}] {page.name}: {len(targets)} lines")
    return rows


def line_tables(summary: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The per-set line-recognition table (ms per line: page batch time / lines)."""
    rows = []
    for set_name, per_system in summary.items():
        for system, s in per_system.items():
            rows.append(
                [set_name, system, s["pages"], s["ms"]["median"], s["ms"]["p95"]]
                + [100 * s[k] for k in ("cer", "cer_ws_ci", "wer")]
            )
        for label, value in ratios(per_system).items():
            rows.append([set_name, label, "-", value, math.nan, math.nan, math.nan, math.nan])
    headers = ["set", "system", "lines", "ms/line median", "ms/line p95", "line CER %", "CER ci %", "WER %"]
    return "Line mode: recognition only on ground-truth line crops\n\n" + markdown_table(headers, rows, digits=2)


# -- plot and main -------------------------------------------------------------------------------


def plot(summary: dict[str, dict[str, dict[str, Any]]], stem: Path, mode: str) -> Path:
    """Median time (p95 as error bar) and whitespace-normalised CER per system, grouped by set."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    sets = list(summary)
    systems = list(dict.fromkeys(name for per in summary.values() for name in per))
    width = 0.8 / max(1, len(systems))
    for k, system in enumerate(systems):
        xs = np.arange(len(sets)) + k * width
        stats = [summary[s].get(system) for s in sets]
        med = [st["ms"]["median"] if st else 0 for st in stats]
        err = [max(0.0, st["ms"]["p95"] - st["ms"]["median"]) if st else 0 for st in stats]
        left.bar(xs, med, width, yerr=[[0] * len(err), err], label=system, capsize=3)
        right.bar(xs, [100 * st["cer_ws"] if st else 0 for st in stats], width, label=system)
    for axis in (left, right):
        axis.set_xticks(np.arange(len(sets)) + width * (len(systems) - 1) / 2, sets)
    left.set_ylabel("ms per line" if mode == "lines" else "ms per page")
    left.set_title("time: median (bar) to p95 (whisker)")
    right.set_ylabel("CER % (whitespace-normalised)")
    right.set_title("character error rate")
    left.legend(fontsize=8)
    return save_figure(fig, stem)


def build_systems(args: Any, threads: int) -> list[Any]:
    """The systems asked for in ``--systems``, Tesseract once per ``--psm`` value."""
    systems: list[Any] = []
    for name in split_list(args.systems):
        if name == "handocr" or name.startswith(("handocr:", "handocr@")):
            # handocr[:RECOGNIZER][@RUNTIME], e.g. handocr:line-recognizer-crnn or handocr@openvino
            name, _, runtime = name.partition("@")
            recognizer = name.partition(":")[2] or None
            systems.append(HandocrSystem(threads, recognizer=recognizer, runtime=runtime or None))
        elif name == "tesseract":
            if args.mode == "pages":
                systems.extend(TesseractSystem(int(p), parse_languages(args.tess_lang)) for p in split_list(args.psm))
        elif name == "rapidocr":
            systems.append(RapidOcrSystem(threads, use_cls=args.rapidocr_cls))
        else:
            raise SystemExit(f"unknown system {name!r} (handocr[:RECOGNIZER][@RUNTIME], tesseract, rapidocr)")
    return systems


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("pages", "lines"), default="pages")
    parser.add_argument(
        "--systems",
        default="handocr,tesseract,rapidocr",
        help="systems to compare (handocr:NAME: handocr with recognizer NAME; @RUNTIME after either: "
        "on that runtime, e.g. handocr@openvino)",
    )
    parser.add_argument("--psm", default="3,4,6", help="Tesseract page segmentation modes to try (each is a row)")
    parser.add_argument("--tess-lang", default="", help="SET=LANG overrides (default copiste=fra,hooker=eng)")
    parser.add_argument("--rapidocr-cls", action="store_true", help="turn RapidOCR's angle classifier on")
    parser.add_argument("--no-mask", action="store_true", help="keep the unannotated printed band (Copiste)")
    parser.add_argument("--margin", type=int, default=4, help="line mode: pixels around each box (pipeline default)")
    parser.add_argument("--warmup", type=int, default=1, help="pages each system reads before measuring")
    parser.add_argument(
        "--warmup-split",
        help="take the warm-up pages from this split (e.g. train: a long run's steady state, in which OpenVINO "
        "has met most line shapes) instead of the first measured ones",
    )
    args = parser.parse_args(argv)
    threads = args.threads or cores_available()

    machine = machine_description()
    systems = build_systems(args, threads)
    pages = interleave_by_set(load_pages(args.data, split_list(args.sets), args.split, args.pages))
    if not pages:
        parser.error("no pages found")
    warmup = pages[: args.warmup]
    if args.warmup_split:
        warmup = interleave_by_set(load_pages(args.data, split_list(args.sets), args.warmup_split, 0))[: args.warmup]
    shm = "/dev/shm" if Path("/dev/shm").is_dir() else None
    with tempfile.TemporaryDirectory(prefix="handocr-peers-", dir=shm) as tmp:
        if args.mode == "pages":
            run_pages(systems, warmup, not args.no_mask, Path(tmp))
            rows = run_pages(systems, pages, not args.no_mask, Path(tmp))
        else:
            run_lines(systems, warmup, args.margin)
            rows = run_lines(systems, pages, args.margin)
    summary = summarize_pages(rows, [s.name for s in systems])
    if args.mode == "lines":  # pages -> lines in the count column
        for per_system in summary.values():
            for s in per_system.values():
                s["pages"] = s["ms"]["n"]

    stem = output_stem(args.out, "peers" if args.mode == "pages" else "peers-lines", args.tag)
    title = f"# handocr vs peers, {args.mode} mode ({threads} threads; Tesseract OMP_THREAD_LIMIT=1)\n\n"
    markdown = title + (page_tables(summary) if args.mode == "pages" else line_tables(summary))
    payload = {
        "benchmark": f"peers-{args.mode}",
        "machine": {**machine, "load_average_end": list(os.getloadavg())},
        "config": {**vars(args), "threads": threads, "mask": not args.no_mask},
        "systems": {s.name: s.config for s in systems},
        "summary": summary,
        "best_tesseract_psm": {k: best_tesseract(v) for k, v in summary.items()},
        "ratios_median_ms": {k: ratios(v) for k, v in summary.items()},
        "ratios_p95_ms": {k: ratios(v, stat="p95") for k, v in summary.items()},
        "rows": rows,
    }
    files = write_results(stem, payload, markdown, detail="rows")
    files.append(plot(summary, stem, args.mode))
    report(markdown, files)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
