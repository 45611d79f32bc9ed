"""The HTTP routes: thin wrappers that authenticate, rate-limit, read the body and call the engine."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, Security
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import APIKeyHeader, HTTPBearer
from pydantic import BaseModel, Field

from handocr.schema import Document
from handocr.service.auth import Authenticator, Principal
from handocr.service.body import MULTIPART_OVERHEAD, RAW_TYPES, content_type, read_multipart, read_raw
from handocr.service.clamd import ClamdClient, ScanUnavailable
from handocr.service.engine import Engine, check_format, check_type
from handocr.service.jobs import Job, JobStatus, JobStore, JobView
from handocr.service.metrics import Metrics
from handocr.service.middleware import RequestContext
from handocr.service.problems import (
    SCAN_UNAVAILABLE,
    VIRUS_FOUND,
    ApiError,
    Problem,
    problem_for_exception,
    problem_responses,
)
from handocr.service.ratelimit import RateLimiter
from handocr.service.settings import Settings

log = logging.getLogger("handocr.service")
WEB = resources.files("handocr.service") / "web"
CSP = "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"


@dataclass
class Services:
    """Everything the routes use, built once per app."""

    settings: Settings
    auth: Authenticator
    limiter: RateLimiter | None
    engine: Engine
    jobs: JobStore
    metrics: Metrics
    scanner: ClamdClient | None = None


def services(request: Request) -> Services:
    """The app's services."""
    return request.app.state.services


def context(request: Request) -> RequestContext:
    """The request's context (set by the middleware)."""
    return request.scope["handocr"]


_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
_bearer = HTTPBearer(auto_error=False, description="A JWT (HS256 or RS256) with `exp` and `sub`.")


async def client(
    request: Request,
    _key: Annotated[str | None, Security(_api_key)],
    _token: Annotated[Any, Security(_bearer)],
) -> Principal:
    """Authenticate the caller, then count the request against its rate limit (before any body is read)."""
    svc, ctx = services(request), context(request)
    address = request.client.host if request.client else "unknown"
    principal = svc.auth.authenticate(request.headers.get("x-api-key"), request.headers.get("authorization"), address)
    ctx.client_id = principal.client_id
    if svc.limiter is not None:
        try:
            decision = await svc.limiter.hit(principal.client_id)
        except Exception:  # a broken Redis must not take the service down: fail open, loudly
            log.warning("rate limiter unavailable; request allowed", exc_info=True)
        else:
            ctx.rate_headers = {k: v for k, v in decision.headers().items() if k != "Retry-After"}
            if not decision.allowed:
                raise ApiError(429, f"rate limit of {decision.limit} requests exceeded", decision.headers())
    return principal


Client = Annotated[Principal, Depends(client)]
Format = Annotated[
    str | None,
    Query(
        alias="format",
        description="Output format: json (default), text, or any registered exporter (hocr, alto, page...).",
    ),
]
Language = Annotated[
    str | None,
    Query(
        description="auto (guessed per page), any (the recognizer's general decoder) or a language the "
        "recognizer has a decoder for (see /readyz); default: the service's HANDOCR_LANGUAGE.",
    ),
]

_IMAGE_BODY = {"type": "string", "format": "binary"}
SINGLE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            **{t: {"schema": _IMAGE_BODY} for t in sorted(RAW_TYPES)},
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["file"], "properties": {"file": _IMAGE_BODY}}
            },
        },
    }
}
BATCH_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {"files": {"type": "array", "items": _IMAGE_BODY, "minItems": 1, "maxItems": 16}},
                }
            }
        },
    }
}

router = APIRouter()


async def scan_upload(request: Request, svc: Services, data: bytes) -> None:
    """Have clamd scan ``data`` (in memory) when ``HANDOCR_CLAMD_URL`` is set; nothing otherwise.

    A signature found is a 422 (the bytes are never echoed; the audit line says ``virus_found``).
    Fail closed: clamd unreachable, timing out or answering oddly is a 503 with Retry-After, so no
    upload is ever decoded unscanned while scanning is configured.
    """
    if svc.scanner is None:
        return
    ctx = context(request)
    try:
        result = await svc.scanner.scan(data)
    except ScanUnavailable as exc:
        log.warning("virus scan unavailable (request %s): %s", ctx.request_id, exc)
        ctx.reject_reason = "scan_unavailable"
        raise ApiError(
            503,
            "the virus scanner is unavailable; try again later",
            {"Retry-After": str(svc.settings.retry_after_s)},
            kind=SCAN_UNAVAILABLE,
        ) from None
    if not result.clean:
        log.warning("virus scan found %s (request %s)", result.signature, ctx.request_id)
        ctx.reject_reason = "virus_found"
        raise ApiError(422, f"the virus scan found {result.signature}", kind=VIRUS_FOUND)


