"""The simulation job queue: from a queued run's event to a committed result.

- `job`: what a job message is, read defensively;
- `queue`: the RabbitMQ work queue and its dead letters, on the shared work queue;
- `runner`: one job from claim to commit (the handler both consumers share);
- `solve_process`: the solve in a killable child process;
- `embedded`: the in-process worker when there is no broker;
- `worker`: `python -m ampflux_simulation.worker`, the solver tier.

Import from the modules themselves: this package imports none of them, because the solving
processes' forkserver imports `solve_process` (and so this package) and needs none of the rest
(the queue, the runner and the events with them were a second of CPU per forkserver start).
"""
