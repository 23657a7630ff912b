"""The circuit document's JSON Schema, generated from the shared model, for users to validate a
document before they send it.

Published two ways by every service that takes documents (project and simulation):
- at a stable URL, `GET <prefix>/circuit-document.schema.json` (`add_schema_route`), as a
  standalone JSON Schema (draft 2020-12, `$defs` inside);
- in the service's OpenAPI as `components.schemas.CircuitDocument` (and its element schemas),
  added by `create_service_app` to any service that serves the URL.

The schema describes the document's shape; the cross-field rules (buses that exist, one
frequency, ...) are checked by the services' validation, which answers 422 naming each path.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from .model import CircuitDocument

SCHEMA_FILE = "circuit-document.schema.json"
COMPONENT = "CircuitDocument"
MEDIA_TYPE = "application/schema+json"
DIALECT = "https://json-schema.org/draft/2020-12/schema"


@cache
def _schema() -> dict[str, Any]:
    schema = CircuitDocument.model_json_schema()
    return {"$schema": DIALECT, **schema}


def circuit_document_schema() -> dict[str, Any]:
    """The standalone JSON Schema of a circuit document (a fresh copy)."""
    return copy.deepcopy(_schema())


def circuit_document_components() -> dict[str, dict[str, Any]]:
    """`CircuitDocument` and the schemas it refers to, with references into OpenAPI components."""
    schema = CircuitDocument.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = schema.pop("$defs", {})
    return {COMPONENT: schema, **defs}


def add_schema_route(router: APIRouter) -> None:
    """`GET <router prefix>/circuit-document.schema.json` on `router` (which carries the scope).

    Add it before any `/{id}` route of the same router, or that route would take the path.
    """

    async def circuit_document_json_schema() -> JSONResponse:
        return JSONResponse(_schema(), media_type=MEDIA_TYPE)

    router.add_api_route(
        f"/{SCHEMA_FILE}",
        circuit_document_json_schema,
        methods=["GET"],
        summary="JSON Schema of the circuit document (FORMAT.md), to validate a document before sending it",
        response_class=JSONResponse,
        responses={
            200: {
                "description": f"a JSON Schema (draft 2020-12); the same model is `components.schemas.{COMPONENT}`",
                "content": {MEDIA_TYPE: {"schema": {"type": "object"}}},
            }
        },
    )


def publish_in_openapi(app: FastAPI) -> None:
    """Put `CircuitDocument` in the app's OpenAPI components when it serves the schema URL."""
    generate = app.openapi
    done: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        doc = generate()
        serves_schema = any(path.endswith(f"/{SCHEMA_FILE}") for path in doc.get("paths", {}))
        if serves_schema and (not done or done[0] is not doc):  # once per generated document
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in circuit_document_components().items():
                schemas.setdefault(name, schema)
            done[:] = [doc]
        return doc

    # Replacing the method is FastAPI's documented way to extend the document.
    app.openapi = openapi  # type: ignore[method-assign]
