"""The audit trail: one row per change, written in the transaction of the change."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.observability import current_request_id
from ampflux_shared.pagination import PageParams, Rows, paginate

from ..models import AuditEntry


def record(
    session: AsyncSession,
    *,
    company_id: uuid.UUID,
    project_id: uuid.UUID,
    actor_id: uuid.UUID | None,
    action: str,
    circuit_id: uuid.UUID | None = None,
    version_number: int | None = None,
    **details: Any,
) -> AuditEntry:
    entry = AuditEntry(
        company_id=company_id,
        project_id=project_id,
        circuit_id=circuit_id,
        version_number=version_number,
        actor_id=actor_id,
        action=action,
        details=details,
        request_id=current_request_id(),
    )
    session.add(entry)
    return entry


async def list_entries(
    session: AsyncSession,
    *,
    company_id: uuid.UUID,
    project_id: uuid.UUID,
    paging: PageParams,
    circuit_id: uuid.UUID | None = None,
) -> Rows[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.company_id == company_id, AuditEntry.project_id == project_id)
    if circuit_id is not None:
        query = query.where(AuditEntry.circuit_id == circuit_id)
    return await paginate(session, query.order_by(AuditEntry.at.desc(), AuditEntry.id), paging)
