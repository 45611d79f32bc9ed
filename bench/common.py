"""Shared helpers of the benchmarks: machine description, pages, statistics, tables, output, metrics.

Everything here is either pure (statistics, tables, text metrics: unit-tested in
``tests/test_bench.py``) or a thin wrapper over the file system. Starting and stopping a served
instance lives in :mod:`bench.serving`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import math
import os
import platform
import random
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from handocr.evaluation.text_metrics import edit_distance

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = Path(os.environ.get("HANDOCR_BENCH_DATA", REPO.parent / "shared" / "data" / "real"))
DEFAULT_OUT = REPO / "bench" / "results"
DEFAULT_SETS = ("copiste", "hooker")


# -- command line --------------------------------------------------------------------------------


def base_parser(description: str) -> argparse.ArgumentParser:
    """An argument parser with the options every benchmark shares: pages, sets, data, out, threads."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--pages", type=int, default=0, help="val pages per set (0: every val page; default 0)")
    parser.add_argument("--sets", default=",".join(DEFAULT_SETS), help="comma-separated dataset folders")
    parser.add_argument("--split", default="val", help="split of split.json to use (default val)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"folder of the sets (default {DEFAULT_DATA})")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for JSON, markdown and PNG outputs")
    parser.add_argument("--tag", default="", help="suffix for the output file names (e.g. a machine name)")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads (default: cores available)")
    return parser


def split_list(text: str) -> list[str]:
    """``"a, b,,c"`` -> ``["a", "b", "c"]``."""
    return [item.strip() for item in text.split(",") if item.strip()]


def cores_available() -> int:
    """CPU cores this process may run on (affinity mask; cgroup quota if lower)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_limit()
    return max(1, min(cores, math.floor(quota))) if quota else cores


def cgroup_cpu_limit() -> float | None:
    """The cgroup v2 CPU quota in cores (``cpu.max``), or ``None`` when unlimited or unknown."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else int(quota) / int(period)


# -- machine description -------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (``platform.processor()`` elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total_gib() -> float | None:
    """Physical memory in GiB from ``/proc/meminfo``."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def git_commit() -> str | None:
    """The checked-out commit of the repository (read-only query), or ``None``."""
    try:
        out = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def package_version(name: str) -> str | None:
    """The installed version of a distribution, or ``None``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def machine_description() -> dict[str, Any]:
    """Where and when a benchmark ran: CPU, cores, memory, load, versions, models folder, date (UTC)."""
    import onnxruntime

    return {
        "date_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cores_available": cores_available(),
        "cgroup_cpu_limit": cgroup_cpu_limit(),
        "memory_gib": memory_total_gib(),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "openvino": package_version("openvino"),  # None when not installed; its speed changes by release
        "numpy": np.__version__,
        "handocr": package_version("handocr"),
        "git_commit": git_commit(),
        "handocr_models_env": os.environ.get("HANDOCR_MODELS"),
        "argv": sys.argv,
    }


# -- pages ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchPage:
    """One evaluation page: its set, its record, and the reference text (scored lines, one per line)."""

    set_name: str
    record: Any  # handocr.datasets.records.PageRecord
    reference: str

    @property
    def image_path(self) -> Path:
        """The page image file."""
        return self.record.image_path

    @property
    def name(self) -> str:
        """``set/stem`` for tables and JSON."""
        return f"{self.set_name}/{self.record.stem}"


def load_pages(data: Path, sets: Sequence[str], split: str = "val", per_set: int = 0) -> list[BenchPage]:
    """The first ``per_set`` pages (0: all) of ``split`` of each set (any page dataset: ALTO, PAGE-XML,
    YOLO with texts), in file order, set by set."""
    from handocr.datasets.collection import recognition_lines
    from handocr.datasets.detect import open_dataset

    pages = []
    for set_name in sets:
        records = list(open_dataset(Path(data) / set_name, prefer="pages").pages(split))
        if per_set > 0:
            records = records[:per_set]
        for record in records:
            reference = "\n".join(target for _, target in recognition_lines(record))
            pages.append(BenchPage(set_name, record, reference))
    return pages


