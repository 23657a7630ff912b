"""RFC 9457 problem+json for every error a service returns, validation included.

`type` is a stable URI per kind of problem; clients switch on it, people read `detail`.
Unexpected exceptions become a bare 500 problem: the trace goes to the log, never the client.
A database that cannot be reached is a 503 with `Retry-After`: the request may well succeed
once it is back, which a 500 would not tell the client.
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


# The named problems domain and API code raise: the status lives here, with the kind of
# problem, so a rule and its HTTP answer cannot drift apart. `slug` names the specific
# problem (the `type` clients switch on); `extra` adds members to the problem document.


def bad_request(detail: str, *, slug: str) -> ProblemError:
    """400 for a request that cannot be understood as sent (not a field's value: for those
    use `validation_failed`)."""
    return ProblemError(400, detail, slug=slug)


def not_found(what: str, *, detail: str | None = None) -> ProblemError:
    """404 for `what`; `detail` replaces the "<what> not found" sentence when it says more."""
    return ProblemError(404, detail or f"{what} not found", slug="not-found")


def conflict(detail: str, *, slug: str = "conflict", **extra: Any) -> ProblemError:
    """409: the request is fine, the resource's current state does not allow it."""
    return ProblemError(409, detail, slug=slug, **extra)


def forbidden(
    detail: str = "You are not allowed to do this",
    *,
    slug: str = "forbidden",
    errors: list[dict[str, Any]] | None = None,
    **extra: Any,
) -> ProblemError:
    return ProblemError(403, detail, slug=slug, errors=errors, **extra)


def unauthorized(
    detail: str = "Authentication required", *, slug: str = "unauthorized", scheme: str = "Bearer"
) -> ProblemError:
    return ProblemError(401, detail, slug=slug, headers={"WWW-Authenticate": scheme})


def unprocessable(detail: str, *, slug: str, **extra: Any) -> ProblemError:
    """422 for a request that is well-formed but cannot be processed, not tied to one field
    (for invalid fields use `validation_failed`)."""
    return ProblemError(422, detail, slug=slug, **extra)


def too_large(detail: str, *, slug: str = "too-large") -> ProblemError:
    return ProblemError(413, detail, slug=slug)


def too_many_requests(
    detail: str,
    *,
    retry_after_s: int,
    slug: str = "too-many-requests",
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemError:
    """429 with `Retry-After` (whole seconds, at least 1) in the header and the body; `headers`
    adds others (the gateway's `RateLimit-*`)."""
    retry_after_s = max(1, int(retry_after_s))
    headers = {**(headers or {}), "Retry-After": str(retry_after_s)}
    return ProblemError(429, detail, slug=slug, headers=headers, retry_after=retry_after_s, **extra)


def unavailable(
    detail: str, *, slug: str = "unavailable", retry_after_s: int | None = None, **extra: Any
) -> ProblemError:
    """503: a dependency (database, broker, another service) cannot answer now."""
    headers = {"Retry-After": str(retry_after_s)} if retry_after_s is not None else None
    return ProblemError(503, detail, slug=slug, headers=headers, **extra)


def bad_gateway(detail: str, *, slug: str = "bad-gateway", **extra: Any) -> ProblemError:
    """502: the upstream this request needed (an AI provider, another service) answered with a
    failure, or could not be reached."""
    return ProblemError(502, detail, slug=slug, **extra)


def gateway_timeout(detail: str, *, slug: str = "gateway-timeout", **extra: Any) -> ProblemError:
    """504: the upstream this request needed did not answer in time."""
    return ProblemError(504, detail, slug=slug, **extra)


def relayed(status: int, detail: str, *, slug: str | None = None) -> ProblemError:
    """A refusal another service answered, passed on with its own status (the gateway
    relaying a WebSocket handshake it could not complete)."""
    return ProblemError(status, detail, slug=slug)


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


_INT4 = 2**31 - 1
# Seconds a client should wait after a database outage answer: the pool reconnects at the next
# checkout (pre-ping), and a PostgreSQL restart or failover takes a few seconds.
DATABASE_RETRY_AFTER_S = 5
# An unexpected 500 asks the client (or gateway) not to reuse the connection: the process that
# answered it may be in a bad state, and a fresh connection can reach another instance.
CLOSE_CONNECTION = {"Connection": "close"}


def _bind_name(key: str) -> str:
    # SQLAlchemy numbers repeated bind parameters (`number_1`); the column is the name.
    base, _, suffix = key.rpartition("_")
    return base if base and suffix.isdigit() else key


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):  # raw, or escaped inside a JSON document bound as text
        return "\x00" in value or "\\u0000" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    # The driver's JSON wrappers (psycopg's Json/Jsonb) hold the document in `obj`.
    return hasattr(value, "obj") and _has_nul(value.obj)


def _unstorable_values(params: Any) -> list[dict[str, str]]:
    """Which statement parameters the database refused, by column name (best effort)."""
    rows = params if isinstance(params, list | tuple) else [params]
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        if not isinstance(row, dict):
            continue
        for key, value in row.items():
            name = _bind_name(str(key))
            if _has_nul(value):
                found[name] = field_error(name, "text may not contain NUL (U+0000) characters", "nul_character")
            elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _INT4:
                found.setdefault(name, field_error(name, "number out of range", "out_of_range"))
    return list(found.values())


def _database_outage_errors() -> tuple[type[Exception], ...]:
    """What the database layer raises when the server cannot be reached or used right now:
    refused or reset connections, a restart (admin shutdown), a pool with no connection free
    in time. SQLAlchemy wraps the driver's errors; psycopg's own are listed for code that
    talks to the driver directly (LISTEN connections)."""
    import psycopg
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    return (OperationalError, InterfaceError, PoolTimeoutError, psycopg.OperationalError, psycopg.InterfaceError)


def database_unavailable_response() -> JSONResponse:
    return problem_response(
        503,
        slug="database-unavailable",
        detail="the database is unavailable right now; retry later",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)},
    )


def install_database_error_handlers(app: FastAPI) -> None:
    """For services with a database: a value the database refuses to store or compare (NUL in
    text, an integer beyond the column's range, ...) came from the request, so it is a 422
    naming what we can tell, never a 500; a database that cannot be reached is a 503 with
    `Retry-After`. (Imported here lazily: the gateway has no database.)"""
    from sqlalchemy.exc import DataError

    async def _outage(request: Request, exc: Exception) -> JSONResponse:
        # One line, no trace: an outage is not a bug, and it can answer thousands of requests.
        cause = getattr(exc, "orig", None) or exc
        reason = (str(cause).splitlines() or [type(cause).__name__])[0]
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, reason)
        return database_unavailable_response()

    for kind in _database_outage_errors():
        app.add_exception_handler(kind, _outage)

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "invalid value"
        log.info("database refused a value on %s %s: %s", request.method, request.url.path, reason)
        return problem_response(
            422,
            slug="unstorable-value",
            title="Validation failed",
            detail=f"a value in the request cannot be stored: {reason}",
            errors=_unstorable_values(exc.params) or None,
        )


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
        return problem_response(
            500,
            slug="internal-error",
            detail="An unexpected error occurred; it has been logged.",
            headers=CLOSE_CONNECTION,
        )
