"""What a job is: the queued-run event a worker receives, read defensively."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from ampflux_shared.events.work_queue import queued_id

from ..events import RUN_QUEUED


@dataclass(frozen=True)
class Job:
    run_id: uuid.UUID
    message_id: uuid.UUID
    delivery_count: int = 0


def job_from_body(body: bytes, delivery_count: int = 0) -> Job | None:
    """The job a message carries, or None when it is not a queued-run event."""
    found = queued_id(body, RUN_QUEUED, "run_id")
    return None if found is None else Job(run_id=found[0], message_id=found[1], delivery_count=delivery_count)
