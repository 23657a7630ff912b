"""The simulation job queue: from a queued run's event to a committed result.

- `job`: what a job message is, read defensively;
- `queue`: the RabbitMQ work queue and its dead letters, on the shared work queue;
- `runner`: one job from claim to commit (the handler both consumers share);
- `solve_process`: the solve in a killable child process;
- `embedded`: the in-process worker when there is no broker;
- `worker`: `python -m ampflux_simulation.worker`, the solver tier.
"""

from ampflux_shared.events.work_queue import JobOutcome

from .embedded import RetryJob, subscribe_in_process
from .job import Job, job_from_body
from .queue import RabbitJobQueue
from .runner import JobRunner

__all__ = [
    "Job",
    "JobOutcome",
    "JobRunner",
    "RabbitJobQueue",
    "RetryJob",
    "job_from_body",
    "subscribe_in_process",
]
