"""The outermost layer of the app: request ids, standard headers, metrics, the audit log, last-resort 500s.

A plain ASGI middleware (not ``BaseHTTPMiddleware``), so request bodies keep streaming. Each request
gets a :class:`RequestContext` at ``scope["handocr"]``, which routes fill in (client id, image hashes,
rate-limit headers) and which is written out as one JSON audit line per call on logger ``handocr.audit``.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handocr.service.metrics import Metrics
from handocr.service.problems import REJECT_REASONS, problem_for_exception

audit_log = logging.getLogger("handocr.audit")
log = logging.getLogger("handocr.service")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
QUIET_ROUTES = {"/livez", "/readyz", "/metrics"}
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


@dataclass
class RequestContext:
    """What is known about one request, filled in as it is handled."""

    request_id: str
    started: float = field(default_factory=time.perf_counter)
    client_id: str | None = None
    sha256: list[str] = field(default_factory=list)
    rate_headers: dict[str, str] = field(default_factory=dict)
    reject_reason: str | None = None
    bytes_in: int = 0
    bytes_out: int = 0
    status: int = 500


def pick_request_id(header: str | None) -> str:
    """The client's X-Request-ID if it is short and made of safe characters, else a fresh one."""
    if header and _REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The matched route's path template (bounded label values), or ``unmatched``."""
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


class ServiceMiddleware:
    """Adds request ids and standard headers, records metrics and writes the audit line."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        context = RequestContext(pick_request_id(Headers(scope=scope).get("x-request-id")))
        scope["handocr"] = context
        started = False

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                context.bytes_in += len(message.get("body", b""))
            return message

        async def decorating_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                context.status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = context.request_id
                for name, value in {**SECURITY_HEADERS, **context.rate_headers}.items():
                    if name not in headers:
                        headers[name] = value
            elif message["type"] == "http.response.body":
                context.bytes_out += len(message.get("body", b""))
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, counting_receive, decorating_send)
        except Exception as error:
            log.exception("unexpected error (request %s)", context.request_id)
            if not started:
                await self._send_500(error, context, decorating_send)
        finally:
            self.metrics.in_flight.dec()
            self._record(scope, context)

    async def _send_500(self, error: Exception, context: RequestContext, send: Send) -> None:
        problem = problem_for_exception(error, context.request_id)
        body = json.dumps(problem.model_dump(exclude_none=True)).encode()
        headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 500, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _record(self, scope: Scope, context: RequestContext) -> None:
        route = route_template(scope)
        elapsed = time.perf_counter() - context.started
        self.metrics.request_seconds.labels(route, scope["method"], str(context.status)).observe(elapsed)
        reason = context.reject_reason or REJECT_REASONS.get(context.status)
        if reason:
            self.metrics.rejects.labels(reason).inc()
        if route in QUIET_ROUTES and context.status < 400:
            return
        record = {
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "request_id": context.request_id,
            "client": context.client_id,
            "method": scope["method"],
            "route": route,
            "status": context.status,
            "bytes_in": context.bytes_in,
            "bytes_out": context.bytes_out,
            "sha256": context.sha256 or None,
            "latency_ms": round(elapsed * 1000, 2),
        }
        if context.reject_reason:
            record["reason"] = context.reject_reason
        audit_log.info(json.dumps(record, separators=(",", ":")))
