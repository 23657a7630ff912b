"""The simulation service's own Prometheus figures, on its per-service registry."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter, Gauge, Histogram

from ampflux_shared.observability import ServiceMetrics

# Solves range from milliseconds (a few buses) to minutes (tens of thousands of buses).
SOLVE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
WAIT_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)


@dataclass(frozen=True)
class SimulationMetrics:
    solve_duration: Histogram
    queue_wait: Histogram
    buses_solved: Counter
    jobs: Counter
    jobs_in_progress: Gauge
    runs: Gauge
    queue_depth: Gauge
    dead_letter_depth: Gauge
    workers: Gauge
    oldest_heartbeat_age: Gauge

    @classmethod
    def of(cls, metrics: ServiceMetrics) -> SimulationMetrics:
        return cls(
            solve_duration=metrics.histogram(
                "ampflux_simulation_solve_duration_seconds", "Time the solver took per run", buckets=SOLVE_BUCKETS
            ),
            queue_wait=metrics.histogram(
                "ampflux_simulation_queue_wait_seconds",
                "Time from submit to the start of solving",
                buckets=WAIT_BUCKETS,
            ),
            buses_solved=metrics.counter(
                "ampflux_simulation_buses_solved_total", "Fault buses solved (rate() of it is buses per second)"
            ),
            jobs=metrics.counter(
                "ampflux_simulation_jobs_total",
                "Job deliveries by outcome (succeeded, failed, cancelled, retried, dead_lettered, requeued, duplicate)",
                ["outcome"],
            ),
            jobs_in_progress=metrics.gauge("ampflux_simulation_jobs_in_progress", "Jobs this process is solving now"),
            runs=metrics.gauge("ampflux_simulation_runs", "Study runs by state", ["state"]),
            queue_depth=metrics.gauge("ampflux_simulation_queue_depth", "Jobs waiting in the work queue"),
            dead_letter_depth=metrics.gauge(
                "ampflux_simulation_dead_letter_depth", "Jobs waiting in the dead-letter queue"
            ),
            workers=metrics.gauge("ampflux_simulation_workers", "Worker consumers attached to the work queue"),
            oldest_heartbeat_age=metrics.gauge(
                "ampflux_simulation_oldest_heartbeat_age_seconds",
                "Seconds since the oldest last worker heartbeat among running runs (0 when none runs)",
            ),
        )
