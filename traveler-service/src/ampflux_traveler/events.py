"""What the traveler service publishes, each written into its outbox in the transaction of
the change it announces (what it consumes lives in `consumers.py`)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.events import EventPublisher
from ampflux_shared.events.catalog import (
    TravelerCompleted,
    TravelerOnHold,
    TravelerReleased,
    TravelerStepCompleted,
    TravelerUnitFailed,
)

from .models import StepExecution, Traveler, TravelerStep, event_tables

publisher = EventPublisher("traveler", event_tables)


async def traveler_released(session: AsyncSession, traveler: Traveler, *, actor_id: uuid.UUID | None) -> None:
    payload = TravelerReleased(
        traveler_id=traveler.id,
        company_id=traveler.company_id,
        number=traveler.number,
        traveler_type=traveler.traveler_type,
        part_number=traveler.part_number,
        quantity=traveler.quantity,
        purchase_order_id=traveler.purchase_order_id,
    )
    await publisher.emit(
        session, "traveler.traveler.released", payload, company_id=traveler.company_id, actor_id=actor_id
    )


async def traveler_on_hold(
    session: AsyncSession, traveler: Traveler, reason: str, *, actor_id: uuid.UUID | None
) -> None:
    payload = TravelerOnHold(
        traveler_id=traveler.id, company_id=traveler.company_id, number=traveler.number, reason=reason
    )
    await publisher.emit(
        session, "traveler.traveler.on_hold", payload, company_id=traveler.company_id, actor_id=actor_id
    )


async def traveler_completed(session: AsyncSession, traveler: Traveler, *, actor_id: uuid.UUID | None) -> None:
    assert traveler.completed_at is not None
    payload = TravelerCompleted(
        traveler_id=traveler.id,
        company_id=traveler.company_id,
        number=traveler.number,
        quantity=traveler.quantity,
        completed_at=traveler.completed_at,
    )
    await publisher.emit(
        session, "traveler.traveler.completed", payload, company_id=traveler.company_id, actor_id=actor_id
    )


async def step_completed(
    session: AsyncSession, traveler: Traveler, step: TravelerStep, execution: StepExecution, *, actor_id: uuid.UUID
) -> None:
    payload = TravelerStepCompleted(
        traveler_id=traveler.id,
        company_id=traveler.company_id,
        number=traveler.number,
        step_id=step.id,
        step_name=step.name,
        position=step.position,
        execution_id=execution.id,
        kind=execution.kind,
        qty_passed=execution.qty_passed,
        qty_failed=execution.qty_failed,
        signed_off_by=actor_id,
    )
    await publisher.emit(session, "traveler.step.completed", payload, company_id=traveler.company_id, actor_id=actor_id)


async def unit_failed(
    session: AsyncSession,
    traveler: Traveler,
    step: TravelerStep,
    execution: StepExecution,
    *,
    serial: str | None,
    quantity: int,
    actor_id: uuid.UUID,
) -> None:
    payload = TravelerUnitFailed(
        traveler_id=traveler.id,
        company_id=traveler.company_id,
        number=traveler.number,
        step_id=step.id,
        step_name=step.name,
        execution_id=execution.id,
        serial=serial,
        quantity=quantity,
    )
    await publisher.emit(session, "traveler.unit.failed", payload, company_id=traveler.company_id, actor_id=actor_id)
