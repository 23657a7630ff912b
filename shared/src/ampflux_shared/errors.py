"""RFC 9457 problem+json for every error a service returns, validation included.

`type` is a stable URI per kind of problem; clients switch on it, people read `detail`.
Unexpected exceptions become a bare 500 problem: the trace goes to the log, never the client.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://ampflux.dev/problems/"
log = logging.getLogger("ampflux.errors")


def problem_type(slug: str) -> str:
    return TYPE_BASE + slug


def problem_body(
    status: int, *, slug: str | None = None, title: str | None = None, detail: str | None = None, **extra: Any
) -> dict[str, Any]:
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    body: dict[str, Any] = {
        "type": problem_type(slug or phrase.lower().replace(" ", "-").replace("'", "")),
        "title": title or phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_response(status: int, *, headers: dict[str, str] | None = None, **kwargs: Any) -> JSONResponse:
    return JSONResponse(
        problem_body(status, **kwargs), status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers
    )


class ProblemError(Exception):
    """Raise from anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        slug: str | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.slug = slug
        self.title = title
        self.errors = errors
        self.headers = headers
        self.extra = extra


def not_found(what: str) -> ProblemError:
    return ProblemError(404, f"{what} not found", slug="not-found")


def conflict(detail: str) -> ProblemError:
    return ProblemError(409, detail, slug="conflict")


def forbidden(detail: str = "You are not allowed to do this") -> ProblemError:
    return ProblemError(403, detail, slug="forbidden")


def unauthorized(detail: str = "Authentication required") -> ProblemError:
    return ProblemError(401, detail, slug="unauthorized", headers={"WWW-Authenticate": "Bearer"})


def field_error(path: str, message: str, code: str = "invalid") -> dict[str, str]:
    return {"path": path, "code": code, "message": message}


def validation_failed(errors: list[dict[str, Any]], detail: str | None = None) -> ProblemError:
    return ProblemError(
        422,
        detail or f"{len(errors)} validation error(s)",
        slug="validation-error",
        title="Validation failed",
        errors=errors,
    )


def _loc_to_path(loc: tuple[Any, ...]) -> str:
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        where, parts = parts[0], parts[1:]
    else:
        where = None
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    if where and where != "body":
        return f"{where}.{out}" if out else where
    return out or (where or "")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            exc.status,
            slug=exc.slug,
            title=exc.title,
            detail=exc.detail,
            errors=exc.errors,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            field_error(_loc_to_path(tuple(e.get("loc", ()))), e.get("msg", "invalid"), e.get("type", "invalid"))
            for e in exc.errors()
        ]
        return problem_response(
            422,
            slug="validation-error",
            title="Validation failed",
            detail=f"{len(errors)} validation error(s)",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem_response(exc.status_code, detail=detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(500, slug="internal-error", detail="An unexpected error occurred; it has been logged.")