async def receive_one(request: Request, svc: Services) -> tuple[bytes, str | None]:
    """The single uploaded image (raw body or multipart field ``file``) and its file name, if any."""
    limit = svc.settings.max_bytes
    kind = content_type(request)
    if kind == "multipart/form-data":
        uploads = await read_multipart(request, {"file"}, limit + MULTIPART_OVERHEAD, limit, 1)
        if not uploads:
            raise ApiError(422, "multipart field 'file' is missing")
        if uploads[0].too_large:
            raise ApiError(413, f"file is over the limit of {limit} bytes")
        data, source = bytes(uploads[0].data), uploads[0].filename
    elif kind in RAW_TYPES:
        data, source = await read_raw(request, limit), None
    else:
        raise ApiError(415, "send an image as the body (image/*, application/pdf) or as multipart field 'file'")
    context(request).sha256.append(hashlib.sha256(data).hexdigest())
    check_type(data)
    await scan_upload(request, svc, data)
    return data, source


@router.post(
    "/v1/read",
    summary="Read one image",
    response_model=Document,
    responses={
        200: {"description": "The Document, or the ?format= exporter's output (its media type)."},
        **problem_responses(401, 413, 415, 422, 429, 503),
    },
    openapi_extra=SINGLE_BODY,
)
async def read(request: Request, principal: Client, fmt: Format = None, language: Language = None) -> Response:
    """Read an image sent as the body or as multipart field ``file``; returns the Document JSON or ``?format=``."""
    svc = services(request)
    format_name = check_format(fmt)
    svc.engine.require_ready()
    svc.engine.reader_for(language)  # an unknown language: 422 before the upload is read
    svc.engine.check_capacity()
    data, source = await receive_one(request, svc)
    output = await svc.engine.read(data, source, format_name, language=language)
    return Response(output.content, media_type=output.media_type)


class BatchItem(BaseModel):
    """One file of a batch: its position, name, status, and the Document or a problem."""

    index: int
    filename: str | None = None
    status: int = Field(description="HTTP status this item would have had on its own.")
    result: Document | None = None
    problem: Problem | None = None


class BatchResult(BaseModel):
    """The items of a batch, in the order they were sent."""

    items: list[BatchItem]


@router.post(
    "/v1/read:batch",
    summary="Read up to 16 images",
    response_model=BatchResult,
    response_model_exclude_none=True,
    responses=problem_responses(401, 413, 415, 422, 429, 503),
    openapi_extra=BATCH_BODY,
)
async def read_batch(request: Request, principal: Client, language: Language = None) -> BatchResult:
    """Read every multipart ``files`` part; a bad file gets its own problem, the others still succeed."""
    svc, ctx = services(request), context(request)
    svc.engine.require_ready()
    svc.engine.reader_for(language)
    svc.engine.check_capacity()
    if content_type(request) != "multipart/form-data":
        raise ApiError(415, "send the files as multipart/form-data, field 'files'")
    settings = svc.settings
    uploads = await read_multipart(
        request, {"files"}, settings.max_batch_bytes, settings.max_bytes, settings.max_batch_files
    )
    if not uploads:
        raise ApiError(422, "multipart field 'files' is missing")
    items: list[BatchItem] = []
    todo: list[tuple[int, bytes, str | None]] = []
    for index, upload in enumerate(uploads):
        data = bytes(upload.data)
        ctx.sha256.append(hashlib.sha256(data).hexdigest())
        try:
            if upload.too_large:
                raise ApiError(413, f"file is over the limit of {settings.max_bytes} bytes")
            check_type(data)
            await scan_upload(request, svc, data)
        except ApiError as exc:
            if exc.kind == SCAN_UNAVAILABLE:
                raise  # fail closed for the whole batch
            items.append(_failed_item(index, upload.filename, exc, ctx.request_id))
        except Exception as exc:
            items.append(_failed_item(index, upload.filename, exc, ctx.request_id))
        else:
            todo.append((index, data, upload.filename))
    if todo:
        inputs = [(data, name) for _, data, name in todo]
        results = await svc.engine.run(svc.engine.read_many_sync, inputs, language)
        for (index, _, name), result in zip(todo, results, strict=True):
            if isinstance(result, Exception):
                items.append(_failed_item(index, name, result, ctx.request_id))
            else:
                items.append(BatchItem(index=index, filename=name, status=200, result=result))
    return BatchResult(items=sorted(items, key=lambda item: item.index))


