"""Tables of the traveler service.

Every row carries `company_id` (children too, so report queries filter and index on it
without joining up to the traveler). History is only ever appended: a sign-off, a failure
and its rework are separate `step_executions` rows linked to each other, and every edit
leaves a `revisions` row with the field before and after.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ampflux_shared.db import JSONDocument, UTCDateTime, new_metadata, utcnow
from ampflux_shared.events import EventTables

metadata = new_metadata()


class Base(DeclarativeBase):
    # Its own registry: no name clashes with other services sharing the embedded process.
    metadata = metadata


class PurchaseOrder(Base):
    __tablename__ = "purchase_orders"
    __table_args__ = (UniqueConstraint("company_id", "number"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    number: Mapped[str] = mapped_column(String(64))
    customer: Mapped[str] = mapped_column(String(200))
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    # open -> in_progress -> completed | cancelled, derived from its travelers
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PurchaseOrderLine(Base):
    __tablename__ = "purchase_order_lines"
    __table_args__ = (UniqueConstraint("purchase_order_id", "line_no"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    purchase_order_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("purchase_orders.id", ondelete="CASCADE"), index=True
    )
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    line_no: Mapped[int] = mapped_column(Integer)
    part_number: Mapped[str] = mapped_column(String(100))
    revision: Mapped[str] = mapped_column(String(32), default="")
    quantity: Mapped[int] = mapped_column(Integer)


class RoutingTemplate(Base):
    """The routing of one traveler type in one company (`PCB`, `Parts`, `Assembly`, `Cable`)."""

    __tablename__ = "routing_templates"
    __table_args__ = (UniqueConstraint("company_id", "traveler_type"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    traveler_type: Mapped[str] = mapped_column(String(16))
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TemplateStep(Base):
    __tablename__ = "template_steps"
    __table_args__ = (UniqueConstraint("template_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    template_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("routing_templates.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    standard_minutes: Mapped[float] = mapped_column(Float)  # per unit
    signoff_role: Mapped[str] = mapped_column(String(32))


class TravelerCounter(Base):
    """The last traveler number handed out per company and year (`T-2026-00042`)."""

    __tablename__ = "traveler_counters"

    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Traveler(Base):
    __tablename__ = "travelers"
    __table_args__ = (
        UniqueConstraint("company_id", "number"),
        Index("ix_travelers_company_status", "company_id", "status"),
        Index("ix_travelers_company_completed", "company_id", "completed_at"),
        Index("ix_travelers_company_due", "company_id", "due_date"),
        Index("ix_travelers_company_part", "company_id", "part_number"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    number: Mapped[str] = mapped_column(String(32))
    traveler_type: Mapped[str] = mapped_column(String(16))
    purchase_order_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("purchase_orders.id"), nullable=True, index=True
    )
    po_line_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("purchase_order_lines.id"), nullable=True)
    part_number: Mapped[str] = mapped_column(String(100))
    revision: Mapped[str] = mapped_column(String(32), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    priority: Mapped[int] = mapped_column(Integer, default=3)
    due_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    hold_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Name of the first step not yet done (None before release's first step and once all are done).
    current_step: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TravelerStep(Base):
    """A traveler's own copy of its template's step: later template edits never touch it."""

    __tablename__ = "traveler_steps"
    __table_args__ = (UniqueConstraint("traveler_id", "position"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    traveler_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("travelers.id", ondelete="CASCADE"))
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    standard_minutes: Mapped[float] = mapped_column(Float)
    signoff_role: Mapped[str] = mapped_column(String(32))
    # pending -> in_progress -> done (back to in_progress while rework is open here)
    status: Mapped[str] = mapped_column(String(16), default="pending")


class BomLine(Base):
    __tablename__ = "bom_lines"
    __table_args__ = (Index("ix_bom_lines_traveler", "traveler_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    traveler_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("travelers.id", ondelete="CASCADE"))
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    item: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(200), default="")
    reference_designators: Mapped[str] = mapped_column(Text, default="")
    quantity_per_unit: Mapped[float] = mapped_column(Float)
    required: Mapped[float] = mapped_column(Float)
    issued: Mapped[float] = mapped_column(Float, default=0)
    supplier: Mapped[str] = mapped_column(String(100), default="")
    supplier_part_number: Mapped[str] = mapped_column(String(100), default="")
    manufacturer: Mapped[str] = mapped_column(String(100), default="")
    manufacturer_part_number: Mapped[str] = mapped_column(String(100), default="")
    # open | short | received (purchasing marks it)
    status: Mapped[str] = mapped_column(String(16), default="open")


class BomSubstitution(Base):
    __tablename__ = "bom_substitutions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    bom_line_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("bom_lines.id", ondelete="CASCADE"), index=True)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    substitute_item: Mapped[str] = mapped_column(String(100))
    manufacturer_part_number: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    approved_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


_EXECUTION_FIGURES = (
    "kind",
    "status",
    "qty_passed",
    "qty_failed",
    "signed_off_by",
    "step_name",
    "step_position",
    "standard_minutes",
    "traveler_type",
)


class StepExecution(Base):
    """One pass of some units through a step. `kind` is `first` for first-pass work and
    `rework` for units sent back by a failure (`rework_of` names the failed execution;
    `rework_until` is the position of the step where they failed, where the rework ends)."""

    __tablename__ = "step_executions"
    __table_args__ = (
        Index("ix_step_executions_traveler_step", "traveler_id", "step_id"),
        # Reports read only these columns: on PostgreSQL an index-only scan of the range.
        Index(
            "ix_step_executions_company_completed",
            "company_id",
            "completed_at",
            postgresql_include=[*_EXECUTION_FIGURES],
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    traveler_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("travelers.id", ondelete="CASCADE"))
    step_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("traveler_steps.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(8), default="first")
    rework_of: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("step_executions.id"), nullable=True)
    rework_until: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quantity: Mapped[int] = mapped_column(Integer)
    # pending (rework waiting) -> started -> completed
    status: Mapped[str] = mapped_column(String(16), default="started")
    started_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    signed_off_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    signoff_role: Mapped[str | None] = mapped_column(String(32), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    qty_passed: Mapped[int] = mapped_column(Integer, default=0)
    qty_failed: Mapped[int] = mapped_column(Integer, default=0)
    failure_action: Mapped[str | None] = mapped_column(String(8), nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Copies of the step's and traveler's fixed facts (a traveler's steps never change), so
    # the reports aggregate this one table without joining 100k rows to their steps.
    step_name: Mapped[str] = mapped_column(String(100), server_default="")
    step_position: Mapped[int] = mapped_column(Integer, server_default="0")
    standard_minutes: Mapped[float] = mapped_column(Float, server_default="0")
    traveler_type: Mapped[str] = mapped_column(String(16), server_default="")


class SerialUnit(Base):
    __tablename__ = "serial_units"
    __table_args__ = (UniqueConstraint("traveler_id", "serial"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    traveler_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("travelers.id", ondelete="CASCADE"))
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    serial: Mapped[str] = mapped_column(String(64))
    # ok | failed (waiting for rework or on hold)
    status: Mapped[str] = mapped_column(String(16), default="ok")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnitStepResult(Base):
    __tablename__ = "unit_step_results"
    __table_args__ = (Index("ix_unit_step_results_unit", "unit_id"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    unit_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("serial_units.id", ondelete="CASCADE"))
    execution_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("step_executions.id", ondelete="CASCADE"), index=True
    )
    step_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("traveler_steps.id", ondelete="CASCADE"))
    passed: Mapped[bool] = mapped_column(Boolean)
    recorded_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LaborLog(Base):
    """Time an operator spent on a step. At most one open log (no `clock_out`) per
    operator: the partial unique index says so to the database itself, so two concurrent
    clock-ins cannot both succeed whatever the code does."""

    __tablename__ = "labor_logs"
    __table_args__ = (
        Index(
            "uq_labor_logs_one_open_per_operator",
            "operator_id",
            unique=True,
            postgresql_where=text("clock_out IS NULL"),
            sqlite_where=text("clock_out IS NULL"),
        ),
        Index(
            "ix_labor_logs_company_clock_in",
            "company_id",
            "clock_in",
            postgresql_include=["clock_out", "minutes", "operator_id", "step_name", "traveler_type"],
        ),
        Index("ix_labor_logs_traveler", "traveler_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    traveler_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("travelers.id", ondelete="CASCADE"))
    step_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("traveler_steps.id", ondelete="CASCADE"))
    operator_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    clock_in: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    clock_out: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # Set at clock-out, so reports sum a column instead of subtracting times per dialect.
    minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
    # operator | supervisor | user_deactivated
    closed_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Copies for the reports, as on step executions.
    step_name: Mapped[str] = mapped_column(String(100), server_default="")
    traveler_type: Mapped[str] = mapped_column(String(16), server_default="")


class CoatingLog(Base):
    __tablename__ = "coating_logs"
    __table_args__ = (
        Index("ix_coating_logs_company_recorded", "company_id", "recorded_at"),
        Index("ix_coating_logs_traveler", "traveler_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    traveler_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("travelers.id", ondelete="CASCADE"))
    step_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("traveler_steps.id"), nullable=True)
    coating_type: Mapped[str] = mapped_column(String(64))
    material: Mapped[str] = mapped_column(String(100))
    lot: Mapped[str] = mapped_column(String(64))
    readings: Mapped[list[float]] = mapped_column(JSONDocument)
    thickness_min: Mapped[float] = mapped_column(Float)
    thickness_max: Mapped[float] = mapped_column(Float)
    thickness_mean: Mapped[float] = mapped_column(Float)
    spec_min: Mapped[float] = mapped_column(Float)
    spec_max: Mapped[float] = mapped_column(Float)
    cure_minutes: Mapped[float | None] = mapped_column(Float, nullable=True)
    cure_temp_c: Mapped[float | None] = mapped_column(Float, nullable=True)
    passed: Mapped[bool] = mapped_column(Boolean)
    recorded_by: Mapped[uuid.UUID] = mapped_column(Uuid)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Revision(Base):
    """One changed field of a traveler, its BOM or its steps: who, when, before and after."""

    __tablename__ = "revisions"
    __table_args__ = (Index("ix_revisions_traveler_at", "traveler_id", "changed_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    company_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    traveler_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("travelers.id", ondelete="CASCADE"))
    entity: Mapped[str] = mapped_column(String(16))  # traveler | bom_line | step
    entity_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    field: Mapped[str] = mapped_column(String(64))
    before: Mapped[Any] = mapped_column(JSONDocument, nullable=True)
    after: Mapped[Any] = mapped_column(JSONDocument, nullable=True)
    changed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seq: Mapped[int] = mapped_column(Integer, default=0)  # order within one change


# --- daily rollups ------------------------------------------------------------------------
# Labor and sign-off figures summed per UTC day as they happen (domain.rollups), so the
# reports read a few thousand rows whatever the size of the history. Report ranges are days.


class LaborStepDay(Base):
    __tablename__ = "labor_step_days"

    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    traveler_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    step_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    minutes: Mapped[float] = mapped_column(Float, default=0)
    logs: Mapped[int] = mapped_column(Integer, default=0)


class LaborOperatorDay(Base):
    __tablename__ = "labor_operator_days"

    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    traveler_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    operator_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    minutes: Mapped[float] = mapped_column(Float, default=0)
    logs: Mapped[int] = mapped_column(Integer, default=0)


class SignoffStepDay(Base):
    __tablename__ = "signoff_step_days"

    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    traveler_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    step_position: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_name: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    units: Mapped[int] = mapped_column(Integer, default=0)
    passed: Mapped[int] = mapped_column(Integer, default=0)
    earned_minutes: Mapped[float] = mapped_column(Float, default=0)


class SignoffOperatorDay(Base):
    __tablename__ = "signoff_operator_days"

    company_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    traveler_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    operator_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    units: Mapped[int] = mapped_column(Integer, default=0)
    earned_minutes: Mapped[float] = mapped_column(Float, default=0)


event_tables = EventTables(metadata)
