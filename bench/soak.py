"""Soak test: many requests against a real ``handocr serve`` (127.0.0.1) while its memory (RSS) is sampled.

Closed loop: ``--concurrency`` clients each send the next request as soon as the previous one is
answered, until ``--requests`` have been sent. A leak shows as RSS still growing after warm-up.

Run from the repository root:  .venv/bin/python -m bench.soak --requests 10000 --threads 2

``--bands N`` sends each page cut into N horizontal bands (JPEG), each band a request: a page's
worth of lines in N shorter requests, so that 10,000 requests fit in an hour or so on 2 cores.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import numpy as np

from bench.common import (
    base_parser,
    load_pages,
    machine_description,
    markdown_table,
    output_stem,
    pyplot,
    report,
    save_figure,
    split_list,
    summarize,
    write_results,
)
from bench.serving import ServedInstance, band_bodies, rss_bytes

MIB = 1024 * 1024
BAD_BODY = (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png")  # a truncated PNG: exercises the 422 path


def growth(samples: Sequence[dict[str, float]], warmup: int) -> dict[str, float]:
    """RSS growth after warm-up: start (first sample at or after ``warmup`` requests), end, max, relative
    growth ``end / start - 1``, and the least-squares slope in bytes per request over those samples.
    """
    after = [s for s in samples if s["requests"] >= warmup] or list(samples[-1:])
    if not after:
        return {"start": float("nan"), "end": float("nan"), "max": float("nan"), "relative": float("nan")}
    start, end = after[0]["rss"], after[-1]["rss"]
    slope = float("nan")
    if len(after) >= 2 and after[-1]["requests"] > after[0]["requests"]:
        slope = float(np.polyfit([s["requests"] for s in after], [s["rss"] for s in after], 1)[0])
    return {
        "start": start,
        "end": end,
        "max": max(s["rss"] for s in after),
        "relative": end / start - 1 if start else float("nan"),
        "slope_bytes_per_request": slope,
    }


async def soak(
    url: str,
    headers: dict[str, str],
    bodies: Sequence[tuple[bytes, str]],
    total: int,
    concurrency: int,
    pid: int,
    sample_every: int,
    bad_every: int,
    timeout_s: float,
) -> tuple[list[dict[str, float]], dict[str, int], list[float]]:
    """Send ``total`` requests with ``concurrency`` workers; RSS samples, status counts, latencies (ms)."""
    counter = itertools.count()
    cycle = itertools.cycle(bodies)
    samples = [{"requests": 0, "elapsed_s": 0.0, "rss": rss_bytes(pid)}]
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    completed = 0
    begin = time.perf_counter()

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal completed
        while (n := next(counter)) < total:
            body = BAD_BODY if bad_every and n % bad_every == bad_every - 1 else next(cycle)
            sent = time.perf_counter()
            try:
                response = await client.post(url, content=body[0], headers={**headers, "Content-Type": body[1]})
                key = str(response.status_code)
            except httpx.HTTPError as exc:
                key = type(exc).__name__
            latencies.append((time.perf_counter() - sent) * 1000)
            statuses[key] = statuses.get(key, 0) + 1
            completed += 1
            if completed % sample_every == 0 or completed == total:
                elapsed = time.perf_counter() - begin
                samples.append({"requests": completed, "elapsed_s": elapsed, "rss": rss_bytes(pid)})
                eta = elapsed / completed * (total - completed)
                print(f"{completed}/{total} requests, RSS {samples[-1]['rss'] / MIB:.1f} MiB, ETA {eta:.0f} s")

    async with httpx.AsyncClient(timeout=timeout_s) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return samples, statuses, latencies


def plot(samples: Sequence[dict[str, float]], warmup: int, stem: Path) -> Path:
    """Server RSS (MiB) against requests completed, with the end of warm-up marked."""
    plt = pyplot()
    fig, axis = plt.subplots(figsize=(8, 4.5))
    axis.plot([s["requests"] for s in samples], [s["rss"] / MIB for s in samples], marker=".")
    axis.axvline(warmup, color="grey", linestyle="--", label="end of warm-up")
    axis.set_xlabel("requests completed")
    axis.set_ylabel("server RSS, MiB")
    axis.set_title("handocr serve memory during the soak")
    axis.legend()
    return save_figure(fig, stem)


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10000, help="requests to send in all")
    parser.add_argument("--concurrency", type=int, default=2, help="clients sending at once (closed loop)")
    parser.add_argument("--warmup", type=int, default=500, help="requests before the growth baseline")
    parser.add_argument("--sample-every", type=int, default=50, help="requests between RSS samples")
    parser.add_argument("--bad-every", type=int, default=0, help="every K-th request is a corrupt image (0: none)")
    parser.add_argument("--max-growth", type=float, default=0.05, help="relative RSS growth after warm-up to pass")
    parser.add_argument("--timeout", type=float, default=120.0, help="client timeout per request, seconds")
    parser.add_argument("--bands", type=int, default=1, help="send each page cut into this many horizontal bands")
    args = parser.parse_args(argv)
    if args.bands < 1:
        parser.error("--bands must be at least 1")

    pages = load_pages(args.data, split_list(args.sets), args.split, args.pages)
    if not pages:
        parser.error("no pages found")
    bodies = band_bodies([p.image_path for p in pages], args.bands)
    warmup = min(args.warmup, args.requests)
    machine = machine_description()
    stem = output_stem(args.out, "soak", args.tag)
    started = time.perf_counter()
    with ServedInstance(threads=args.threads, log_path=stem.with_suffix(".server.log")) as server:
        rss_ready = rss_bytes(server.pid)
        samples, statuses, latencies = asyncio.run(
            soak(
                f"{server.url}/v1/read",
                server.headers,
                bodies,
                args.requests,
                args.concurrency,
                server.pid,
                args.sample_every,
                args.bad_every,
                args.timeout,
            )
        )
        exit_code = server.stop()
    wall_s = time.perf_counter() - started
    result = growth(samples, warmup)
    passed = not (result["relative"] > args.max_growth)
    latency = summarize(latencies)

    rows = [
        ["RSS when ready, MiB", rss_ready / MIB],
        [f"RSS after warm-up ({warmup} requests), MiB", result["start"] / MIB],
        [f"RSS at the end ({args.requests} requests), MiB", result["end"] / MIB],
        ["max RSS after warm-up, MiB", result["max"] / MIB],
        ["growth after warm-up, %", 100 * result["relative"]],
        ["slope after warm-up, KiB per 1,000 requests", result["slope_bytes_per_request"] * 1000 / 1024],
        [f"within {100 * args.max_growth:g}% growth", passed],
        ["statuses", ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))],
        ["latency p50 / p95 / p99, ms", f"{latency['median']:.0f} / {latency['p95']:.0f} / {latency['p99']:.0f}"],
        ["requests/s", args.requests / wall_s],
        ["server exit code", exit_code],
    ]
    what = f"bands, {len(pages)} pages in {args.bands} bands each" if args.bands > 1 else "pages"
    markdown = (
        f"# handocr serve soak ({args.requests} requests, {args.concurrency} concurrent, {len(bodies)} distinct {what})"
        "\n\n" + markdown_table(["measure", "value"], rows)
    )
    payload = {
        "benchmark": "soak",
        "machine": {**machine, "load_average_end": list(os.getloadavg())},
        "config": {**vars(args), "warmup": warmup, "server_startup_s": server.startup_s},
        "rss_ready": rss_ready,
        "growth": result,
        "passed": passed,
        "statuses": statuses,
        "latency_ms": latency,
        "wall_s": wall_s,
        "server_exit_code": exit_code,
        "samples": samples,
    }
    files = write_results(stem, payload, markdown)
    files.append(plot(samples, warmup, stem))
    report(markdown, files)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
