"""Helpers shared by the service tests (no tests here): settings, clients, images, raw ASGI calls."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from typing import Any

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
