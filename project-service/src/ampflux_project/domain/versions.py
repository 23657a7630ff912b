"""Immutable circuit versions: validate, hash, save (or find unchanged), list, restore."""

from __future__ import annotations

import uuid
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer, joinedload

from ampflux_shared.circuit import document_sha256, validate_circuit
from ampflux_shared.db import utcnow
from ampflux_shared.errors import field_error, not_found, validation_failed
from ampflux_shared.pagination import PageParams, Rows, paginate

from .. import events
from ..models import Circuit, CircuitVersion
from . import audit
from .access import ProjectAccess

# Every query serving versions loads their latest study in the same statement (a LEFT
# JOIN on the one-row-per-version table, so pages and counts are unaffected).
WITH_STUDY = joinedload(CircuitVersion.latest_study)


def check_document(document: Any) -> dict[str, Any]:
    """The document if valid, else a 422 problem listing every problem with its path."""
    problems = validate_circuit(document)
    if problems:
        raise validation_failed(
            [field_error(p.path, p.message, p.code) for p in problems],
            detail=f"the circuit document has {len(problems)} problem(s); nothing was stored",
        )
    return document


def _checked_digest(document: Any) -> str:
    check_document(document)
    return document_sha256(document)


async def checked_digest(document: Any) -> str:
    """Validate the document (422 listing every problem) and hash it, in a worker thread:
    both are CPU work that grows with the document (0.3 s for 20k buses) and would stall
    every other request of the process if run on the event loop."""
    return await anyio.to_thread.run_sync(_checked_digest, document)


async def latest_version(session: AsyncSession, circuit: Circuit) -> CircuitVersion | None:
    if circuit.latest_version == 0:
        return None
    return await get_version(session, circuit, circuit.latest_version)


async def get_version(session: AsyncSession, circuit: Circuit, number: int) -> CircuitVersion:
    version = await session.scalar(
        select(CircuitVersion)
        .options(WITH_STUDY)
        .where(CircuitVersion.circuit_id == circuit.id, CircuitVersion.number == number)
    )
    if version is None:
        raise not_found("circuit version")
    return version


async def list_versions(session: AsyncSession, circuit: Circuit, paging: PageParams) -> Rows[CircuitVersion]:
    # Summaries only: documents can be large, a page of them is not needed here.
    query = (
        select(CircuitVersion)
        .options(defer(CircuitVersion.document), WITH_STUDY)
        .where(CircuitVersion.circuit_id == circuit.id)
    )
    return await paginate(session, query.order_by(CircuitVersion.number.desc()), paging)


async def save_version(
    session: AsyncSession,
    access: ProjectAccess,
    circuit: Circuit,
    *,
    document: dict[str, Any],
    message: str,
    restored_from: int | None = None,
    digest: str | None = None,
) -> tuple[CircuitVersion, bool]:
    """(version, created). An unchanged document returns the latest version, created=False.

    `circuit` must have been loaded with a row lock (`get_circuit(..., lock=True)`): the
    lock serialises saves, so version numbers are gap-free and the "unchanged" check sees
    the true latest version.
    """
    if digest is None:  # not yet validated and hashed by the caller (`checked_digest`)
        digest = await checked_digest(document)
    latest = await latest_version(session, circuit)
    if latest is not None and latest.content_hash == digest:
        return latest, False
    actor = access.principal.user_id
    version = CircuitVersion(
        id=uuid.uuid4(),
        circuit_id=circuit.id,
        number=circuit.latest_version + 1,
        document=document,
        content_hash=digest,
        author_id=actor,
        message=message,
        restored_from=restored_from,
        created_at=utcnow(),
        latest_study=None,  # not run yet; set so the response need not load it
    )
    session.add(version)
    circuit.latest_version = version.number
    circuit.updated_at = version.created_at
    project = access.project
    audit.record(
        session,
        company_id=project.company_id,
        project_id=project.id,
        actor_id=actor,
        action="version.restored" if restored_from is not None else "version.created",
        circuit_id=circuit.id,
        version_number=version.number,
        content_hash=digest,
        **({"restored_from": restored_from} if restored_from is not None else {}),
    )
    await events.circuit_version_created(session, project, circuit, version, actor_id=actor)
    await session.flush()
    return version, True


async def restore_version(
    session: AsyncSession, access: ProjectAccess, circuit: Circuit, *, number: int, message: str | None
) -> tuple[CircuitVersion, bool]:
    """Save an old version's document as the newest version (history is never rewritten)."""
    old = await get_version(session, circuit, number)
    return await save_version(
        session,
        access,
        circuit,
        document=old.document,
        message=message or f"Restored version {number}",
        restored_from=number,
    )
