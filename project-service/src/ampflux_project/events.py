"""Events: what the project service publishes (via its outbox) and what it consumes.

Published, each written in the transaction of the change it announces:
`project.project.created`, `project.project.deleted`, `project.member.added`,
`project.member.removed`, `project.circuit_version.created`.

Consumed: `auth.user.deactivated` takes the user out of every project of their company
(see `domain.members.remove_user_everywhere`), at most once per event thanks to the inbox.
"""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.events import (
    CircuitVersionCreated,
    EventEnvelope,
    Inbox,
    Outbox,
    ProjectCreated,
    ProjectDeleted,
    ProjectMemberAdded,
    ProjectMemberRemoved,
    UserDeactivated,
    consume_once,
    make_event,
    parse_payload,
)
from ampflux_shared.observability import current_request_id

from .models import Circuit, CircuitVersion, Project, ProjectMember, event_tables

PRODUCER = "project"
CONSUMED = ["auth.user.deactivated"]
OUTBOX_WRITTEN = "outbox_written"

log = logging.getLogger("ampflux.project.events")
_outbox = Outbox(event_tables)
_inbox = Inbox(event_tables)


async def emit(
    session: AsyncSession,
    event_type: str,
    payload: BaseModel,
    *,
    company_id: uuid.UUID,
    actor_id: uuid.UUID | None,
) -> None:
    """Write an event into the outbox, inside the caller's transaction.

    The unit of work that commits the session wakes the relay (see `api.deps`).
    """
    envelope = make_event(
        event_type, payload, producer=PRODUCER, company_id=company_id, actor_id=actor_id,
        request_id=current_request_id(),
    )
    await _outbox.add(session, envelope)
    session.info[OUTBOX_WRITTEN] = True


async def project_created(session: AsyncSession, project: Project, *, actor_id: uuid.UUID) -> None:
    # The creator is the first owner (the matching member.added follows).
    payload = ProjectCreated(project_id=project.id, company_id=project.company_id, name=project.name, owner_id=actor_id)
    await emit(session, "project.project.created", payload, company_id=project.company_id, actor_id=actor_id)


async def project_deleted(session: AsyncSession, project: Project, *, actor_id: uuid.UUID) -> None:
    payload = ProjectDeleted(project_id=project.id, company_id=project.company_id)
    await emit(session, "project.project.deleted", payload, company_id=project.company_id, actor_id=actor_id)


async def member_added(
    session: AsyncSession, project: Project, member: ProjectMember, *, actor_id: uuid.UUID | None
) -> None:
    payload = ProjectMemberAdded(
        project_id=project.id, company_id=project.company_id, user_id=member.user_id, role=member.role
    )
    await emit(session, "project.member.added", payload, company_id=project.company_id, actor_id=actor_id)


async def member_removed(
    session: AsyncSession, project: Project, user_id: uuid.UUID, *, actor_id: uuid.UUID | None
) -> None:
    payload = ProjectMemberRemoved(project_id=project.id, company_id=project.company_id, user_id=user_id)
    await emit(session, "project.member.removed", payload, company_id=project.company_id, actor_id=actor_id)


async def circuit_version_created(
    session: AsyncSession, project: Project, circuit: Circuit, version: CircuitVersion, *, actor_id: uuid.UUID | None
) -> None:
    payload = CircuitVersionCreated(
        project_id=project.id,
        company_id=project.company_id,
        circuit_id=circuit.id,
        circuit_version_id=version.id,
        number=version.number,
        content_sha256=version.content_hash,
    )
    await emit(session, "project.circuit_version.created", payload, company_id=project.company_id, actor_id=actor_id)


# --- consumed ---------------------------------------------------------------------------


async def on_user_deactivated(session: AsyncSession, envelope: EventEnvelope) -> None:
    from .domain.members import remove_user_everywhere  # domain imports this module

    payload = parse_payload(envelope)
    assert isinstance(payload, UserDeactivated)
    departures = await remove_user_everywhere(session, company_id=payload.company_id, user_id=payload.user_id)
    log.info(
        "user %s deactivated: removed from %d project(s), %d new owner(s)",
        payload.user_id, len(departures), sum(1 for d in departures if d.promoted_user_id),
    )


async def subscribe_consumers(app: FastAPI) -> None:
    """Startup hook: bind the service's durable queue and handle each event once."""
    handle = consume_once(app.state.db, _inbox, "project.user-deactivated", on_user_deactivated)

    async def handle_and_kick(envelope: EventEnvelope) -> None:
        await handle(envelope)  # commits (or raises, and the bus redelivers)
        # member.removed events were written by the handler's transaction: send them now.
        app.state.relay.kick()

    await app.state.bus.subscribe(app.state.settings.events_queue, CONSUMED, handle_and_kick)
