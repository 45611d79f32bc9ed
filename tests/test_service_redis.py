"""The rate limit shared through a real Redis (``redis-server`` started here on 127.0.0.1, no persistence).

Two app instances (as two replicas would be) point at the same Redis with ``HANDOCR_REDIS_URL``: the
requests one client makes to either count against one limit. Skipped when ``redis-server`` is not
installed, except in CI (``CI=true``) or with ``HANDOCR_REQUIRE_SERVICE_TOOLS=1``, where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from test_service_support import AUTH, HOST, OTHER_AUTH, client_for, free_port, png, skip_or_fail

WINDOW_S = 60
LIMIT = 5


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A fresh ``redis-server`` on a free loopback port (no RDB, no AOF); its URL. Stopped afterwards."""
    binary = os.environ.get("HANDOCR_REDIS_SERVER") or shutil.which("redis-server")
    if not binary:
        skip_or_fail("redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
    command += ["--dir", str(tmp_path), "--protected-mode", "yes", "--loglevel", "warning"]
    log_path = tmp_path / "redis.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        probe = redis.Redis(host=HOST, port=port, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + 15
        while True:
            if process.poll() is not None:
                pytest.fail(f"redis-server exited with {process.returncode}: {log_path.read_text()[-2000:]}")
            try:
                if probe.ping():
                    break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not answer PING within 15 s: {log_path.read_text()[-2000:]}")
                time.sleep(0.1)
        probe.close()
        yield f"redis://{HOST}:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def clear_of_window_edge(window_s: int, margin_s: float = 5.0) -> None:
    """Wait (at most ``margin_s``) so that the next few seconds fall inside one fixed Redis window."""
    left = window_s - time.time() % window_s
    if left < margin_s:
        time.sleep(left + 0.05)


def test_rate_limit_is_shared_between_instances(redis_url: str):
    body, headers = png(1), {**AUTH, "Content-Type": "image/png"}
    clear_of_window_edge(WINDOW_S)
    limits = {"rate_limit": LIMIT, "rate_window_s": WINDOW_S, "redis_url": redis_url}
    with client_for(**limits) as first, client_for(**limits) as second:
        remaining = []
        for instance in [first, first, first, second, second]:
            response = instance.post("/v1/read", content=body, headers=headers)
            assert response.status_code == 200, response.text
            remaining.append(int(response.headers["ratelimit-remaining"]))
        assert remaining == [4, 3, 2, 1, 0]  # one count across both instances

        refused = second.post("/v1/read", content=body, headers=headers)  # the 6th request
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert 1 <= int(refused.headers["retry-after"]) <= WINDOW_S
        assert refused.headers["ratelimit-remaining"] == "0"
        assert f"rate limit of {LIMIT}" in refused.json()["detail"]
        assert first.post("/v1/read", content=body, headers=headers).status_code == 429  # refused on both

        other = first.post("/v1/read", content=body, headers={**OTHER_AUTH, "Content-Type": "image/png"})
        assert other.status_code == 200  # another client has its own count
        assert other.headers["ratelimit-remaining"] == str(LIMIT - 1)

    store = redis.Redis.from_url(redis_url, socket_timeout=2)
    try:
        counters = sorted(int(store.get(key)) for key in store.scan_iter("handocr:rl:*"))
        assert counters == [1, 7]  # the counters live in Redis: 7 hits (2 refused) and 1
        assert all(0 < store.ttl(key) <= WINDOW_S + 1 for key in store.scan_iter("handocr:rl:*"))
    finally:
        store.close()
