"""Settings of the simulation service and its workers (environment variables `SIMULATION_*`)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from ampflux_shared.settings import DEV_ENVIRONMENTS, ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SIMULATION_", env_file=".env", extra="ignore")

    service_name: str = "simulation"
    port: int = 8003

    # Where circuit versions are read, with the caller's token so the project's access rules apply.
    project_url: str = "http://127.0.0.1:8002"
    project_timeout_s: float = Field(default=10.0, gt=0)

    # The job queue. The work queue is bound to the events exchange with the
    # `simulation.run.queued` routing key, so the outbox row written with a queued run IS the
    # enqueue; its dead letters go to `<jobs_queue>.dlq`.
    jobs_queue: str = "simulation.jobs"
    # Deliveries after which RabbitMQ dead-letters a job (quorum queues only; 3.10 has no default).
    job_delivery_limit: int = Field(default=3, ge=1, le=100)
    # First wait before a failed job is requeued; doubles per delivery (at most 30 s).
    job_retry_delay_s: float = Field(default=1.0, ge=0)
    # Wall-clock limit of one solve; the solving child process is killed when it runs over.
    job_time_limit_s: float = Field(default=600.0, gt=0)
    # How often a worker looks for a cancel while its solve runs.
    cancel_poll_s: float = Field(default=0.5, gt=0)
    # Embedded default (no AMQP URL): solves the API process runs at once, each in a child process.
    embedded_workers: int = Field(default=1, ge=1, le=64)
    # Worker: serve Prometheus metrics on this port (0: off).
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)

    # Server-Sent Events: how often the stream looks at the run, and a keep-alive comment.
    events_poll_s: float = Field(default=0.5, gt=0)
    events_keepalive_s: float = Field(default=15.0, gt=0)
    # API: bus rows of decoded result sets kept in memory per process (a 3,000-bus set with
    # trails is ~4 MB decoded), so paging through a set decodes it once; 0: decode every read.
    results_cache_buses: int = Field(default=50_000, ge=0)
    # Refresh of the queue-depth, worker-count and runs-by-state gauges.
    metrics_refresh_s: float = Field(default=5.0, gt=0)

    # Fault injection for the test suite only (refused outside local/test environments):
    # a delay before each solve, so a job can be caught mid-run, and a circuit `id` whose
    # solving child process dies every time, so a poison job can be produced on demand.
    test_solve_delay_s: float = Field(default=0.0, ge=0)
    test_crash_circuit_id: str = ""

    @model_validator(mode="after")
    def _no_fault_injection_in_production(self) -> Settings:
        injected = self.test_solve_delay_s > 0 or bool(self.test_crash_circuit_id)
        if injected and self.environment not in DEV_ENVIRONMENTS:
            raise ValueError("test_* fault-injection settings are only allowed in local or test environments")
        return self

    @property
    def jobs_dead_letter_queue(self) -> str:
        return f"{self.jobs_queue}.dlq"
