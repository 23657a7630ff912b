"""The problem+json answers every route documents in OpenAPI, derived once for all services.

A route's possible 4xx/5xx follow from what it is built of, so they are worked out here from
its dependencies and its operation instead of being written by hand on each route (where they
would drift from what the code does):

| answer | when | why |
|---|---|---|
| 400 | the route takes a body | a body that cannot be decoded at all (not JSON text) |
| 401 | the route reads the bearer token (`optional_principal`) | a missing, expired or forged token |
| 403 | the route needs a principal (`current_principal`) | the roles or the API key's scopes refuse |
| 404 | a path parameter, or an id (`format: uuid`) in the query or body | no such resource in the caller's company |
| 409 | a write (POST/PUT/PATCH/DELETE) in the request's transaction | the change conflicts with the current state |
| 413 | the route takes a body | over the one document limit (`BodySizeLimitMiddleware`) |
| 422 | the route takes parameters or a body | `errors[]` names each field (path, code, message) |
| 503 | the route opens the request's transaction (`unit_of_work`), and `/ready` | the database is unreachable |

Statuses a route declares itself (`responses={409: ...}`) stay as written; those declared as
problem+json without a schema get the `Problem` schema. The gateway adds what only it answers
(429 on rate-limited routes) when it serves a service's document (`ampflux_gateway.docs`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from .errors import PROBLEM_MEDIA_TYPE
from .health import ready
from .security import current_principal, optional_principal

PROBLEM_REF = "#/components/schemas/Problem"

FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "FieldError",
    "type": "object",
    "description": "One invalid field: where it is, a stable code and a human message.",
    "properties": {
        "path": {"type": "string", "description": "the field, e.g. `buses[2].un_kv` or `query.page`"},
        "code": {"type": "string", "description": "a stable code for the kind of error"},
        "message": {"type": "string"},
    },
    "required": ["path", "message"],
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "An error as RFC 9457 problem details (`application/problem+json`).",
    "properties": {
        "type": {"type": "string", "description": "a stable URI per kind of problem; clients switch on it"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "what went wrong, for people"},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
    },
    "required": ["type", "title", "status"],
    # Some problems carry more members (`required_scope`, `checks`, ...).
    "additionalProperties": True,
}

DESCRIPTIONS = {
    400: "The body could not be decoded",
    401: "No valid access token (missing, expired or not ours)",
    403: "The caller's roles or the API key's scopes do not allow this",
    404: "No such resource in the caller's company",
    409: "The change conflicts with the resource's current state",
    413: "The request body exceeds the document limit",
    422: "Invalid parameters or body; `errors` names each field",
    429: "Rate limited; retry after `Retry-After` seconds",
    503: "A dependency (the database) is unavailable; retry later",
}

HEADERS = {
    401: {"WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer`"}},
    429: {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds until a request fits"}},
    503: {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait before retrying"}},
}


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """One OpenAPI response entry answered as a problem document."""
    entry: dict[str, Any] = {
        "description": description or DESCRIPTIONS.get(status, "Error"),
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if status in HEADERS:
        entry["headers"] = HEADERS[status]
    return entry


def add_problem_schemas(doc: dict[str, Any]) -> None:
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    schemas.setdefault("Problem", PROBLEM_SCHEMA)
    schemas.setdefault("FieldError", FIELD_ERROR_SCHEMA)


def document_problem(operation: dict[str, Any], status: int) -> None:
    """Add `status` to an operation as a problem answer, or complete what the route declared.

    FastAPI's own 422 (its `HTTPValidationError` JSON) is replaced: our handler answers
    problem+json with a different shape.
    """
    responses = operation.setdefault("responses", {})
    key = str(status)
    declared = responses.get(key)
    if declared is None or (status == 422 and _is_fastapi_validation_error(declared)):
        responses[key] = problem_response(status)
        return
    content = declared.setdefault("content", {})
    if not content or PROBLEM_MEDIA_TYPE in content:
        content.setdefault(PROBLEM_MEDIA_TYPE, {}).setdefault("schema", {"$ref": PROBLEM_REF})
    if status in HEADERS:
        declared.setdefault("headers", HEADERS[status])


def _is_fastapi_validation_error(entry: dict[str, Any]) -> bool:
    schema = entry.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref", "").endswith("/HTTPValidationError")


def _calls(dependant: Dependant) -> set[Callable[..., Any]]:
    out: set[Callable[..., Any]] = set()
    stack = [dependant]
    while stack:
        d = stack.pop()
        if d.call is not None:
            out.add(d.call)
        stack.extend(d.dependencies)
    return out


def _unit_of_work() -> Any:
    # Looked up, not imported: a service without a database (the gateway) never loads
    # SQLAlchemy, and then no route of it can depend on the unit of work anyway.
    deps = sys.modules.get(f"{__package__}.deps")
    return getattr(deps, "unit_of_work", None)


def _is_id(schema: dict[str, Any]) -> bool:
    return schema.get("format") == "uuid" or any(_is_id(s) for s in schema.get("anyOf") or ())


def _names_an_id(operation: dict[str, Any], doc: dict[str, Any]) -> bool:
    """A path parameter, or an id in the query or among the body's fields: it may name nothing."""
    params = operation.get("parameters") or []
    if any(p.get("in") == "path" or _is_id(p.get("schema") or {}) for p in params):
        return True
    for media in (operation.get("requestBody") or {}).get("content", {}).values():
        schema = media.get("schema") or {}
        ref = schema.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            schema = doc.get("components", {}).get("schemas", {}).get(ref.rsplit("/", 1)[1], {})
        if any(_is_id(field) for field in (schema.get("properties") or {}).values()):
            return True
    return False


