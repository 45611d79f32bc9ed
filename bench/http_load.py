"""Open-loop HTTP load on a real ``handocr serve`` (127.0.0.1): latency percentiles per offered rate.

Each request is sent at its scheduled arrival time whatever happened to the earlier ones, and its
latency is measured from that scheduled time (no coordinated omission).

Run from the repository root:  .venv/bin/python -m bench.http_load --rates 0.5,1,2,3,4 --threads 2
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    base_parser,
    fmt,
    load_pages,
    machine_description,
    markdown_table,
    output_stem,
    percentile,
    pyplot,
    report,
    save_figure,
    split_list,
    summarize,
    write_results,
)
from bench.serving import ServedInstance, arrival_times, max_rate_within, page_bodies


async def send_one(
    client: httpx.AsyncClient, url: str, headers: dict[str, str], body: tuple[bytes, str], scheduled: float
) -> dict[str, Any]:
    """POST one page at (or just after) ``scheduled`` (event-loop time); status, latencies, server ms."""
    loop = asyncio.get_running_loop()
    sent = loop.time()
    result: dict[str, Any] = {"lag_ms": (sent - scheduled) * 1000, "status": None, "error": None, "server_ms": None}
    try:
        response = await client.post(url, content=body[0], headers={**headers, "Content-Type": body[1]})
        result["status"] = response.status_code
        if response.status_code == 200:
            pages = response.json().get("pages") or [{}]
            result["server_ms"] = pages[0].get("timings_ms", {}).get("total")
    except httpx.HTTPError as exc:
        result["error"] = type(exc).__name__
    done = loop.time()
    result["latency_ms"] = (done - scheduled) * 1000
    result["service_ms"] = (done - sent) * 1000
    result["done_s"] = done
    return result


async def open_loop(
    url: str,
    headers: dict[str, str],
    bodies: Sequence[tuple[bytes, str]],
    times: Sequence[float],
    timeout_s: float,
) -> tuple[list[dict[str, Any]], float]:
    """Send ``bodies`` (cycled) at ``times`` seconds from now; every result, and the start (loop time)."""
    loop = asyncio.get_running_loop()
    # idle connections are dropped after 2 s, before the server's keep-alive (Uvicorn: 5 s) closes
    # them: with both at 5 s a request can go out on a connection the server is closing (a
    # ReadError after a few milliseconds, seen once at 4 requests/s)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None, keepalive_expiry=2.0)
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as client:
        start = loop.time() + 0.05
        tasks = []
        for t, body in zip(times, itertools.cycle(bodies)):
            delay = start + t - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(send_one(client, url, headers, body, start + t)))
        results = await asyncio.gather(*tasks)
    for r in results:
        r["done_s"] -= start
    return list(results), start


def summarize_rate(rate: float, results: Sequence[dict[str, Any]], duration_s: float) -> dict[str, Any]:
    """Counts, latency percentiles of 200 responses, failure fraction and achieved throughput at one rate."""
    ok = [r for r in results if r["status"] == 200]
    n = len(results)
    # the window is at least the schedule (n / rate), so a short burst is not counted as throughput
    span = max([r["done_s"] for r in results] + [n / rate])
    latency = summarize(r["latency_ms"] for r in ok)
    return {
        "rate": rate,
        "requests": n,
        "ok": len(ok),
        "status_503": sum(r["status"] == 503 for r in results),
        "other_status": sum(r["status"] not in (None, 200, 503) for r in results),
        "transport_errors": sum(r["error"] is not None for r in results),
        "failure_rate": (n - len(ok)) / n if n else 0.0,
        "p50_ms": latency["median"] if ok else None,
        "p95_ms": latency["p95"] if ok else None,
        "p99_ms": latency["p99"] if ok else None,
        "max_ms": latency.get("max") if ok else None,
        "server_ms_median": percentile([r["server_ms"] for r in ok if r["server_ms"] is not None], 50),
        "throughput_ok_per_s": len(ok) / span if span else 0.0,
        "schedule_s": duration_s,
        "max_send_lag_ms": max((r["lag_ms"] for r in results), default=0.0),
    }


def table(rows: Sequence[dict[str, Any]], slo_ms: float, best: float | None) -> str:
    """The per-rate table and the verdict line."""
    body = [
        [
            r["rate"],
            r["requests"],
            r["ok"],
            r["status_503"],
            r["other_status"] + r["transport_errors"],
            r["p50_ms"],
            r["p95_ms"],
            r["p99_ms"],
            r["server_ms_median"],
            r["throughput_ok_per_s"],
            r["max_send_lag_ms"],
        ]
        for r in rows
    ]
    headers = [
        "offered/s",
        "sent",
        "200",
        "503",
        "other err",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "server ms",
        "ok/s",
        "lag ms",
    ]
    verdict = f"Highest offered rate with p95 <= {slo_ms:.0f} ms and few failures: " + (
        f"**{best:g} requests/s**" if best is not None else "**none of the rates tried**"
    )
    return markdown_table(headers, body) + "\n\n" + verdict


def plot(rows: Sequence[dict[str, Any]], slo_ms: float, stem: Path) -> Path:
    """Latency percentiles against offered rate (SLO line), and achieved throughput and failures."""
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    rates = [r["rate"] for r in rows]
    for key in ("p50_ms", "p95_ms", "p99_ms"):
        left.plot(rates, [r[key] if r[key] is not None else float("nan") for r in rows], marker="o", label=key[:3])
    left.axhline(slo_ms, color="grey", linestyle="--", label=f"SLO {slo_ms:.0f} ms")
    left.set_xlabel("offered requests/s")
    left.set_ylabel("latency from scheduled send, ms")
    left.set_yscale("log")
    left.legend()
    right.plot(rates, [r["throughput_ok_per_s"] for r in rows], marker="o", label="200 responses/s")
    right.plot(rates, rates, color="grey", linestyle=":", label="offered")
    right.set_xlabel("offered requests/s")
    right.set_ylabel("requests/s")
    twin = right.twinx()
    twin.bar(rates, [100 * r["failure_rate"] for r in rows], width=0.15, alpha=0.3, color="red", label="failed %")
    twin.set_ylim(0, max([5.0] + [100 * r["failure_rate"] * 1.1 for r in rows]))
    twin.set_ylabel("failed %")
    right.legend(loc="upper left")
    return save_figure(fig, stem)


def _secret(name: str) -> bool:
    return any(word in name for word in ("KEY", "SECRET", "REDIS_URL", "TOKEN", "PASSWORD"))


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--rates", default="0.5,1,2,3,4", help="offered request rates per second, comma-separated")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of arrivals per rate")
    parser.add_argument("--max-requests", type=int, default=120, help="most requests per rate")
    parser.add_argument("--arrivals", choices=("uniform", "poisson"), default="uniform")
    parser.add_argument("--slo-ms", type=float, default=500.0, help="p95 latency objective")
    parser.add_argument("--max-failure-rate", type=float, default=0.01, help="failures allowed at a passing rate")
    parser.add_argument("--timeout", type=float, default=60.0, help="client timeout per request, seconds")
    parser.add_argument("--warmup", type=int, default=3, help="sequential requests before the first rate")
    parser.add_argument("--cooldown", type=float, default=3.0, help="seconds of quiet between rates")
    args = parser.parse_args(argv)
    rates = [float(r) for r in split_list(args.rates)]

    pages = load_pages(args.data, split_list(args.sets), args.split, args.pages)
    if not pages:
        parser.error("no pages found")
    bodies = page_bodies([p.image_path for p in pages])
    machine = machine_description()
    stem = output_stem(args.out, "http_load", args.tag)
    rows, raw = [], {}
    with ServedInstance(threads=args.threads, log_path=stem.with_suffix(".server.log")) as server:
        url = f"{server.url}/v1/read"
        for i in range(args.warmup):
            httpx.post(url, content=bodies[i % len(bodies)][0], headers=server.headers, timeout=args.timeout)
        for rate in rates:
            times = arrival_times(rate, args.duration, args.max_requests, args.arrivals)
            started = time.perf_counter()
            results, _ = asyncio.run(open_loop(url, server.headers, bodies, times, args.timeout))
            rows.append(summarize_rate(rate, results, times[-1] if times else 0.0))
            raw[str(rate)] = results
            row = rows[-1]
            print(
                f"rate {rate:g}/s: {row['ok']}/{row['requests']} ok, p95 {fmt(row['p95_ms'], 0)} ms "
                f"({time.perf_counter() - started:.0f} s)"
            )
            time.sleep(args.cooldown)
        startup_s = server.startup_s
    best = max_rate_within(rows, args.slo_ms, args.max_failure_rate)

    markdown = (
        f"# handocr serve under open-loop load ({args.arrivals} arrivals, {args.duration:g} s or "
        f"{args.max_requests} requests per rate, {len(bodies)} distinct pages)\n\n" + table(rows, args.slo_ms, best)
    )
    payload = {
        "benchmark": "http_load",
        "machine": {**machine, "load_average_end": list(os.getloadavg())},
        "config": {**vars(args), "rates": rates, "server_startup_s": startup_s},
        "server_env": {k: v for k, v in os.environ.items() if k.startswith("HANDOCR_") and not _secret(k)},
        "max_rate_within_slo": best,
        "rates": rows,
        "requests": raw,
    }
    files = write_results(stem, payload, markdown)
    files.append(plot(rows, args.slo_ms, stem))
    report(markdown, files)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
