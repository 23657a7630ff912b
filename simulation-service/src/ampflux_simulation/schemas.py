"""Request and response bodies of the simulation service."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from ampflux_shared.circuit import DocumentObject
from ampflux_shared.circuit.model import Case, Fault, LineFault
from ampflux_shared.pagination import Page

from .models import RunStatus

BusId = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class StudyOptions(BaseModel):
    """What to compute; anything left out follows the document's own `study` section."""

    model_config = ConfigDict(extra="forbid")

    faults: list[Fault] | None = Field(default=None, min_length=1, description="fault types; default: the document's")
    cases: list[Case] | None = Field(default=None, min_length=1, description="max and/or min; default: the document's")
    buses: list[BusId] | None = Field(
        default=None, min_length=1, max_length=100_000, description="fault buses; default: every bus"
    )
    branches_for: BusId | None = Field(default=None, description="bus whose fault gets branch contributions")
    ip_method: Literal["B", "C"] | None = Field(
        default=None, description="IEC 60909-0 method for κ (study.kappa_method)"
    )
    tk_s: float | None = Field(default=None, gt=0, le=10, description="fault duration for Ith, s")
    duty: bool | None = Field(
        default=None, description="check every rated device (breakers, busbars, cables, transformers): study.duty"
    )
    scenario: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="the document's scenario to solve (switch states, elements out of service)"
    )
    line_faults: list[LineFault] | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="faults along lines (line id, fraction of its length from its from_bus), reported as "
        "`<line>@<fraction>`; replace the document's study.line_faults",
    )


class CircuitVersionRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    circuit_id: uuid.UUID
    version: int | None = Field(default=None, ge=1, description="version number; default: the latest")


class SimulationCreate(BaseModel):
    """A saved circuit version (`circuit`) or an inline document (`document`), not both."""

    model_config = ConfigDict(extra="forbid")

    project_id: uuid.UUID
    circuit: CircuitVersionRef | None = None
    document: DocumentObject | None = Field(default=None, description="inline circuit document for a quick what-if")
    options: StudyOptions = Field(default_factory=StudyOptions)

    @model_validator(mode="after")
    def _one_source(self) -> SimulationCreate:
        if (self.circuit is None) == (self.document is None):
            raise ValueError("give exactly one of `circuit` (a saved version) or `document` (inline)")
        return self


class CircuitSimulate(BaseModel):
    """`POST /circuits/{project_id}/simulate`: a saved version of one of the project's circuits."""

    model_config = ConfigDict(extra="forbid")

    circuit_id: uuid.UUID
    version: int | None = Field(default=None, ge=1, description="version number; default: the latest")
    options: StudyOptions = Field(default_factory=StudyOptions)


class Timings(BaseModel):
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    queue_wait_seconds: float | None
    solve_seconds: float | None


class RunError(BaseModel):
    code: str
    detail: str


class SimulationRead(BaseModel):
    id: uuid.UUID
    company_id: uuid.UUID
    project_id: uuid.UUID
    circuit_id: uuid.UUID | None
    circuit_version_id: uuid.UUID | None
    circuit_version_number: int | None
    document_id: str
    document_sha256: str
    bus_count: int
    options: dict[str, Any]
    status: RunStatus
    progress: float = Field(ge=0, le=1)
    attempts: int
    worker_id: str | None
    # While running: the worker's last heartbeat, and whether it is too old (the worker is
    # likely gone; the broker will hand the job to another one).
    worker_heartbeat_at: datetime | None = None
    worker_stale: bool = False
    requested_by: uuid.UUID | None
    timings: Timings
    error: RunError | None


class BusResultRead(BaseModel):
    fault: str
    case: str
    bus_id: str
    bus_index: int
    values: dict[str, float | str]
    trail: dict[str, Any] | None = None


class ResultSetRead(BaseModel):
    fault: str
    case: str
    quantities: list[str]
    omitted: dict[str, str] = Field(default_factory=dict)
    branches: dict[str, Any] | None = None
    voltages: dict[str, Any] | None = None
    scenario: str | None = Field(default=None, description="the scenario solved (none: the document's switch states)")
    unsupplied: dict[str, str] = Field(
        default_factory=dict, description="buses and line fault points with no source in this switching state, and why"
    )
    line_faults: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="line fault points: id -> line, fraction, from_bus, to_bus"
    )
    duty: list[dict[str, Any]] | None = Field(
        default=None,
        description="equipment duty (study.duty): per rated device and check, required_ka against rated_ka "
        "with margin_percent and pass (columns as the duty CSV)",
    )
    duty_not_checked: list[dict[str, str]] = Field(
        default_factory=list,
        description="rated devices none of whose buses were solved (a study restricted with buses): id, kind, reason",
    )


class ResultsPage(Page[BusResultRead]):
    run_id: uuid.UUID
    result_sets: list[ResultSetRead]


class QuantityDelta(BaseModel):
    a: float | str | None
    b: float | str | None
    delta: float | None = Field(description="b − a; null where either side is not a number")
    relative: float | None = Field(description="(b − a)/|a|; null where a is 0 or not a number")


class BusComparison(BaseModel):
    fault: str
    case: str
    bus_id: str
    # Present in only one run: the other side's values are null.
    in_a: bool
    in_b: bool
    quantities: dict[str, QuantityDelta]


class ComparisonPage(Page[BusComparison]):
    a: uuid.UUID
    b: uuid.UUID
    max_abs_relative: dict[str, float] = Field(description="per quantity, the largest |relative| on this page")