WRITES = frozenset({"post", "put", "patch", "delete"})


def derived_statuses(
    operation: dict[str, Any], method: str, calls: set[Callable[..., Any]], endpoint: Any, doc: dict[str, Any]
) -> set[int]:
    """The problem statuses an operation can answer, from its parameters and dependencies."""
    statuses: set[int] = set()
    unit_of_work = _unit_of_work()
    in_transaction = unit_of_work is not None and unit_of_work in calls
    params = operation.get("parameters") or []
    takes_body = "requestBody" in operation
    if optional_principal in calls:
        statuses.add(401)
    if current_principal in calls:
        statuses.add(403)
    if _names_an_id(operation, doc):
        statuses.add(404)
    if in_transaction and method.lower() in WRITES:
        statuses.add(409)
    if params or takes_body:
        statuses.add(422)
    if takes_body:
        statuses.update((400, 413))
    if in_transaction or endpoint is ready:
        statuses.add(503)
    return statuses


def _operations(
    app: FastAPI, doc: dict[str, Any]
) -> Iterator[tuple[dict[str, Any], str, set[Callable[..., Any]], Any]]:
    paths = doc.get("paths") or {}
    seen: set[tuple[str, str]] = set()  # a shadowed route (same path and method) answers nothing
    for rc in iter_route_contexts(app.routes):
        route = rc.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        path = rc.path_format or ""
        item = paths.get(path)
        if item is None:
            continue
        calls = _calls(rc.dependant)
        for method in rc.methods or ():
            operation = item.get(method.lower())
            if operation is not None and (path, method) not in seen:
                seen.add((path, method))
                yield operation, method, calls, rc.endpoint


def _drop_unused_fastapi_validation_schemas(doc: dict[str, Any]) -> None:
    schemas = doc.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        if name not in schemas:
            continue
        ref = f'"#/components/schemas/{name}"'
        others = {k: v for k, v in schemas.items() if k != name}
        if ref not in json.dumps({"paths": doc.get("paths"), "schemas": others}):
            del schemas[name]


def document_problems(app: FastAPI, doc: dict[str, Any]) -> dict[str, Any]:
    """Add the Problem schema and every route's derived problem answers to `doc` (in place)."""
    add_problem_schemas(doc)
    for operation, method, calls, endpoint in _operations(app, doc):
        for status in sorted(derived_statuses(operation, method, calls, endpoint, doc)):
            document_problem(operation, status)
        # Errors the route declared itself are problem documents too (the one handler renders
        # every error): those without content, or declared as problem+json, get the schema.
        responses = operation.get("responses") or {}
        for key, entry in responses.items():
            if key[:1] in ("4", "5"):
                content = entry.setdefault("content", {})
                if not content or PROBLEM_MEDIA_TYPE in content:
                    content.setdefault(PROBLEM_MEDIA_TYPE, {}).setdefault("schema", {"$ref": PROBLEM_REF})
        operation["responses"] = dict(sorted(responses.items()))
    _drop_unused_fastapi_validation_schemas(doc)
    return doc


def install_problem_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` (and so `/openapi.json` and `/docs`) document the problem answers."""
    generate = app.openapi  # FastAPI's own, cached per route set
    done: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        doc = generate()
        if not done or done[0] is not doc:  # once per generated document
            document_problems(app, doc)
            done[:] = [doc]
        return doc

    # Replacing the method is FastAPI's documented way to extend the document.
    app.openapi = openapi  # type: ignore[method-assign]