def _failed_item(index: int, filename: str | None, error: Exception, request_id: str) -> BatchItem:
    problem = problem_for_exception(error, request_id)
    return BatchItem(index=index, filename=filename, status=problem.status, problem=problem)


def _job_response(job: Job, status_code: int, svc: Services) -> JSONResponse:
    headers = {"Operation-Location": f"/v1/jobs/{job.id}"}
    if not job.finished:
        headers["Retry-After"] = str(svc.settings.retry_after_s)
    body = job.view().model_dump(mode="json", by_alias=True, exclude_none=True)
    return JSONResponse(body, status_code=status_code, headers=headers)


async def _run_job(svc: Services, job: Job, request_id: str, language: str | None = None) -> None:
    data = job.data
    assert data is not None

    def work() -> Document:
        svc.jobs.touch(job, JobStatus.running)
        return svc.engine.read_sync(data, job.source, language=language).document

    try:
        job.result = await svc.engine.run(work, wait=True)
        svc.jobs.touch(job, JobStatus.succeeded)
    except asyncio.CancelledError:
        job.data = None
        raise
    except Exception as exc:
        job.error = problem_for_exception(exc, request_id)
        svc.jobs.touch(job, JobStatus.failed)
        if job.error.status == 500:
            log.error("job %s failed unexpectedly", job.id, exc_info=exc)


@router.post(
    "/v1/jobs",
    summary="Start reading an image in the background",
    status_code=202,
    response_model=JobView,
    response_model_by_alias=True,
    responses=problem_responses(401, 413, 415, 422, 429, 503),
    openapi_extra=SINGLE_BODY,
)
async def create_job(request: Request, principal: Client, language: Language = None) -> JSONResponse:
    """Accept an image (as for /v1/read) and answer 202 with ``Operation-Location`` to poll."""
    svc = services(request)
    svc.engine.require_ready()
    svc.engine.reader_for(language)
    data, source = await receive_one(request, svc)
    job = svc.jobs.create(principal.client_id, data, source)
    job.task = asyncio.create_task(_run_job(svc, job, context(request).request_id, language))
    return _job_response(job, 202, svc)


@router.get(
    "/v1/jobs/{job_id}",
    summary="A job's status and result",
    response_model=JobView,
    response_model_by_alias=True,
    responses=problem_responses(401, 404, 429),
)
async def get_job(request: Request, job_id: str, principal: Client) -> JSONResponse:
    """The job's status, with ``result`` (a Document) once succeeded or ``error`` (a problem) once failed."""
    svc = services(request)
    return _job_response(svc.jobs.get(job_id, principal.client_id), 200, svc)


@router.delete(
    "/v1/jobs/{job_id}",
    summary="Cancel and forget a job",
    status_code=204,
    responses=problem_responses(401, 404, 429),
)
async def delete_job(request: Request, job_id: str, principal: Client) -> Response:
    """Cancel the job if it has not finished and forget it and its result."""
    services(request).jobs.delete(job_id, principal.client_id)
    return Response(status_code=204)


@router.get("/livez", summary="Liveness", tags=["health"])
async def livez() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness", tags=["health"], responses=problem_responses(503))
async def readyz(request: Request) -> dict[str, Any]:
    """Ready once the models are loaded and warmed up; 503 before."""
    engine = services(request).engine
    engine.require_ready()
    assert engine.reader is not None
    languages = getattr(engine.reader.recognizer, "languages", ())
    return {"status": "ready", "models": engine.reader.models.model_dump(), "languages": list(languages)}


@router.get("/metrics", summary="Prometheus metrics", tags=["health"], response_class=Response)
async def metrics(request: Request) -> Response:
    """Metrics in the Prometheus text format."""
    m = services(request).metrics
    return Response(m.render(), media_type=m.content_type)


@router.get("/", include_in_schema=False)
async def index() -> HTMLResponse:
    """The web page."""
    return HTMLResponse((WEB / "index.html").read_text(), headers={"Content-Security-Policy": CSP})


@router.get("/app.js", include_in_schema=False)
async def app_js() -> Response:
    """The web page's script."""
    return Response((WEB / "app.js").read_text(), media_type="text/javascript")


@router.get("/app.css", include_in_schema=False)
async def app_css() -> Response:
    """The web page's style sheet."""
    return Response((WEB / "app.css").read_text(), media_type="text/css")
