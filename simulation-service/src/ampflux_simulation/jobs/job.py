"""What a job is: the queued-run event a worker receives, read defensively."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from ampflux_shared.events import EventEnvelope

from ..events import RUN_QUEUED


class JobOutcome(StrEnum):
    DONE = "done"  # ack: the job needs nothing more
    RETRY = "retry"  # nack with requeue: counts towards the queue's delivery limit


@dataclass(frozen=True)
class Job:
    run_id: uuid.UUID
    message_id: uuid.UUID
    delivery_count: int = 0


def job_from_body(body: bytes, delivery_count: int = 0) -> Job | None:
    """The job a message carries, or None when it is not a queued-run event."""
    try:
        envelope = EventEnvelope.from_json(body)
        if envelope.type != RUN_QUEUED:
            return None
        run_id = uuid.UUID(str(envelope.payload["run_id"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return Job(run_id=run_id, message_id=envelope.id, delivery_count=delivery_count)
