"""Request and response models (`XCreate`, `XUpdate`, `XRead`); lists answer `Page[XRead]`."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ampflux_shared.pagination import Page

__all__ = ["Page"]

Name = Annotated[str, Field(min_length=1, max_length=100)]
ShortText = Annotated[str, Field(max_length=200)]
Notes = Annotated[str, Field(max_length=4000)]
Quantity = Annotated[int, Field(ge=1, le=1_000_000)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]


class TravelerType(StrEnum):
    PCB = "PCB"
    Parts = "Parts"
    Assembly = "Assembly"
    Cable = "Cable"


class Role(StrEnum):
    admin = "admin"
    manager = "manager"
    operator = "operator"
    quality = "quality"
    purchasing = "purchasing"
    assembly = "assembly"
    engineer = "engineer"
    viewer = "viewer"


class TravelerStatus(StrEnum):
    draft = "draft"
    released = "released"
    in_progress = "in_progress"
    on_hold = "on_hold"
    completed = "completed"
    cancelled = "cancelled"


class ORM(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- purchase orders ------------------------------------------------------------------


class PurchaseOrderLineCreate(BaseModel):
    part_number: Name
    revision: Annotated[str, Field(max_length=32)] = ""
    quantity: Quantity


class PurchaseOrderCreate(BaseModel):
    number: Annotated[str, Field(min_length=1, max_length=64)]
    customer: ShortText = Field(min_length=1)
    due_date: date | None = None
    lines: list[PurchaseOrderLineCreate] = Field(default_factory=list, max_length=500)


class PurchaseOrderLineRead(ORM):
    id: uuid.UUID
    line_no: int
    part_number: str
    revision: str
    quantity: int


class PurchaseOrderRead(ORM):
    id: uuid.UUID
    number: str
    customer: str
    due_date: date | None
    status: str
    created_at: datetime
    lines: list[PurchaseOrderLineRead] = Field(default_factory=list)


# --- templates ------------------------------------------------------------------------


class TemplateStepIn(BaseModel):
    name: Name
    standard_minutes: Annotated[float, Field(ge=0, le=100_000)]
    signoff_role: Role


class TemplateUpdate(BaseModel):
    steps: list[TemplateStepIn] = Field(min_length=1, max_length=100)


class TemplateStepRead(ORM):
    position: int
    name: str
    standard_minutes: float
    signoff_role: str


class TemplateRead(BaseModel):
    traveler_type: TravelerType
    steps: list[TemplateStepRead]
    updated_at: datetime | None = None


# --- travelers ------------------------------------------------------------------------


class TravelerCreate(BaseModel):
    traveler_type: TravelerType
    po_line_id: uuid.UUID | None = None
    part_number: Name | None = Field(default=None, description="defaults to the PO line's")
    revision: Annotated[str, Field(max_length=32)] | None = None
    quantity: Quantity | None = Field(default=None, description="defaults to the PO line's")
    priority: Annotated[int, Field(ge=1, le=5)] = 3
    due_date: date | None = None


class TravelerUpdate(BaseModel):
    part_number: Name | None = None
    revision: Annotated[str, Field(max_length=32)] | None = None
    quantity: Quantity | None = None
    priority: Annotated[int, Field(ge=1, le=5)] | None = None
    due_date: date | None = None  # null clears the due date

    @field_validator("part_number", "revision", "quantity", "priority")
    @classmethod
    def _omitted_not_null(cls, value: object) -> object:
        # Defaults are not validated, so this sees only values the client sent: these columns
        # always have a value, and an explicit null would reach the database as one.
        if value is None:
            raise ValueError("may be left out, but not set to null")
        return value


class TransitionRequest(BaseModel):
    status: TravelerStatus
    reason: Notes = ""


class StepRead(ORM):
    id: uuid.UUID
    position: int
    name: str
    standard_minutes: float
    signoff_role: str
    status: str


class TravelerRead(ORM):
    id: uuid.UUID
    number: str
    traveler_type: str
    purchase_order_id: uuid.UUID | None
    po_line_id: uuid.UUID | None
    part_number: str
    revision: str
    quantity: int
    priority: int
    due_date: date | None
    status: str
    hold_reason: str | None
    current_step: str | None
    created_at: datetime
    released_at: datetime | None
    completed_at: datetime | None


class TravelerDetail(TravelerRead):
    steps: list[StepRead]
    allowed_transitions: list[str]


# --- BOM ------------------------------------------------------------------------------


class BomLineCreate(BaseModel):
    item: Name
    description: ShortText = ""
    reference_designators: Annotated[str, Field(max_length=4000)] = ""
    quantity_per_unit: Annotated[float, Field(gt=0, le=1_000_000)]
    supplier: Annotated[str, Field(max_length=100)] = ""
    supplier_part_number: Annotated[str, Field(max_length=100)] = ""
    manufacturer: Annotated[str, Field(max_length=100)] = ""
    manufacturer_part_number: Annotated[str, Field(max_length=100)] = ""


class BomLineUpdate(BaseModel):
    description: ShortText | None = None
    reference_designators: Annotated[str, Field(max_length=4000)] | None = None
    quantity_per_unit: Annotated[float, Field(gt=0, le=1_000_000)] | None = None
    supplier: Annotated[str, Field(max_length=100)] | None = None
    supplier_part_number: Annotated[str, Field(max_length=100)] | None = None
    manufacturer: Annotated[str, Field(max_length=100)] | None = None
    manufacturer_part_number: Annotated[str, Field(max_length=100)] | None = None


class BomStatus(StrEnum):
    open = "open"
    short = "short"
    received = "received"


class BomSupplyUpdate(BaseModel):
    """What purchasing records: the line's status and what was issued to the job."""

    status: BomStatus
    issued: Annotated[float, Field(ge=0, le=1_000_000_000)] | None = None


