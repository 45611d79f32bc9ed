"""Reading request bodies in memory, with byte limits enforced while streaming; never touching the disk.

Starlette's ``request.form()`` spools multipart parts over 1 MB to temporary files, so multipart is
parsed here with python-multipart's low-level :class:`MultipartParser`, fed chunk by chunk, each
part collected in a ``bytearray``. A request is refused with 413 as soon as its declared
``Content-Length`` or the bytes received so far pass the limit; the rest is never read.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from handocr.service.problems import ApiError

RAW_TYPES = {
    "image/jpeg",
    "image/png",
    "image/tiff",
    "image/webp",
    "image/bmp",
    "application/pdf",
    "application/octet-stream",
}
MULTIPART_OVERHEAD = 64 * 1024
MAX_PARTS = 64
_UNSAFE_NAME = re.compile(r"[^\w.\- ]")


@dataclass
class Upload:
    """One uploaded file: its form field, a cleaned file name, its bytes, and a refusal if it was cut off."""

    field: str
    filename: str | None
    data: bytearray = field(default_factory=bytearray)
    too_large: bool = False


def clean_filename(name: str | None) -> str | None:
    """The last path component of a client-supplied name, safe characters only, at most 128 of them."""
    if not name:
        return None
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    return _UNSAFE_NAME.sub("_", base)[:128] or None


def content_type(request: Request) -> str:
    """The request's media type, lower case, without parameters."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def check_declared_length(request: Request, limit: int) -> None:
    """Refuse (413) a request whose ``Content-Length`` is over ``limit`` before reading any of it."""
    declared = request.headers.get("content-length")
    if declared is None:
        return
    if not declared.isdigit():
        raise ApiError(400, "invalid Content-Length")
    if int(declared) > limit:
        raise ApiError(413, f"body of {declared} bytes is over the limit of {limit}")


class _PartCollector:
    """Callbacks for :class:`MultipartParser` that keep the wanted file parts in memory."""

    def __init__(self, fields: set[str], part_limit: int, max_files: int) -> None:
        self.fields = fields
        self.part_limit = part_limit
        self.max_files = max_files
        self.uploads: list[Upload] = []
        self.parts = 0
        self.headers: dict[bytes, bytes] = {}
        self.header_field = b""
        self.header_value = b""
        self.current: Upload | None = None

    def on_part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise ApiError(413, f"more than {MAX_PARTS} parts")
        self.headers, self.current = {}, None

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header_field.lower()] = self.header_value
        self.header_field, self.header_value = b"", b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b"").decode("latin-1"))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if name not in self.fields:
            return
        if len(self.uploads) >= self.max_files:
            raise ApiError(422, f"more than {self.max_files} files")
        filename = options.get(b"filename")
        if filename is None:
            raise ApiError(422, f"multipart field {name!r} must be a file (with a filename)")
        self.current = Upload(name, clean_filename(filename.decode("utf-8", "replace") if filename else None))
        self.uploads.append(self.current)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        upload = self.current
        if upload is None or upload.too_large:
            return
        if len(upload.data) + (end - start) > self.part_limit:
            upload.too_large = True
            upload.data = bytearray()
            return
        upload.data += data[start:end]


async def _chunks(request: Request, limit: int) -> AsyncIterator[bytes]:
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise ApiError(413, f"body is over the limit of {limit} bytes")
        if chunk:
            yield chunk


async def read_raw(request: Request, limit: int) -> bytes:
    """The whole body of a raw upload, at most ``limit`` bytes (413 as soon as it is over)."""
    check_declared_length(request, limit)
    body = bytearray()
    async for chunk in _chunks(request, limit):
        body += chunk
    return bytes(body)


async def read_multipart(
    request: Request, fields: set[str], body_limit: int, part_limit: int, max_files: int
) -> list[Upload]:
    """The file parts named in ``fields`` of a multipart/form-data body, in order, held in memory.

    The whole body is limited to ``body_limit`` bytes (413). A part over ``part_limit`` bytes stops
    being collected and comes back with ``too_large`` set. More than ``max_files`` wanted parts is a 422.
    Wanted parts without a file name are a 422; other parts are skipped without being kept.
    """
    check_declared_length(request, body_limit)
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise ApiError(422, "multipart body without a boundary")

    collector = _PartCollector(fields, part_limit, max_files)
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": collector.on_part_begin,
            "on_header_field": collector.on_header_field,
            "on_header_value": collector.on_header_value,
            "on_header_end": collector.on_header_end,
            "on_headers_finished": collector.on_headers_finished,
            "on_part_data": collector.on_part_data,
        },
    )
    try:
        async for chunk in _chunks(request, body_limit):
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as exc:
        raise ApiError(422, f"malformed multipart body: {exc}") from None
    return collector.uploads
