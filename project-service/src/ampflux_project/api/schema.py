"""`GET /circuits/circuit-document.schema.json`: the circuit document's JSON Schema, generated
from the shared model, so a user can validate a document before saving it (any signed-in user)."""

from __future__ import annotations

from fastapi import APIRouter

from ampflux_shared.circuit.schema import add_schema_route
from ampflux_shared.security import scoped

router = APIRouter(prefix="/circuits", tags=["circuits"], dependencies=[scoped("projects")])
add_schema_route(router)
