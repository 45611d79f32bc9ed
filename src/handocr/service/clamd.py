"""A minimal asyncio client for clamd's ``INSTREAM`` command: scan bytes held in memory, never on disk.

Protocol: send ``zINSTREAM\\0``, then the data in chunks, each prefixed by its length as a 4-byte
big-endian integer, then a zero-length chunk. clamd answers one NUL-terminated line:
``stream: OK``, ``stream: <signature> FOUND`` or ``<message> ERROR`` (e.g. when the stream is over
clamd's ``StreamMaxLength``).

The whole exchange (connect, send, reply) runs under one timeout. Anything but a clear ``OK`` or
``FOUND`` answer raises :class:`ScanUnavailable`; the service turns that into a 503 (fail closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

DEFAULT_PORT = 3310
CHUNK_BYTES = 64 * 1024
MAX_REPLY_BYTES = 4096


class ScanUnavailable(Exception):
    """clamd could not be reached, timed out, or did not give a clear answer."""


@dataclass(frozen=True)
class ScanResult:
    """clamd's verdict: ``clean``, or the name of the ``signature`` it found."""

    clean: bool
    signature: str | None = None


@dataclass(frozen=True)
class ClamdAddress:
    """Where clamd listens: a TCP ``host``/``port`` or a Unix socket ``path``."""

    host: str | None = None
    port: int | None = None
    path: str | None = None


def parse_clamd_url(url: str) -> ClamdAddress:
    """``tcp://host[:port]`` (port 3310 by default) or ``unix:///path/to/socket``; ValueError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme == "tcp":
        if not parts.hostname:
            raise ValueError(f"clamd URL {url!r} has no host")
        return ClamdAddress(host=parts.hostname, port=parts.port or DEFAULT_PORT)
    if parts.scheme == "unix":
        path = unquote(parts.netloc + parts.path)
        if not path:
            raise ValueError(f"clamd URL {url!r} has no socket path")
        return ClamdAddress(path=path)
    raise ValueError(f"clamd URL {url!r} must start with tcp:// or unix://")


def instream_frames(data: bytes, chunk_bytes: int = CHUNK_BYTES) -> list[bytes]:
    """The bytes to send for ``data``: the command, length-prefixed chunks, and the zero-length end chunk."""
    frames = [b"zINSTREAM\0"]
    view = memoryview(data)
    for start in range(0, len(data), chunk_bytes):
        chunk = view[start : start + chunk_bytes]
        frames.append(struct.pack(">I", len(chunk)) + bytes(chunk))
    frames.append(struct.pack(">I", 0))
    return frames


def parse_reply(reply: bytes) -> ScanResult:
    """clamd's answer to INSTREAM as a :class:`ScanResult`; :class:`ScanUnavailable` if it is not OK/FOUND."""
    text = reply.rstrip(b"\0\n").decode("utf-8", "replace").strip()
    if text.startswith("stream:"):
        verdict = text[len("stream:") :].strip()
        if verdict == "OK":
            return ScanResult(clean=True)
        if verdict.endswith(" FOUND"):
            return ScanResult(clean=False, signature=verdict[: -len(" FOUND")].strip() or "unknown")
    raise ScanUnavailable(f"unexpected clamd reply: {text[:200]!r}")


class ClamdClient:
    """Scans byte strings with clamd over TCP or a Unix socket, one connection per scan."""

    def __init__(self, url: str, timeout_s: float = 10.0, chunk_bytes: int = CHUNK_BYTES) -> None:
        self.address = parse_clamd_url(url)
        self.timeout_s = timeout_s
        self.chunk_bytes = chunk_bytes

    async def scan(self, data: bytes) -> ScanResult:
        """Stream ``data`` to clamd and return its verdict (raises :class:`ScanUnavailable`)."""
        try:
            return await asyncio.wait_for(self._scan(data), self.timeout_s)
        except ScanUnavailable:
            raise
        except TimeoutError as exc:
            raise ScanUnavailable(f"clamd did not answer within {self.timeout_s:g} s") from exc
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise ScanUnavailable(f"clamd unreachable: {exc}") from exc

    async def _scan(self, data: bytes) -> ScanResult:
        if self.address.path is not None:
            reader, writer = await asyncio.open_unix_connection(self.address.path, limit=MAX_REPLY_BYTES)
        else:
            reader, writer = await asyncio.open_connection(self.address.host, self.address.port, limit=MAX_REPLY_BYTES)
        try:
            for frame in instream_frames(data, self.chunk_bytes):
                writer.write(frame)
                await writer.drain()
            reply = await reader.readuntil(b"\0")
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return parse_reply(reply)
