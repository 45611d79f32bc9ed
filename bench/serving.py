"""A real ``handocr serve`` process for the HTTP benchmarks, and the open-loop arrival schedule.

:class:`ServedInstance` starts the service on 127.0.0.1 (a free port, a random temporary API key,
rate limiting off), waits for ``/readyz``, and stops it with SIGTERM (SIGKILL after a grace
period). Only the loopback interface is ever used.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A TCP port that was free on ``host`` a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def arrival_times(
    rate: float, duration_s: float, max_requests: int | None = None, process: str = "uniform", seed: int = 0
) -> list[float]:
    """Seconds after the start at which requests are sent, for an offered ``rate`` (requests/s).

    ``uniform``: every ``1/rate`` seconds starting at 0; ``poisson``: exponential gaps with mean
    ``1/rate`` (seeded, reproducible), first request at 0. Times are ``< duration_s`` and there
    are at most ``max_requests`` of them. Open loop: these times do not depend on responses.
    """
    if rate <= 0:
        raise ValueError(f"rate must be positive, got {rate}")
    if process not in ("uniform", "poisson"):
        raise ValueError(f"unknown arrival process {process!r} (uniform, poisson)")
    limit = max_requests if max_requests is not None else int(rate * duration_s) + 1
    rng = random.Random(seed)
    times: list[float] = []
    t = 0.0
    while t < duration_s and len(times) < limit:
        times.append(t)
        t = (len(times) / rate) if process == "uniform" else t + rng.expovariate(rate)
    return times


def max_rate_within(results: Sequence[dict[str, Any]], slo_ms: float, max_failure_rate: float) -> float | None:
    """The highest offered rate whose p95 latency is ``<= slo_ms`` and failure fraction ``<= max_failure_rate``.

    ``results`` are per-rate dicts with ``rate``, ``p95_ms`` and ``failure_rate``. Rates above a
    failing one still count if they pass (the table shows both); ``None`` when none passes.
    """
    passing = [
        r["rate"]
        for r in results
        if r.get("p95_ms") is not None and r["p95_ms"] <= slo_ms and r["failure_rate"] <= max_failure_rate
    ]
    return max(passing) if passing else None


class ServedInstance:
    """A ``handocr serve`` subprocess on 127.0.0.1; use as a context manager.

    Attributes after :meth:`start`: ``url``, ``api_key``, ``pid``, ``startup_s`` (until ready).
    """

    def __init__(
        self,
        threads: int | None = None,
        env: dict[str, str] | None = None,
        log_path: Path | None = None,
        ready_timeout_s: float = 300.0,
    ) -> None:
        self.threads = threads
        self.extra_env = env or {}
        self.log_path = log_path
        self.ready_timeout_s = ready_timeout_s
        self.api_key = "bench-" + secrets.token_hex(16)
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_s = float("nan")
        self._log: Any = None

    @property
    def pid(self) -> int:
        """The server's process id (the Python process itself, no shell in between)."""
        assert self.process is not None, "not started"
        return self.process.pid

    @property
    def headers(self) -> dict[str, str]:
        """Request headers carrying the temporary API key."""
        return {"X-API-Key": self.api_key}

    def environment(self) -> dict[str, str]:
        """The server's environment: ours, plus the key, no rate limit, quiet logs, threads."""
        env = dict(os.environ)
        env.update(
            {
                "HANDOCR_API_KEYS": self.api_key,
                "HANDOCR_RATE_LIMIT": "0",
                "HANDOCR_LOG_LEVEL": "warning",
            }
        )
        for name in ("HANDOCR_API_KEYS_FILE", "HANDOCR_JWT_SECRET", "HANDOCR_JWT_PUBLIC_KEY", "HANDOCR_REDIS_URL"):
            env.pop(name, None)
        if self.threads:
            env["HANDOCR_THREADS"] = str(self.threads)
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        """``python -m handocr.cli serve --host 127.0.0.1 --port P`` with this interpreter."""
        return [sys.executable, "-m", "handocr.cli", "serve", "--host", HOST, "--port", str(self.port)]

    def start(self) -> ServedInstance:
        """Start the server and block until ``/readyz`` answers 200 (raise if it exits or times out)."""
        output: Any = subprocess.DEVNULL
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = output = self.log_path.open("wb")
        started = time.perf_counter()
        self.process = subprocess.Popen(self.command(), env=self.environment(), stdout=output, stderr=subprocess.STDOUT)
        deadline = started + self.ready_timeout_s
        with httpx.Client(timeout=5.0) as client:
            while time.perf_counter() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"handocr serve exited with {self.process.returncode}; see {self.log_path}")
                try:
                    if client.get(f"{self.url}/readyz").status_code == 200:
                        self.startup_s = time.perf_counter() - started
                        return self
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"handocr serve not ready after {self.ready_timeout_s:.0f} s; see {self.log_path}")

    def stop(self, grace_s: float = 30.0) -> int | None:
        """SIGTERM, wait up to ``grace_s``, then SIGKILL; return the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.process.returncode

    def __enter__(self) -> ServedInstance:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def page_bodies(paths: Sequence[Path]) -> list[tuple[bytes, str]]:
    """The raw bytes and media type of each page image, to send as request bodies."""
    types = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".tif": "image/tiff"}
    return [(Path(p).read_bytes(), types.get(Path(p).suffix.lower(), "application/octet-stream")) for p in paths]


def band_bodies(paths: Sequence[Path], bands: int, quality: int = 90) -> list[tuple[bytes, str]]:
    """Each page image cut into ``bands`` horizontal bands of equal height, each a JPEG request body
    (``bands`` = 1: the pages as they are, see :func:`page_bodies`)."""
    if bands < 1:
        raise ValueError(f"bands must be at least 1, not {bands}")
    if bands == 1:
        return page_bodies(paths)
    import io

    from PIL import Image

    bodies = []
    for path in paths:
        with Image.open(path) as image:
            page = image.convert("RGB")
        for k in range(bands):
            top, bottom = k * page.height // bands, (k + 1) * page.height // bands
            buffer = io.BytesIO()
            page.crop((0, top, page.width, bottom)).save(buffer, "JPEG", quality=quality)
            bodies.append((buffer.getvalue(), "image/jpeg"))
    return bodies


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` in bytes (``VmRSS`` from ``/proc/PID/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")
