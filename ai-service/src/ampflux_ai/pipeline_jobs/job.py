"""What a pipeline job is: the `ai.pipeline_execution.queued` event a worker receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ampflux_shared.events import EventEnvelope

from ..events import PIPELINE_EXECUTION_QUEUED


@dataclass(frozen=True)
class ExecutionJob:
    execution_id: uuid.UUID
    message_id: uuid.UUID


def job_from_body(body: bytes) -> ExecutionJob | None:
    """The job a message carries, or None when it is not a queued-execution event."""
    try:
        envelope = EventEnvelope.from_json(body)
        if envelope.type != PIPELINE_EXECUTION_QUEUED:
            return None
        execution_id = uuid.UUID(str(envelope.payload["execution_id"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return ExecutionJob(execution_id=execution_id, message_id=envelope.id)
