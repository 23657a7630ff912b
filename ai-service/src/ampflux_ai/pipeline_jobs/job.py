"""What a pipeline job is: the `ai.pipeline_execution.queued` event a worker receives."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ampflux_shared.events.work_queue import queued_id

from ..events import PIPELINE_EXECUTION_QUEUED


@dataclass(frozen=True)
class ExecutionJob:
    execution_id: uuid.UUID
    message_id: uuid.UUID


def job_from_body(body: bytes) -> ExecutionJob | None:
    """The job a message carries, or None when it is not a queued-execution event."""
    found = queued_id(body, PIPELINE_EXECUTION_QUEUED, "execution_id")
    return None if found is None else ExecutionJob(execution_id=found[0], message_id=found[1])
