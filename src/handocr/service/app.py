"""The FastAPI app factory and the server entry point.

``create_app(reader=None, settings=None)`` builds the app; with no reader, the models are loaded
(and warmed up) in the background at startup and ``/readyz`` answers 503 until they are ready.
``run(host, port)`` serves it with Uvicorn (HTTPS with TLS 1.3 minimum when ``HANDOCR_TLS_CERT`` and
``HANDOCR_TLS_KEY`` are set), which drains in-flight requests on SIGTERM/SIGINT for up to
``HANDOCR_GRACEFUL_SHUTDOWN_S`` seconds.

State (rate-limit counters without Redis, jobs) lives in the process: run one worker per
container, or set ``HANDOCR_REDIS_URL`` to share rate limits (jobs stay per process).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

import handocr
from handocr.exporters import EXPORTERS
from handocr.pipeline import Reader
from handocr.service.auth import Authenticator
from handocr.service.clamd import ClamdClient
from handocr.service.engine import Engine
from handocr.service.jobs import JobStore
from handocr.service.metrics import Metrics
from handocr.service.middleware import ServiceMiddleware
from handocr.service.problems import PROBLEM_MEDIA_TYPE, install_handlers
from handocr.service.ratelimit import make_rate_limiter
from handocr.service.routes import Services, router
from handocr.service.settings import Settings

log = logging.getLogger("handocr.service")


def build_services(settings: Settings, reader: Reader | None) -> Services:
    """The services an app needs, from checked settings."""
    settings.check()
    metrics = Metrics()
    return Services(
        settings=settings,
        auth=Authenticator(settings),
        limiter=make_rate_limiter(settings),
        engine=Engine(settings, metrics, reader),
        jobs=JobStore(settings.job_ttl_s, settings.max_jobs, settings.retry_after_s),
        metrics=metrics,
        scanner=ClamdClient(settings.clamd_url, settings.clamd_timeout_s) if settings.clamd_url else None,
    )


def create_app(reader: Reader | None = None, settings: Settings | None = None) -> FastAPI:
    """The handocr REST app. Raises :class:`~handocr.service.settings.ServiceConfigError` on unsafe settings."""
    settings = settings or Settings()
    svc = build_services(settings, reader)
    if svc.auth.disabled:
        log.warning("authentication is disabled (HANDOCR_AUTH_DISABLED=true): every caller is trusted")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loading: asyncio.Task[None] | None = None
        if reader is not None:
            await svc.engine.start()
        else:
            loading = asyncio.create_task(svc.engine.start())
        try:
            yield
        finally:
            if loading is not None and not loading.done():
                loading.cancel()
            svc.jobs.cancel_all()
            if svc.limiter is not None:
                await svc.limiter.close()
            svc.engine.close()

    app = FastAPI(
        title="handocr",
        version=getattr(handocr, "__version__", "0"),
        summary="Read handwritten pages: lines, paragraphs, words, text and confidences.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load from a CDN; the service works offline.
        redoc_url=None,
    )
    app.state.services = svc
    install_handlers(app, router.routes)
    app.include_router(router)
    app.add_middleware(ServiceMiddleware, metrics=svc.metrics)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The schema, with error responses documented as ``application/problem+json`` only."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, summary=app.summary, routes=app.routes, description=app.description
    )
    read_ok = schema["paths"]["/v1/read"]["post"]["responses"]["200"]["content"]
    for exporter in EXPORTERS.values():  # every ?format= the registry knows, at the time of asking
        read_ok.setdefault(exporter.media_type.split(";")[0].strip(), {})
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status[0] in "45" and PROBLEM_MEDIA_TYPE in content:
                    content.pop("application/json", None)
    app.openapi_schema = schema
    return schema


def configure_logging(level: str = "info") -> None:
    """Service logs to stderr; audit lines (bare JSON) to stdout."""
    service = logging.getLogger("handocr")
    if not service.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        service.addHandler(handler)
    service.setLevel(level.upper())
    audit = logging.getLogger("handocr.audit")
    if not audit.handlers:
        audit_handler = logging.StreamHandler(sys.stdout)
        audit_handler.setFormatter(logging.Formatter("%(message)s"))
        audit.addHandler(audit_handler)
    audit.setLevel(logging.INFO)
    audit.propagate = False


def run(host: str, port: int) -> None:
    """Serve the app with Uvicorn until SIGTERM/SIGINT, then drain in-flight requests and stop.

    Plain HTTP, or HTTPS with TLS 1.3 as the minimum version when ``HANDOCR_TLS_CERT`` and
    ``HANDOCR_TLS_KEY`` are set (:mod:`handocr.service.server`).
    """
    import uvicorn

    from handocr.service.server import server_config

    settings = Settings()
    configure_logging(settings.log_level)
    app = create_app(settings=settings)
    config = server_config(app, settings, host, port)
    if settings.tls_enabled:
        log.info("serving HTTPS (TLS 1.3 minimum) with certificate %s", settings.tls_cert)
    uvicorn.Server(config).run()
