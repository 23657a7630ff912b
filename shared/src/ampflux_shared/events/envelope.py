"""The envelope every domain event travels in, and the one way to build it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from .catalog import CATALOG, EventCatalog

# `<service>.<entity>.<verb>`; also the AMQP routing key, so no dots or wildcards inside parts.
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"


class EventEnvelope(BaseModel):
    # Unknown envelope fields are ignored so a newer producer cannot break an older consumer.
    model_config = ConfigDict(frozen=True, extra="ignore")

    id: uuid.UUID
    type: str = Field(pattern=EVENT_TYPE_PATTERN)
    version: int = Field(ge=1)
    time: AwareDatetime
    producer: str = Field(min_length=1)
    company_id: uuid.UUID | None = None
    actor_id: uuid.UUID | None = None
    request_id: str | None = None
    payload: dict[str, Any]

    @field_validator("time")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> EventEnvelope:
        return cls.model_validate_json(data)


def make_event(
    type: str,
    payload: BaseModel,
    *,
    producer: str,
    company_id: uuid.UUID | None = None,
    actor_id: uuid.UUID | None = None,
    request_id: str | None = None,
    catalog: EventCatalog = CATALOG,
) -> EventEnvelope:
    """Build an envelope; the schema version follows from the payload model's catalog entry.

    Raises `EventContractError` when `payload` is not the model registered for `type`, so a
    producer cannot emit something its consumers would fail to parse.
    """
    version = catalog.version_of(type, payload)
    return EventEnvelope(
        id=uuid.uuid4(),
        type=type,
        version=version,
        time=datetime.now(UTC),
        producer=producer,
        company_id=company_id,
        actor_id=actor_id,
        request_id=request_id,
        payload=payload.model_dump(mode="json"),
    )
