"""Helpers shared by the service tests (no tests here): settings, clients, images, raw ASGI calls, and
real ``handocr serve`` processes on the loopback interface."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest
from fastapi.testclient import TestClient

from conftest import draw_page
from fakes import fake_reader
from handocr.pipeline import Reader
from handocr.service import Settings, create_app

KEY = "test-key-0123456789abcdef"
OTHER_KEY = "other-key-abcdef0123456789"
JWT_SECRET = "a-test-secret-that-is-long-enough-0123456789"
AUTH = {"X-API-Key": KEY}
OTHER_AUTH = {"X-API-Key": OTHER_KEY}


def settings(**overrides: Any) -> Settings:
    """Test settings: two API keys, an HS256 secret, nothing from the environment that matters."""
    values: dict[str, Any] = {"api_keys": f"{KEY},{OTHER_KEY}", "jwt_secret": JWT_SECRET, **overrides}
    return Settings(**values)


@contextlib.contextmanager
def client_for(reader: Reader | None = None, **overrides: Any) -> Iterator[TestClient]:
    """A started TestClient (lifespan run, models ready) on an app over ``reader`` (fakes by default)."""
    app = create_app(reader or fake_reader(), settings(**overrides))
    with TestClient(app) as client:
        yield client


def png(lines: int = 3, size: tuple[int, int] = (400, 300)) -> bytes:
    """A page with ``lines`` ink bars, as PNG bytes."""
    buffer = io.BytesIO()
    draw_page(lines, size).save(buffer, format="PNG")
    return buffer.getvalue()


def noisy_png(size: tuple[int, int]) -> bytes:
    """A PNG of random pixels (does not compress), to make large uploads."""
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


def asgi_call(
    client: TestClient, method: str, path: str, headers: dict[str, str], chunks: list[bytes]
) -> tuple[int, dict[str, str], bytes, int]:
    """Call the app directly, streaming ``chunks`` as the body; also says how many chunks it asked for."""
    asked = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        if asked <= len(chunks):
            return {"type": "http.request", "body": chunks[asked - 1], "more_body": asked < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "state": {},
    }

    async def call() -> None:
        await client.app(scope, receive, send)

    assert client.portal is not None
    client.portal.call(call)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    response_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], response_headers, body, asked


HOST = "127.0.0.1"


def tools_required() -> bool:
    """Whether a missing system tool (chromium, redis-server) must fail the tests rather than skip them.

    True in CI (``CI=true``) or where ``HANDOCR_REQUIRE_SERVICE_TOOLS=1``; ``scripts/test.sh`` installs them.
    """
    flags = (os.environ.get("HANDOCR_REQUIRE_SERVICE_TOOLS", ""), os.environ.get("CI", ""))
    return any(flag.lower() in ("1", "true", "yes") for flag in flags)


def skip_or_fail(message: str) -> NoReturn:
    """Skip the test because ``message`` (a missing tool), or fail it where the tools are required."""
    if tools_required():
        pytest.fail(f"{message} (required here: CI or HANDOCR_REQUIRE_SERVICE_TOOLS; see scripts/test.sh)")
    pytest.skip(f"{message}; set HANDOCR_REQUIRE_SERVICE_TOOLS=1 to make this a failure")


def free_port(host: str = HOST) -> int:
    """A TCP port that was free on ``host`` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class ServeProcess:
    """A real ``handocr serve`` process on 127.0.0.1 and a free port; a context manager.

    The environment is ours without any ``HANDOCR_*`` setting, plus one thread per model, quiet
    logs, a short drain on shutdown and ``env``. Output goes to ``log_path``, whose tail is shown
    when the server does not come up. ``ssl_context`` (a client context) makes the checks use HTTPS.
    """

    def __init__(
        self,
        log_path: Path,
        env: dict[str, str],
        ready_path: str = "/readyz",
        ssl_context: ssl.SSLContext | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        self.log_path = log_path
        self.ready_path = ready_path
        self.ssl_context = ssl_context
        self.timeout_s = timeout_s
        self.port = free_port()
        self.url = f"{'https' if ssl_context else 'http'}://{HOST}:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("HANDOCR_")}
        self.env.update(
            {
                "OMP_NUM_THREADS": "1",
                "HANDOCR_THREADS": "1",
                "HANDOCR_LOG_LEVEL": "warning",
                "HANDOCR_GRACEFUL_SHUTDOWN_S": "2",
                **env,
            }
        )
        self.process: subprocess.Popen[bytes] | None = None

    def status(self, path: str, headers: dict[str, str] | None = None, timeout_s: float = 10.0) -> int:
        """The HTTP status of ``GET path`` (raises ``OSError`` if nothing answers)."""
        request = urllib.request.Request(self.url + path, headers=headers or {})
        opener = urllib.request.build_opener(  # no proxy from the environment: loopback only
            urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=self.ssl_context)
        )
        try:
            with opener.open(request, timeout=timeout_s) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's output."""
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def start(self) -> ServeProcess:
        """Start the server and wait (bounded) until ``ready_path`` answers 200."""
        command = [sys.executable, "-m", "handocr.cli", "serve", "--host", HOST, "--port", str(self.port)]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.timeout_s
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"handocr serve exited with {self.process.returncode}:\n{self.log_tail()}")
                with contextlib.suppress(OSError):
                    if self.status(self.ready_path, timeout_s=5.0) == 200:
                        return self
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise
        self.stop()
        raise TimeoutError(f"handocr serve: {self.ready_path} not 200 after {self.timeout_s:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within 15 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
