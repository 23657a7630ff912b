"""Pipeline executions on workers: from the queued event to the last stored step.

- `job`: what a job message is, read defensively;
- `steps`: one step of each kind (prompt, tool, study), never raising;
- `store`: the execution's state transitions, each checked against the worker's lease;
- `runner`: one execution from claim to its final state (both consumers use it);
- `queue`: the RabbitMQ work queue and its dead letters;
- `embedded`: the in-process runner when there is no broker;
- `../pipeline_worker.py`: `python -m ampflux_ai.pipeline_worker`.
"""

from .embedded import run_in_process
from .job import ExecutionJob, job_from_body
from .queue import PipelineQueue
from .runner import ExecutionRunner

__all__ = ["ExecutionJob", "ExecutionRunner", "PipelineQueue", "job_from_body", "run_in_process"]