def interleave_by_set(pages: Sequence[BenchPage]) -> list[BenchPage]:
    """Pages reordered round-robin over sets (a, b, a, b, ...) so slow drifts hit every set alike."""
    by_set: dict[str, list[BenchPage]] = {}
    for page in pages:
        by_set.setdefault(page.set_name, []).append(page)
    out = []
    queues = list(by_set.values())
    for i in range(max((len(q) for q in queues), default=0)):
        out.extend(q[i] for q in queues if i < len(q))
    return out


# -- statistics ----------------------------------------------------------------------------------


def turn_order(items: Sequence[Any], page_index: int) -> list[Any]:
    """The order systems run in on page ``page_index``: a shuffle seeded by the index, so the same
    every run. Not a rotation: in a rotation each system always follows the same one, and a system
    that leaves its thread pool spinning after it returns (ONNX Runtime's threads spin for a while,
    RapidOCR's among them) slowed the one after it on almost every page (seen: the lite
    recognizer listed first, after RapidOCR listed last, 0.4-0.6 ms a line slower than the same
    network listed second)."""
    order = list(items)
    random.Random(page_index).shuffle(order)
    return order


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0-100) with linear interpolation (NumPy's default); NaN when empty."""
    data = sorted(float(v) for v in values)
    if not data:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} outside 0-100")
    position = (len(data) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (position - low)


def summarize(values: Iterable[float]) -> dict[str, float]:
    """Count, mean, min, median, p95, p99 and max of ``values`` (NaN statistics when empty)."""
    data = [float(v) for v in values]
    if not data:
        return {"n": 0, "mean": math.nan, "min": math.nan, "median": math.nan, "p95": math.nan, "p99": math.nan}
    return {
        "n": len(data),
        "mean": sum(data) / len(data),
        "min": min(data),
        "median": percentile(data, 50),
        "p95": percentile(data, 95),
        "p99": percentile(data, 99),
        "max": max(data),
    }


def safe_ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN when the denominator is zero or NaN."""
    if not denominator or math.isnan(denominator):
        return math.nan
    return numerator / denominator


# -- tables and output ---------------------------------------------------------------------------


def fmt(value: Any, digits: int = 1) -> str:
    """A table cell: floats with ``digits`` decimals (``-`` for NaN/None), everything else ``str``."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value)


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 1) -> str:
    """A GitHub markdown table; numeric-looking columns are right-aligned, cells padded to align."""
    cells = [[fmt(c, digits) for c in row] for row in rows]
    for row in cells:
        if len(row) != len(headers):
            raise ValueError(f"row has {len(row)} cells for {len(headers)} headers: {row}")
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [bool(cells) and all(_numeric_cell(r[i]) for r in cells) for i in range(len(headers))]

    def line(items: Sequence[str]) -> str:
        padded = [s.rjust(w) if num else s.ljust(w) for s, w, num in zip(items, widths, numeric, strict=True)]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(
        ("-" * (w + 1) + ":") if num else ("-" * (w + 2)) for w, num in zip(widths, numeric, strict=True)
    )
    return "\n".join([line(list(headers)), rule + "|", *(line(r) for r in cells)])


def _numeric_cell(text: str) -> bool:
    if text == "-":
        return True
    try:
        float(text.rstrip("%x"))
    except ValueError:
        return False
    return True


def _json_default(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(v) for v in value]
    return value


