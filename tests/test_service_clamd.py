"""The optional clamd virus scan: a fake clamd (a real TCP server on 127.0.0.1) speaks INSTREAM."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from handocr.service.clamd import ClamdClient, ScanUnavailable, instream_frames, parse_clamd_url, parse_reply
from handocr.service.settings import ServiceConfigError
from test_service_support import AUTH, client_for, png, settings

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!H+H*"


class FakeClamd(socketserver.ThreadingTCPServer):
    """Answers INSTREAM: FOUND when the stream holds EICAR, OK otherwise; records every stream."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, delay_s: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.streams: list[bytes] = []
        self.delay = threading.Event() if delay_s else None
        self.delay_s = delay_s

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.server_address[1]}"


class _Handler(socketserver.BaseRequestHandler):
    def _read(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            part = self.request.recv(n - len(data))
            if not part:
                raise ConnectionError("client went away")
            data += part
        return data

    def handle(self) -> None:
        server: FakeClamd = self.server  # type: ignore[assignment]
        if self._read(10) != b"zINSTREAM\0":
            self.request.sendall(b"UNKNOWN COMMAND\0")
            return
        stream = bytearray()
        while True:
            (size,) = struct.unpack(">I", self._read(4))
            if size == 0:
                break
            stream += self._read(size)
        server.streams.append(bytes(stream))
        if server.delay is not None:
            server.delay.wait(server.delay_s)
        verdict = b"Eicar-Test-Signature FOUND" if EICAR in stream else b"OK"
        self.request.sendall(b"stream: " + verdict + b"\0")


@contextlib.contextmanager
def fake_clamd(delay_s: float = 0.0) -> Iterator[FakeClamd]:
    server = FakeClamd(delay_s)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        if server.delay is not None:
            server.delay.set()
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(client: Any, body: bytes) -> Any:
    return client.post("/v1/read", content=body, headers={**AUTH, "Content-Type": "image/png"})


def test_clean_png_is_read_and_fully_scanned() -> None:
    body = png()
    with fake_clamd() as clamd, client_for(clamd_url=clamd.url) as client:
        response = post(client, body)
    assert response.status_code == 200, response.text
    assert clamd.streams == [body]


def test_eicar_is_rejected_with_a_problem() -> None:
    body = png() + EICAR  # after IEND: still a valid PNG to the decoder
    with fake_clamd() as clamd, client_for(clamd_url=clamd.url) as client:
        response = post(client, body)
        metrics = client.get("/metrics").text
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "urn:handocr:problem:virus-found"
    assert "virus scan" in problem["title"]
    assert "Eicar-Test-Signature" in problem["detail"]
    assert "EICAR-STANDARD" not in response.text
    assert clamd.streams == [body]
    assert 'handocr_rejects_total{reason="virus_found"} 1.0' in metrics


def test_eicar_in_a_batch_fails_only_that_item() -> None:
    files = [("files", ("a.png", png(), "image/png")), ("files", ("b.png", png() + EICAR, "image/png"))]
    with fake_clamd() as clamd, client_for(clamd_url=clamd.url) as client:
        response = client.post("/v1/read:batch", files=files, headers=AUTH)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["status"] for item in items] == [200, 422]
    assert items[1]["problem"]["type"] == "urn:handocr:problem:virus-found"


def test_clamd_down_is_503_with_retry_after() -> None:
    with client_for(clamd_url=f"tcp://127.0.0.1:{free_port()}", clamd_timeout_s=2) as client:
        response = post(client, png())
        metrics = client.get("/metrics").text
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.json()["type"] == "urn:handocr:problem:scan-unavailable"
    assert 'handocr_rejects_total{reason="scan_unavailable"} 1.0' in metrics


def test_clamd_timeout_is_503() -> None:
    with fake_clamd(delay_s=5) as clamd, client_for(clamd_url=clamd.url, clamd_timeout_s=0.3) as client:
        response = post(client, png())
    assert response.status_code == 503
    assert "Retry-After" in response.headers


def test_not_configured_never_scans(monkeypatch: pytest.MonkeyPatch) -> None:
    async def boom(self: ClamdClient, data: bytes) -> None:
        raise AssertionError("scanner called")

    monkeypatch.setattr(ClamdClient, "scan", boom)
    with client_for() as client:
        assert client.app.state.services.scanner is None  # type: ignore[attr-defined]
        response = post(client, png() + EICAR)
    assert response.status_code == 200


def test_protocol_helpers() -> None:
    frames = instream_frames(b"abcde", chunk_bytes=2)
    assert frames[0] == b"zINSTREAM\0"
    assert frames[1:] == [b"\0\0\0\2ab", b"\0\0\0\2cd", b"\0\0\0\1e", b"\0\0\0\0"]
    assert parse_reply(b"stream: OK\0").clean
    assert parse_reply(b"stream: Win.Test.EICAR_HDB-1 FOUND\0").signature == "Win.Test.EICAR_HDB-1"
    with pytest.raises(ScanUnavailable):
        parse_reply(b"INSTREAM size limit exceeded. ERROR\0")
    assert parse_clamd_url("tcp://clamd").port == 3310
    assert parse_clamd_url("unix:///run/clamav/clamd.ctl").path == "/run/clamav/clamd.ctl"
    with pytest.raises(ServiceConfigError):
        settings(clamd_url="http://clamd:3310").check()
