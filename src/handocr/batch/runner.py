"""Bulk OCR over a folder or bucket with Ray Data: one :class:`~handocr.pipeline.Reader` per actor.

The dataset holds one row per input file (its relative name). ``map`` runs :class:`PageWorker`
as a callable class in a pool of ``actors`` actors; each actor builds its reader once (one ONNX
session per model per actor), reads its files, writes ``<name>.json`` / ``<name>.alto.xml`` next to
the input's relative path under the output, and returns one status row per file. The driver only
collects those small rows into a :class:`BatchSummary`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from handocr.batch.storage import StorageError, Store
from handocr.errors import HandocrError
from handocr.exporters import get_exporter
from handocr.imageio import Limits, decode_pages
from handocr.pipeline import Reader

ReaderFactory = Callable[[], Reader]


class MissingRay(ImportError):
    """Ray Data is not installed (``pip install 'ray[data]'``)."""


@dataclass(frozen=True)
class FileFailure:
    """One input that could not be read, and why (an error class name and message)."""

    name: str
    reason: str


@dataclass
class BatchSummary:
    """What a batch run did: counts, the failures with reasons, the files written, and the wall time."""

    input_uri: str
    output_uri: str
    total: int = 0
    ok: int = 0
    skipped: int = 0
    failed: list[FileFailure] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "input_uri": self.input_uri,
            "output_uri": self.output_uri,
            "total": self.total,
            "ok": self.ok,
            "skipped": self.skipped,
            "failed": [{"name": f.name, "reason": f.reason} for f in self.failed],
            "outputs": len(self.outputs),
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class ModelReaderFactory:
    """Loads the shipped (or named) models with ``threads`` ONNX Runtime threads, reading in
    ``language`` (``None``: ``ReadOptions``' default); picklable for Ray."""

    detector: str = "line-detector"
    recognizer: str = "line-recognizer"
    threads: int = 1
    language: str | None = None

    def __call__(self) -> Reader:
        from handocr.pipeline import ReadOptions

        options = ReadOptions() if self.language is None else ReadOptions(language=self.language)
        return Reader.load(self.detector, self.recognizer, threads=self.threads, options=options)

    def check(self) -> None:
        """Raise :class:`~handocr.errors.ModelNotFound` (or ``UnknownLanguage``) now, in the driver,
        rather than in every actor."""
        from handocr.models import check_recognizer_language, find_model

        find_model(self.detector)
        if self.language is not None:
            check_recognizer_language(self.recognizer, self.language)
        else:
            find_model(self.recognizer)


def output_names(name: str, formats: Sequence[str]) -> list[str]:
    """Output file names for input ``name`` (relative POSIX path): ``a/b.png`` -> ``a/b.json``, ``a/b.alto.xml``."""
    stem = PurePosixPath(name).with_suffix("")
    return [f"{stem}{get_exporter(fmt).suffix}" for fmt in formats]


class PageWorker:
    """Reads input files and writes their exports; one instance per Ray actor (or one in-process).

    Every failure of one file (bad image, too large, a read or write error) becomes a status row,
    never an exception, so one bad page cannot stop the batch.
    """

    def __init__(
        self,
        reader_factory: ReaderFactory,
        input_uri: str,
        output_uri: str,
        formats: Sequence[str],
        limits: Limits | None = None,
        skip_existing: bool = False,
    ) -> None:
        self.reader = reader_factory()
        self.source = Store(input_uri)
        self.target = Store(output_uri)
        self.formats = tuple(formats)
        self.exporters = [get_exporter(fmt) for fmt in formats]
        self.limits = limits or Limits()
        self.skip_existing = skip_existing

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        name = str(row["name"])
        targets = output_names(name, self.formats)
        if self.skip_existing and all(self.target.exists(t) for t in targets):
            return {"name": name, "status": "skipped", "error": "", "outputs": ""}
        try:
            images = decode_pages(self.source.read_bytes(name), self.limits)
            document = self.reader.read_images(images, source=PurePosixPath(name).name)
            written = [
                self.target.write_bytes(target, exporter.export(document, images))
                for exporter, target in zip(self.exporters, targets, strict=True)
            ]
        except (HandocrError, OSError, StorageError, ValueError) as exc:
            return {"name": name, "status": "failed", "error": f"{type(exc).__name__}: {exc}", "outputs": ""}
        return {"name": name, "status": "ok", "error": "", "outputs": "\n".join(written)}


def _summarise(summary: BatchSummary, rows: list[dict[str, Any]]) -> BatchSummary:
    for row in sorted(rows, key=lambda r: str(r["name"])):
        if row["status"] == "ok":
            summary.ok += 1
            summary.outputs.extend(str(row["outputs"]).splitlines())
        elif row["status"] == "skipped":
            summary.skipped += 1
        else:
            summary.failed.append(FileFailure(str(row["name"]), str(row["error"])))
    return summary


def run_batch(
    input_uri: str,
    output_uri: str,
    formats: Sequence[str] = ("json",),
    *,
    actors: int = 1,
    cpus_per_actor: float = 1.0,
    reader_factory: ReaderFactory | None = None,
    limits: Limits | None = None,
    skip_existing: bool = False,
    use_ray: bool = True,
) -> BatchSummary:
    """Read every image and PDF below ``input_uri`` and write one file per format under ``output_uri``.

    Args:
        input_uri: a local folder (or file), or a ``s3://`` / ``gs://`` / ``abfs://`` URI.
        output_uri: where ``<relative stem><suffix>`` files go (``.json``, ``.alto.xml``, ...).
        formats: exporter names (see :data:`handocr.exporters.EXPORTERS`).
        actors: Ray actors, each holding one reader; ``cpus_per_actor`` CPUs are reserved for each,
            so set the reader's ONNX threads to match (the default factory uses ``int(cpus_per_actor)``).
        reader_factory: a picklable zero-argument callable returning a :class:`Reader`
            (default: :class:`ModelReaderFactory`, the shipped models).
        use_ray: ``False`` runs the same worker in this process (small jobs, debugging).

    Uses the running Ray cluster if there is one (``ray.init()`` otherwise starts a local one).
    Raises :class:`MissingRay` without Ray Data, ``KeyError`` for an unknown format and
    :class:`~handocr.batch.storage.StorageError` when the input cannot be listed.
    """
    if actors < 1:
        raise ValueError("actors must be at least 1")
    for fmt in formats:
        get_exporter(fmt)  # fail before any work on an unknown format
    start = time.perf_counter()
    factory = reader_factory or ModelReaderFactory(threads=max(1, int(cpus_per_actor)))
    check = getattr(factory, "check", None)
    if callable(check):
        check()
    names = Store(input_uri).list_inputs()
    summary = BatchSummary(input_uri=input_uri, output_uri=output_uri, total=len(names))
    if names:
        args = (factory, input_uri, output_uri, tuple(formats), limits, skip_existing)
        rows = _run_ray(names, args, actors, cpus_per_actor) if use_ray else _run_local(names, args)
        _summarise(summary, rows)
    summary.seconds = time.perf_counter() - start
    return summary


def _run_local(names: list[str], args: tuple[Any, ...]) -> list[dict[str, Any]]:
    worker = PageWorker(*args)
    return [worker({"name": name}) for name in names]


def _run_ray(names: list[str], args: tuple[Any, ...], actors: int, cpus_per_actor: float) -> list[dict[str, Any]]:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise MissingRay("bulk OCR needs Ray Data: pip install 'ray[data]'") from exc
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    dataset = ray.data.from_items([{"name": name} for name in names], override_num_blocks=min(len(names), 200))
    results = dataset.map(
        PageWorker,
        fn_constructor_args=args,
        concurrency=actors,
        num_cpus=cpus_per_actor,
    )
    return results.take_all()
