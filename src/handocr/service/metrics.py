"""Prometheus metrics, in a registry of the app's own (so several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from handocr.schema import Document

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
STAGES = ("decode", "detect", "recognize", "layout", "total")


class Metrics:
    """The service's metrics: request latency, stage latency, pages, rejects, in-flight."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.request_seconds = Histogram(
            "handocr_request_duration_seconds",
            "HTTP request latency by route template, method and status.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "handocr_stage_duration_seconds",
            "Per-page latency of each pipeline stage (from Page.timings_ms).",
            ["stage"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.pages = Counter("handocr_pages", "Pages read.", registry=self.registry)
        self.rejects = Counter("handocr_rejects", "Requests refused, by reason.", ["reason"], registry=self.registry)
        self.in_flight = Gauge("handocr_requests_in_flight", "HTTP requests being handled.", registry=self.registry)
        self.reads_in_flight = Gauge(
            "handocr_reads_in_flight", "Reads admitted (running or waiting for a worker).", registry=self.registry
        )

    def observe_document(self, document: Document) -> None:
        """Count the pages of a result and record their stage timings."""
        for page in document.pages:
            self.pages.inc()
            timings = page.timings_ms
            for stage in STAGES:
                self.stage_seconds.labels(stage).observe(getattr(timings, stage) / 1000.0)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
