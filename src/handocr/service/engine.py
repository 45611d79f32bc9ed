"""The service's use of the library: load and warm up the reader, read bytes in a thread pool, bounded.

Reads are CPU-bound, so they run in a :class:`~concurrent.futures.ThreadPoolExecutor` of
``max_concurrent_reads`` threads and the event loop stays free. At most ``max_concurrent_reads +
max_queued_reads`` reads are admitted at once; past that a request gets a fast 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from PIL import Image, ImageDraw

from handocr.errors import InvalidImage
from handocr.exporters import get_exporter
from handocr.imageio import Limits, decode_pages, sniff_type
from handocr.pipeline import Reader, ReadOptions
from handocr.schema import Document
from handocr.service.metrics import Metrics
from handocr.service.problems import ApiError
from handocr.service.settings import Settings

log = logging.getLogger("handocr.service")
T = TypeVar("T")


@dataclass(frozen=True)
class ReadOutput:
    """A read's result: the Document, and the requested format's bytes and media type."""

    document: Document
    content: bytes
    media_type: str


def check_format(name: str | None) -> str:
    """The exporter name for ``?format=`` (``json`` if not given); 422 if no exporter has that name."""
    name = name or "json"
    try:
        get_exporter(name)
    except KeyError as exc:
        raise ApiError(422, str(exc.args[0])) from None
    return name


def check_type(data: bytes) -> str:
    """The media type of ``data`` from its magic bytes (415 or 422 via the library's typed errors)."""
    if not data:
        raise InvalidImage("empty upload")
    return sniff_type(data)


class Engine:
    """Holds the reader and runs reads on it, no more than the configured number at once."""

    def __init__(self, settings: Settings, metrics: Metrics, reader: Reader | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.reader = reader
        self.ready = False
        self.load_error: str | None = None
        self.limits = Limits(settings.max_bytes, settings.max_pixels, settings.max_pages)
        self.capacity = settings.max_concurrent_reads + settings.max_queued_reads
        self.admitted = 0
        self._executor: ThreadPoolExecutor | None = None
        self._semaphore: asyncio.Semaphore | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def executor(self) -> ThreadPoolExecutor:
        """The worker threads (made on first use, again after :meth:`close`)."""
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.settings.max_concurrent_reads, thread_name_prefix="handocr-read")
        return self._executor

    async def start(self) -> None:
        """Load the reader if none was given, then warm it up; ``ready`` is set when both are done."""
        try:
            if self.reader is None:
                self.reader = await asyncio.get_running_loop().run_in_executor(self.executor, self._load)
            await asyncio.get_running_loop().run_in_executor(self.executor, self._warm_up)
            self.ready = True
            log.info("models loaded and warmed up: %s", self.reader.models.model_dump())
        except Exception as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("could not load the models")

    def _load(self) -> Reader:
        options = ReadOptions(language=self.settings.language)
        kwargs: dict[str, Any] = {"threads": self.settings.threads, "options": options}
        if self.settings.detector:
            kwargs["detector"] = self.settings.detector
        if self.settings.recognizer:
            kwargs["recognizer"] = self.settings.recognizer
        return Reader.load(**kwargs)

    def _warm_up(self) -> None:
        image = Image.new("RGB", (320, 96), "white")
        ImageDraw.Draw(image).rectangle((16, 36, 300, 60), fill="black")
        assert self.reader is not None
        self.reader.read_images([image])

    def close(self) -> None:
        """Stop taking work; queued reads are cancelled, running ones finish (joined at interpreter exit)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._semaphore = None

    # -- admission -----------------------------------------------------------------------------

    def require_ready(self) -> None:
        """503 while the models are not loaded."""
        if not self.ready:
            detail = "models are loading" if self.load_error is None else "models failed to load"
            raise ApiError(503, detail, {"Retry-After": str(self.settings.retry_after_s)})

    def check_capacity(self) -> None:
        """503 with Retry-After if every running and waiting slot is taken."""
        if self.admitted >= self.capacity:
            raise ApiError(
                503, "too many reads in progress; retry later", {"Retry-After": str(self.settings.retry_after_s)}
            )

    async def run(self, function: Callable[..., T], *args: Any, wait: bool = False) -> T:
        """Run ``function(*args)`` on a worker thread, holding a read slot until the thread is done.

        Without ``wait``, a full service answers 503 at once; with it (background jobs) the call waits.
        """
        if not wait:
            self.check_capacity()
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.settings.max_concurrent_reads)
        semaphore = self._semaphore
        self.admitted += 1
        self.metrics.reads_in_flight.inc()

        def release(_: object = None) -> None:
            self.admitted -= 1
            self.metrics.reads_in_flight.dec()

        try:
            await semaphore.acquire()
        except BaseException:
            release()
            raise

        def finished(_: object) -> None:
            semaphore.release()
            release()

        future = asyncio.get_running_loop().run_in_executor(self.executor, function, *args)
        future.add_done_callback(finished)
        # Shielded: if the client goes away, the slot stays taken until the thread really finishes.
        return await asyncio.shield(future)

    # -- reading -------------------------------------------------------------------------------

    def reader_for(self, language: str | None) -> Reader:
        """The reader for a request asking for ``language`` (``None``: the service's own); an
        unknown language raises ``UnknownLanguage`` (a 422)."""
        assert self.reader is not None
        return self.reader.with_language(language)

    def read_sync(
        self, data: bytes, source: str | None, format_name: str = "json", language: str | None = None
    ) -> ReadOutput:
        """Decode ``data`` (every page), read it (in ``language``, see :meth:`reader_for`) and
        export it; runs on a worker thread."""
        reader = self.reader_for(language)
        start = time.perf_counter()
        images = decode_pages(data, self.limits)
        decode_ms = (time.perf_counter() - start) * 1000
        document = reader.read_images(images, source=source, decode_ms=decode_ms)
        self.metrics.observe_document(document)
        if format_name == "json":
            return ReadOutput(document, document.model_dump_json().encode(), "application/json")
        exporter = get_exporter(format_name)
        try:
            content = exporter.export(document, images)
        except ValueError as exc:
            raise ApiError(422, f"cannot export as {format_name}: {exc}") from None
        return ReadOutput(document, content, exporter.media_type)

    def read_many_sync(
        self, items: list[tuple[bytes, str | None]], language: str | None = None
    ) -> list[Document | Exception]:
        """Read several inputs one after the other; a failure is returned in its place, not raised."""
        results: list[Document | Exception] = []
        for data, source in items:
            try:
                results.append(self.read_sync(data, source, language=language).document)
            except Exception as exc:
                results.append(exc)
        return results

    async def read(
        self,
        data: bytes,
        source: str | None,
        format_name: str = "json",
        wait: bool = False,
        language: str | None = None,
    ) -> ReadOutput:
        """Read ``data`` on a worker thread (see :meth:`run`)."""
        return await self.run(self.read_sync, data, source, format_name, language, wait=wait)
