"""The event catalog: the typed payload of every (event type, schema version).

These models are the contract between services. A change a consumer could trip over
(removing or renaming a field, changing its type or meaning) gets a new version registered
next to the old one; adding an optional field does not, since payloads ignore unknown keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import EventContractError, PoisonEventError

if TYPE_CHECKING:
    from .envelope import EventEnvelope


class EventPayload(BaseModel):
    # extra="ignore": an older consumer keeps working when a producer adds an optional field.
    model_config = ConfigDict(frozen=True, extra="ignore")


P = TypeVar("P", bound=BaseModel)


class EventCatalog:
    """Registry `{(type, version): payload model}` with look-ups both ways."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, int], type[BaseModel]] = {}

    def register(self, type: str, version: int, model: type[P]) -> type[P]:
        key = (type, version)
        if key in self._models and self._models[key] is not model:
            raise EventContractError(f"{type} v{version} is already registered to {self._models[key].__name__}")
        self._models[key] = model
        return model

    def model_for(self, type: str, version: int) -> type[BaseModel]:
        try:
            return self._models[(type, version)]
        except KeyError:
            raise EventContractError(f"unknown event {type} v{version}") from None

    def version_of(self, type: str, payload: BaseModel) -> int:
        """The version whose model is exactly `payload`'s class, else `EventContractError`."""
        versions = [v for (t, v), m in self._models.items() if t == type and m is payload.__class__]
        if not versions:
            known = sorted(f"v{v}={m.__name__}" for (t, v), m in self._models.items() if t == type)
            raise EventContractError(
                f"{payload.__class__.__name__} is not a payload of {type}"
                + (f" (registered: {', '.join(known)})" if known else " (unknown event type)")
            )
        return max(versions)

    def parse(self, envelope: EventEnvelope) -> BaseModel:
        model = self.model_for(envelope.type, envelope.version)
        try:
            return model.model_validate(envelope.payload)
        except ValidationError as exc:
            # The envelope says what it is and still does not parse: retrying cannot fix it.
            raise PoisonEventError(
                f"payload of {envelope.type} v{envelope.version} {envelope.id} is invalid: {exc}"
            ) from exc

    def __contains__(self, key: tuple[str, int]) -> bool:
        return key in self._models

    def items(self) -> list[tuple[tuple[str, int], type[BaseModel]]]:
        return sorted(self._models.items())


CATALOG = EventCatalog()
# The default catalog as a plain read-only mapping `{(type, version): payload model}`.
EVENT_REGISTRY: Mapping[tuple[str, int], type[BaseModel]] = MappingProxyType(CATALOG._models)


def event(event_type: str, version: int = 1) -> Callable[[type[P]], type[P]]:
    """Class decorator registering a payload model in the default catalog."""

    def decorate(model: type[P]) -> type[P]:
        return CATALOG.register(event_type, version, model)

    return decorate


def parse_payload(envelope: EventEnvelope, catalog: EventCatalog = CATALOG) -> BaseModel:
    """The typed payload model of `envelope`.

    Raises `EventContractError` for a type/version this code does not know and
    `PoisonEventError` (a subclass, which buses dead-letter) for a payload that does not parse.
    An unknown version is deliberately not poison: during a rolling deploy an older replica
    may see a newer event first, and the requeue lets an upgraded replica take it.
    """
    return catalog.parse(envelope)


# --- auth -------------------------------------------------------------------------------


@event("auth.company.created")
class CompanyCreated(EventPayload):
    company_id: uuid.UUID
    name: str


@event("auth.user.registered")
class UserRegistered(EventPayload):
    user_id: uuid.UUID
    company_id: uuid.UUID
    email: str
    name: str
    roles: list[str]


@event("auth.user.updated")
class UserUpdated(EventPayload):
    """`changed_fields` names what changed; the matching value fields carry the new values."""

    user_id: uuid.UUID
    company_id: uuid.UUID
    changed_fields: list[Literal["email", "name", "roles", "is_active"]]
    email: str | None = None
    name: str | None = None
    roles: list[str] | None = None
    is_active: bool | None = None


@event("auth.user.deactivated")
class UserDeactivated(EventPayload):
    user_id: uuid.UUID
    company_id: uuid.UUID


# --- project ----------------------------------------------------------------------------


@event("project.project.created")
class ProjectCreated(EventPayload):
    project_id: uuid.UUID
    company_id: uuid.UUID
    name: str
    owner_id: uuid.UUID