class SubstitutionCreate(BaseModel):
    substitute_item: Name
    manufacturer_part_number: Annotated[str, Field(max_length=100)] = ""
    reason: Notes = ""


class SubstitutionRead(ORM):
    id: uuid.UUID
    substitute_item: str
    manufacturer_part_number: str
    reason: str
    approved_by: uuid.UUID
    approved_at: datetime


class BomLineRead(ORM):
    id: uuid.UUID
    item: str
    description: str
    reference_designators: str
    quantity_per_unit: float
    required: float
    issued: float
    supplier: str
    supplier_part_number: str
    manufacturer: str
    manufacturer_part_number: str
    status: str
    substitutions: list[SubstitutionRead] = Field(default_factory=list)


# --- steps ----------------------------------------------------------------------------


class StepStart(BaseModel):
    quantity: Quantity | None = Field(default=None, description="default: what is left to do at this step")


class FailureAction(StrEnum):
    hold = "hold"
    rework = "rework"


class SerialResult(BaseModel):
    serial: Annotated[str, Field(min_length=1, max_length=64)]
    passed: bool


# Field validators (fields validate in order, so the counts are known by then): the error
# names the missing field.
def _failure_needs_action(value: FailureAction | None, info: ValidationInfo) -> FailureAction | None:
    if value is None and info.data.get("qty_failed", 0) > 0:
        raise ValueError("failed units need failure_action: hold or rework")
    return value


def _rework_needs_target(value: int | None, info: ValidationInfo) -> int | None:
    if value is None and info.data.get("failure_action") == FailureAction.rework:
        raise ValueError("rework needs rework_to_position")
    return value


class StepComplete(BaseModel):
    execution_id: uuid.UUID | None = Field(default=None, description="default: the step's started execution")
    qty_passed: Count
    qty_failed: Count = 0
    notes: Notes = ""
    failure_action: FailureAction | None = Field(default=None, validate_default=True)
    # The position of the earlier (or same) step the failed units go back to, for rework.
    rework_to_position: Annotated[int, Field(ge=1)] | None = Field(default=None, validate_default=True)
    serial_results: list[SerialResult] = Field(default_factory=list, max_length=10_000)

    _action = field_validator("failure_action")(_failure_needs_action)
    _target = field_validator("rework_to_position")(_rework_needs_target)