def output_stem(out: Path, name: str, tag: str = "") -> Path:
    """``out/name`` or ``out/name-tag`` (without suffix); creates ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    return out / (f"{name}-{tag}" if tag else name)


def write_results(stem: Path, payload: dict[str, Any], markdown: str, detail: str | None = None) -> list[Path]:
    """Write ``stem.json`` (NaN as null) and ``stem.md`` (the printed tables); return the paths.

    ``detail`` names a bulky entry of ``payload`` (per-line rows: megabytes of JSON that compress
    about twentyfold) to write apart, gzipped, as ``stem.<detail>.json.gz``; ``stem.json`` then
    holds ``"<detail>_file"`` (that file's name) in its place. :func:`read_results` puts it back.
    """
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    paths = [json_path, md_path]
    if detail is not None and detail in payload:
        detail_path = stem.with_name(f"{stem.name}.{detail}.json.gz")
        write_json_gz(detail_path, payload[detail])
        payload = {**{k: v for k, v in payload.items() if k != detail}, f"{detail}_file": detail_path.name}
        paths.append(detail_path)
    json_path.write_text(json.dumps(_nan_to_none(payload), indent=2, default=_json_default) + "\n")
    md_path.write_text(markdown.rstrip() + "\n")
    return paths


def write_json_gz(path: Path, value: Any) -> None:
    """Write ``value`` as compact gzipped JSON (NaN as null), byte for byte the same on each run
    (no time stamp or file name in the gzip header)."""
    text = json.dumps(_nan_to_none(value), separators=(",", ":"), default=_json_default)
    with path.open("wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as out:
        out.write(text.encode("utf-8") + b"\n")


def read_results(json_path: Path) -> dict[str, Any]:
    """A results JSON that :func:`write_results` wrote, with any entry written apart read back in."""
    payload = json.loads(json_path.read_text())
    for key in [k for k in payload if k.endswith("_file") and str(payload[k]).endswith(".json.gz")]:
        with gzip.open(json_path.with_name(payload.pop(key)), "rt", encoding="utf-8") as f:
            payload[key.removesuffix("_file")] = json.load(f)
    return payload


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, stem: Path) -> Path:
    """Save a matplotlib figure as ``stem.png`` and close it."""
    path = stem.with_suffix(".png")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    pyplot().close(fig)
    return path


def report(markdown: str, files: Sequence[Path]) -> None:
    """Print the tables and the files written."""
    print(markdown)
    print()
    for path in files:
        print(f"wrote {path}")


# -- text metrics --------------------------------------------------------------------------------


def normalize_ws(text: str) -> str:
    """Every run of whitespace (line breaks included) as one space, no leading/trailing space."""
    return " ".join(text.split())


def text_scores(reference: str, hypothesis: str) -> dict[str, float]:
    """Error counts and rates of one page or line.

    ``cer``: on the texts as given (line breaks count as characters); ``cer_ws``: after
    :func:`normalize_ws` on both (line-break and spacing differences cost nothing); ``cer_ws_ci``:
    also case-insensitive; ``wer``: words split on whitespace. Counts (``*_errors``, ``chars``,
    ``chars_ws``, ``words``) are kept so corpus rates can be summed over pages.
    """
    ref_ws, hyp_ws = normalize_ws(reference), normalize_ws(hypothesis)
    counts = {
        "chars": len(reference),
        "chars_ws": len(ref_ws),
        "words": len(reference.split()),
        "cer_errors": edit_distance(reference, hypothesis),
        "cer_ws_errors": edit_distance(ref_ws, hyp_ws),
        "cer_ws_ci_errors": edit_distance(ref_ws.lower(), hyp_ws.lower()),
        "wer_errors": edit_distance(reference.split(), hypothesis.split()),
    }
    return {**counts, **corpus_rates([counts])}


def corpus_rates(items: Sequence[dict[str, float]]) -> dict[str, float]:
    """Corpus CER/WER variants from summed counts of :func:`text_scores` (NaN with no reference)."""

    def rate(errors: str, total: str) -> float:
        denominator = sum(item[total] for item in items)
        return sum(item[errors] for item in items) / denominator if denominator else math.nan

    return {
        "cer": rate("cer_errors", "chars"),
        "cer_ws": rate("cer_ws_errors", "chars_ws"),
        "cer_ws_ci": rate("cer_ws_ci_errors", "chars_ws"),
        "wer": rate("wer_errors", "words"),
    }


def reader_runtimes(reader: Any) -> dict[str, str]:
    """What runs the networks of a loaded reader's detector and recognizer (see
    :func:`handocr.runtime.describe_session`; ``-`` for a model without a session, e.g. TrOCR)."""
    from handocr.runtime import describe_session

    return {
        name: describe_session(getattr(getattr(reader, name), "session", None)) for name in ("detector", "recognizer")
    }
