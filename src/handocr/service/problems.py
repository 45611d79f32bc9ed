"""RFC 9457 problem details: the error model, the one mapping from typed errors to HTTP statuses, handlers.

Every error response is ``application/problem+json`` with ``type``, ``title``, ``status``, ``detail``,
``instance`` and the ``request_id`` extension member.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from handocr.errors import HandocrError, ImageTooLarge, InvalidImage, ModelNotFound, UnsupportedMediaType

PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("handocr.service")


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="URI naming the kind of problem.", examples=["urn:handocr:problem:too-large"])
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(None, description="What went wrong this time.")
    instance: str | None = Field(None, description="URI of this occurrence (contains the request id).")
    request_id: str | None = Field(None, description="The X-Request-ID of the request.")


# status -> (slug, title, metric reason). The one place statuses are named.
KINDS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthorized", "Missing or invalid credentials"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("too-large", "Content too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("unprocessable", "Unprocessable content"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal", "Internal server error"),
    503: ("unavailable", "Service unavailable"),
}

# Library errors -> HTTP status. Looked up along the exception's MRO, so subclasses come first.
ERROR_STATUS: dict[type[HandocrError], int] = {
    UnsupportedMediaType: 415,
    InvalidImage: 422,
    ImageTooLarge: 413,
    ModelNotFound: 503,
    HandocrError: 422,
}

# Problem kinds that share a status with others: (slug, title), passed as ApiError(kind=...).
VIRUS_FOUND = ("virus-found", "Upload rejected by the virus scan")
SCAN_UNAVAILABLE = ("scan-unavailable", "Virus scan unavailable")

REJECT_REASONS: dict[int, str] = {
    401: "unauthorized",
    413: "too_large",
    415: "unsupported_type",
    422: "invalid_input",
    429: "rate_limited",
    503: "overloaded",
}


class ApiError(Exception):
    """An error answered with a problem response; raise it from routes and dependencies."""

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        kind: tuple[str, str] | None = None,
    ) -> None:
        super().__init__(detail or (kind or KINDS.get(status, ("error", "Error")))[1])
        self.status = status
        self.detail = detail
        self.headers = headers or {}
        self.kind = kind


def status_for(error: HandocrError) -> int:
    """The HTTP status for a library error."""
    for cls in type(error).__mro__:
        if cls in ERROR_STATUS:
            return ERROR_STATUS[cls]
    return 500


def make_problem(
    status: int, detail: str | None, request_id: str | None, kind: tuple[str, str] | None = None
) -> Problem:
    """A problem object for ``status`` with the standard type and title (or ``kind``'s slug and title)."""
    slug, title = kind or KINDS.get(status, ("error", "Error"))
    instance = f"urn:handocr:request:{request_id}" if request_id else None
    return Problem(
        type=f"urn:handocr:problem:{slug}",
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        request_id=request_id,
    )


def problem_for_exception(error: Exception, request_id: str | None) -> Problem:
    """The problem object for any exception (library errors mapped, others answered 500 without detail)."""
    if isinstance(error, ApiError):
        return make_problem(error.status, error.detail, request_id, error.kind)
    if isinstance(error, HandocrError):
        return make_problem(status_for(error), str(error), request_id)
    return make_problem(500, "unexpected error; the request id is in the server log", request_id)


def problem_response(problem: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    """A JSON response with the problem media type."""
    body = problem.model_dump(exclude_none=True)
    return JSONResponse(body, status_code=problem.status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def _request_id(request: Request) -> str | None:
    context = request.scope.get("handocr")
    return getattr(context, "request_id", None)


def _allowed_methods(request: Request, routes: Sequence[BaseRoute]) -> list[str]:
    """Every method some route accepts at the request's path (Starlette lists only the first route's)."""
    methods: set[str] = set()
    for route in routes:
        match, _ = route.matches({**request.scope, "type": "http"})
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def install_handlers(app: FastAPI, routes: Sequence[BaseRoute] = ()) -> None:
    """Answer every error raised in the app as a problem response; ``routes`` are listed in 405's Allow."""

    async def on_api_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return problem_response(problem_for_exception(error, _request_id(request)), error.headers)

    async def on_handocr_error(request: Request, error: Exception) -> JSONResponse:
        return problem_response(problem_for_exception(error, _request_id(request)))

    async def on_validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        detail = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}" for e in error.errors())
        return problem_response(make_problem(422, detail[:500], _request_id(request)))

    async def on_http(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        problem = make_problem(error.status_code, str(error.detail), _request_id(request))
        headers = dict(error.headers or {})
        if error.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request, routes))
        return problem_response(problem, headers)

    async def on_unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error (request %s)", _request_id(request), exc_info=error)
        return problem_response(problem_for_exception(error, _request_id(request)))

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(HandocrError, on_handocr_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)


_DESCRIPTIONS = {
    401: "Missing or invalid credentials (see WWW-Authenticate).",
    404: "No such resource (or it belongs to another client).",
    413: "Upload over the byte limit, or an image over the pixel/page limit.",
    415: "Not a supported image type (checked by magic bytes).",
    422: "Malformed request, unknown format, too many files, an image that cannot be decoded, "
    "or an upload rejected by the virus scan.",
    429: "Rate limit exceeded; see Retry-After and RateLimit-* headers.",
    503: "Overloaded, models not ready, or the virus scanner unavailable; see Retry-After.",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem responses for ``statuses``."""
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS.get(status, KINDS[status][1]),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": schema}},
        }
        for status in statuses
    }