class ExecutionRead(ORM):
    id: uuid.UUID
    step_id: uuid.UUID
    kind: str
    rework_of: uuid.UUID | None
    rework_until: int | None
    quantity: int
    status: str
    started_by: uuid.UUID | None
    started_at: datetime | None
    signed_off_by: uuid.UUID | None
    signoff_role: str | None
    completed_at: datetime | None
    qty_passed: int
    qty_failed: int
    failure_action: str | None
    notes: str


class SerialsCreate(BaseModel):
    serials: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(min_length=1, max_length=10_000)


class SerialRead(ORM):
    id: uuid.UUID
    serial: str
    status: str


class UnitRouteEntry(BaseModel):
    step_position: int
    step_name: str
    execution_id: uuid.UUID
    kind: str
    passed: bool
    recorded_by: uuid.UUID
    recorded_at: datetime


class UnitRoute(BaseModel):
    serial: str
    status: str
    route: list[UnitRouteEntry]


# --- labor ----------------------------------------------------------------------------


class LaborLogRead(ORM):
    id: uuid.UUID
    traveler_id: uuid.UUID
    step_id: uuid.UUID
    operator_id: uuid.UUID
    clock_in: datetime
    clock_out: datetime | None
    minutes: float | None
    closed_reason: str | None


class ClockOut(BaseModel):
    operator_id: uuid.UUID | None = Field(default=None, description="someone else's log (managers); default: mine")


# --- coating --------------------------------------------------------------------------


class CoatingLogCreate(BaseModel):
    step_id: uuid.UUID | None = None
    coating_type: Annotated[str, Field(min_length=1, max_length=64)]
    material: Name
    lot: Annotated[str, Field(min_length=1, max_length=64)]
    readings: list[Annotated[float, Field(ge=0, le=100_000)]] = Field(min_length=1, max_length=1000)
    spec_min: Annotated[float, Field(ge=0)]
    spec_max: Annotated[float, Field(ge=0)]
    cure_minutes: Annotated[float, Field(ge=0, le=100_000)] | None = None
    cure_temp_c: Annotated[float, Field(ge=-100, le=1000)] | None = None

    @model_validator(mode="after")
    def _spec(self) -> CoatingLogCreate:
        if self.spec_min > self.spec_max:
            raise ValueError("spec_min is above spec_max")
        return self


class CoatingLogRead(ORM):
    id: uuid.UUID
    traveler_id: uuid.UUID
    step_id: uuid.UUID | None
    coating_type: str
    material: str
    lot: str
    readings: list[float]
    thickness_min: float
    thickness_max: float
    thickness_mean: float
    spec_min: float
    spec_max: float
    cure_minutes: float | None
    cure_temp_c: float | None
    passed: bool
    recorded_by: uuid.UUID
    recorded_at: datetime


# --- history --------------------------------------------------------------------------


class RevisionRead(ORM):
    entity: str
    entity_id: uuid.UUID
    field: str
    before: Any
    after: Any
    changed_by: uuid.UUID | None
    changed_at: datetime


# --- scan -----------------------------------------------------------------------------


class ScanRequest(BaseModel):
    code: Annotated[str, Field(min_length=1, max_length=200)]
    # For a sign-off by scan: the counts, as on the complete route.
    qty_passed: Count | None = None
    qty_failed: Count = 0
    notes: Notes = ""
    failure_action: FailureAction | None = Field(default=None, validate_default=True)
    rework_to_position: Annotated[int, Field(ge=1)] | None = Field(default=None, validate_default=True)

    _action = field_validator("failure_action")(_failure_needs_action)
    _target = field_validator("rework_to_position")(_rework_needs_target)


class ScanResult(BaseModel):
    action: str  # clocked_in | clocked_out | completed | show
    detail: str
    traveler: TravelerRead
    step: StepRead | None = None
    labor_log: LaborLogRead | None = None
    execution: ExecutionRead | None = None
