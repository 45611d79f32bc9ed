"""Read many inputs into output files: one process or N worker processes, resumable, never stopped by a bad file.

Each worker loads the models once. Outputs are written atomically (``.part`` then rename), so an
interrupted run can be resumed with ``skip_existing``: an input whose outputs all exist is skipped.
"""

from __future__ import annotations

import multiprocessing
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from handocr.errors import HandocrError


@dataclass(frozen=True)
class ReadJob:
    """What to do with each input: formats, output folder, model names and pipeline settings."""

    formats: tuple[str, ...]
    output: Path | None
    detector: str = "line-detector"
    recognizer: str = "line-recognizer"
    threads: int | None = None
    review_below: float | None = None  # None: ReadOptions' default
    skip_existing: bool = False
    review_words_below: float | None = None  # None: ReadOptions' default
    language: str | None = None  # None: ReadOptions' default ("auto")
    runtime: str | None = None  # None: HANDOCR_RUNTIME or auto (see handocr.runtime)

    def read_options(self):
        """The pipeline options: ``ReadOptions`` with the review thresholds and language this job sets."""
        from handocr.pipeline import ReadOptions

        given = {
            "review_below": self.review_below,
            "review_words_below": self.review_words_below,
            "language": self.language,
        }
        return ReadOptions(**{k: v for k, v in given.items() if v is not None})


@dataclass(frozen=True)
class FileResult:
    """The outcome for one input: ``status`` is ``ok``, ``skipped`` or ``failed`` (with ``error``)."""

    path: Path
    status: str
    error: str = ""
    stdout: bytes = b""


def output_paths(job: ReadJob, path: Path) -> list[Path]:
    """The files ``job`` writes for input ``path``."""
    from handocr.exporters import get_exporter

    if job.output is None:
        return []
    return [job.output / f"{path.stem}{get_exporter(name).suffix}" for name in job.formats]


class FileReader:
    """Holds one loaded :class:`~handocr.pipeline.Reader` and turns an input into its output files."""

    def __init__(self, job: ReadJob) -> None:
        from handocr.pipeline import Reader

        self.job = job
        self.reader = Reader.load(
            job.detector, job.recognizer, threads=job.threads, options=job.read_options(), runtime=job.runtime
        )

    def __call__(self, path: Path) -> FileResult:
        """Read ``path`` and write its outputs; errors become a failed result, never an exception."""
        from handocr.exporters import get_exporter
        from handocr.imageio import decode_pages

        targets = output_paths(self.job, path)
        if self.job.skip_existing and targets and all(t.exists() for t in targets):
            return FileResult(path, "skipped")
        try:
            start = time.perf_counter()
            images = decode_pages(path)
            decode_ms = (time.perf_counter() - start) * 1000
            document = self.reader.read_images(images, source=path.name, decode_ms=decode_ms)
            printed = b""
            for name in self.job.formats:
                data = get_exporter(name).export(document, images)
                if self.job.output is None:
                    printed += data
                    continue
                target = self.job.output / f"{path.stem}{get_exporter(name).suffix}"
                partial = target.with_name(target.name + ".part")
                partial.write_bytes(data)
                partial.replace(target)
            return FileResult(path, "ok", stdout=printed)
        except HandocrError as exc:
            return FileResult(path, "failed", str(exc))
        except Exception as exc:  # one bad file must never stop the batch
            return FileResult(path, "failed", f"unexpected {type(exc).__name__}: {exc}")


_worker: FileReader | None = None


def _init_worker(job: ReadJob) -> None:
    global _worker
    _worker = FileReader(job)


def _work(path: Path) -> FileResult:
    assert _worker is not None
    return _worker(path)


def read_many(paths: list[Path], job: ReadJob, workers: int = 1) -> Iterator[FileResult]:
    """Yield one :class:`FileResult` per input (in completion order when ``workers > 1``)."""
    if workers <= 1 or len(paths) <= 1:
        reader = FileReader(job)
        for path in paths:
            yield reader(path)
        return
    from handocr.models import check_recognizer_language, find_model

    find_model(job.detector)  # fail here, not in the pool's initializer (which would respawn forever)
    if job.language is not None:
        check_recognizer_language(job.recognizer, job.language)
    else:
        find_model(job.recognizer)
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers, initializer=_init_worker, initargs=(job,)) as pool:
        yield from pool.imap_unordered(_work, paths)


def report_failures(results: list[FileResult], write: Callable[[str], object] = sys.stderr.write) -> None:
    """Write the end-of-run report: a count, then each failed input with its reason."""
    failed = [r for r in results if r.status == "failed"]
    skipped = sum(r.status == "skipped" for r in results)
    ok = sum(r.status == "ok" for r in results)
    write(f"handocr: {ok} read, {skipped} skipped, {len(failed)} failed\n")
    for result in failed:
        write(f"  {result.path}: {result.error}\n")