@event("project.project.deleted")
class ProjectDeleted(EventPayload):
    project_id: uuid.UUID
    company_id: uuid.UUID


@event("project.member.added")
class ProjectMemberAdded(EventPayload):
    project_id: uuid.UUID
    company_id: uuid.UUID
    user_id: uuid.UUID
    role: str


@event("project.member.removed")
class ProjectMemberRemoved(EventPayload):
    project_id: uuid.UUID
    company_id: uuid.UUID
    user_id: uuid.UUID


@event("project.circuit_version.created")
class CircuitVersionCreated(EventPayload):
    project_id: uuid.UUID
    company_id: uuid.UUID
    circuit_id: uuid.UUID
    circuit_version_id: uuid.UUID
    number: int
    # Lets a consumer that caches circuit documents know whether it already has this one.
    content_sha256: str | None = None


# --- simulation -------------------------------------------------------------------------


@event("simulation.run.queued")
class SimulationRunQueued(EventPayload):
    run_id: uuid.UUID
    company_id: uuid.UUID
    project_id: uuid.UUID
    circuit_version_id: uuid.UUID
    requested_by: uuid.UUID | None = None


@event("simulation.run.completed")
class SimulationRunCompleted(EventPayload):
    run_id: uuid.UUID
    company_id: uuid.UUID
    project_id: uuid.UUID
    circuit_version_id: uuid.UUID
    finished_at: datetime
    solve_seconds: float
    bus_count: int


@event("simulation.run.cancelled")
class SimulationRunCancelled(EventPayload):
    run_id: uuid.UUID
    company_id: uuid.UUID
    project_id: uuid.UUID
    circuit_version_id: uuid.UUID
    cancelled_at: datetime
    cancelled_by: uuid.UUID | None = None


@event("simulation.run.failed")
class SimulationRunFailed(EventPayload):
    run_id: uuid.UUID
    company_id: uuid.UUID
    project_id: uuid.UUID
    circuit_version_id: uuid.UUID
    finished_at: datetime
    # A stable machine-readable reason (e.g. "invalid_circuit", "solver_diverged") and text.
    error_code: str
    detail: str


# --- traveler ---------------------------------------------------------------------------


@event("traveler.traveler.released")
class TravelerReleased(EventPayload):
    traveler_id: uuid.UUID
    company_id: uuid.UUID
    number: str
    traveler_type: str
    part_number: str
    quantity: int
    purchase_order_id: uuid.UUID | None = None


@event("traveler.step.completed")
class TravelerStepCompleted(EventPayload):
    traveler_id: uuid.UUID
    company_id: uuid.UUID
    number: str
    step_id: uuid.UUID
    step_name: str
    position: int
    execution_id: uuid.UUID
    # "first" or "rework"
    kind: str
    qty_passed: int
    qty_failed: int
    signed_off_by: uuid.UUID


@event("traveler.traveler.on_hold")
class TravelerOnHold(EventPayload):
    traveler_id: uuid.UUID
    company_id: uuid.UUID
    number: str
    reason: str


@event("traveler.traveler.completed")
class TravelerCompleted(EventPayload):
    traveler_id: uuid.UUID
    company_id: uuid.UUID
    number: str
    quantity: int
    completed_at: datetime


@event("traveler.unit.failed")
class TravelerUnitFailed(EventPayload):
    """One unit failed a step; `serial` is None for travelers without serial numbers, and
    then `quantity` says how many units failed together."""

    traveler_id: uuid.UUID
    company_id: uuid.UUID
    number: str
    step_id: uuid.UUID
    step_name: str
    execution_id: uuid.UUID
    serial: str | None = None
    quantity: int = 1


# --- ai ---------------------------------------------------------------------------------


@event("ai.message.completed")
class AIMessageCompleted(EventPayload):
    """An assistant message finished: `status` is "complete" or "failed" (with what was written)."""

    conversation_id: uuid.UUID
    message_id: uuid.UUID
    company_id: uuid.UUID
    user_id: uuid.UUID
    model: str
    status: str
    tokens_in: int
    tokens_out: int
    # Names of the tools the model called, in order.
    tool_calls: list[str] = []


@event("ai.pipeline_execution.queued")
class AIPipelineExecutionQueued(EventPayload):
    """A pipeline execution waits for a worker: the AI service's pipeline work queue is bound
    to this routing key, so the event is the job (written with the execution, in its transaction)."""

    execution_id: uuid.UUID
    pipeline_id: uuid.UUID | None
    company_id: uuid.UUID
    user_id: uuid.UUID
