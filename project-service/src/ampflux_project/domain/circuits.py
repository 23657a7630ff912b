"""Named circuits inside a project; their content lives in versions (see versions.py)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import utcnow
from ampflux_shared.errors import not_found
from ampflux_shared.pagination import PageParams, Rows, paginate

from ..models import Circuit, CircuitVersion
from . import audit
from .access import ProjectAccess
from .changes import apply_changes
from .queries import contains_pattern, flush_or_conflict
from .versions import checked_digest, save_version


async def get_circuit(
    session: AsyncSession, access: ProjectAccess, circuit_id: uuid.UUID, *, lock: bool = False
) -> Circuit:
    """A circuit of the project the caller already has access to, else 404."""
    query = select(Circuit).where(Circuit.id == circuit_id, Circuit.project_id == access.project.id)
    if lock:
        query = query.with_for_update()
    circuit = await session.scalar(query)
    if circuit is None:
        raise not_found("circuit")
    return circuit


async def list_circuits(
    session: AsyncSession, access: ProjectAccess, *, paging: PageParams, search: str | None = None
) -> Rows[Circuit]:
    query = select(Circuit).where(Circuit.project_id == access.project.id)
    if search:
        query = query.where(Circuit.name.ilike(contains_pattern(search), escape="\\"))
    return await paginate(session, query.order_by(Circuit.name, Circuit.id), paging)


async def create_circuit(
    session: AsyncSession,
    access: ProjectAccess,
    *,
    name: str,
    description: str,
    document: dict[str, Any] | None,
    message: str,
) -> tuple[Circuit, CircuitVersion | None]:
    """A new circuit; with a document, its version 1 in the same transaction."""
    digest = None
    if document is not None:
        # Validate first so an invalid document leaves no empty circuit behind (off the loop).
        digest = await checked_digest(document)
    project = access.project
    actor = access.principal.user_id
    now = utcnow()
    circuit = Circuit(
        id=uuid.uuid4(),
        project_id=project.id,
        name=name,
        description=description,
        created_by=actor,
        created_at=now,
        updated_at=now,
        latest_version=0,
    )
    session.add(circuit)
    await flush_or_conflict(session, f"a circuit named {name!r} already exists in this project")
    audit.record(
        session,
        company_id=project.company_id,
        project_id=project.id,
        actor_id=actor,
        action="circuit.created",
        circuit_id=circuit.id,
        name=name,
    )
    version = None
    if document is not None:
        version, _ = await save_version(session, access, circuit, document=document, message=message, digest=digest)
    return circuit, version


async def update_circuit(
    session: AsyncSession, access: ProjectAccess, circuit: Circuit, *, name: str | None, description: str | None
) -> Circuit:
    changed = apply_changes(circuit, name=name, description=description)
    if changed:
        circuit.updated_at = utcnow()
        await flush_or_conflict(session, f"a circuit named {circuit.name!r} already exists in this project")
        project = access.project
        audit.record(
            session,
            company_id=project.company_id,
            project_id=project.id,
            actor_id=access.principal.user_id,
            action="circuit.updated",
            circuit_id=circuit.id,
            changes=changed,
        )
    return circuit


async def delete_circuit(session: AsyncSession, access: ProjectAccess, circuit: Circuit) -> None:
    project = access.project
    audit.record(
        session,
        company_id=project.company_id,
        project_id=project.id,
        actor_id=access.principal.user_id,
        action="circuit.deleted",
        circuit_id=circuit.id,
        name=circuit.name,
        versions=circuit.latest_version,
    )
    await session.delete(circuit)
    await session.flush()
