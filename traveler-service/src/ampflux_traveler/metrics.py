"""The traveler service's own figures (the HTTP ones come from shared)."""

from __future__ import annotations

from ampflux_shared.observability import ServiceMetrics


class TravelerMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self.travelers_created = metrics.counter("ampflux_traveler_travelers_created_total", "Travelers created")
        self.transitions = metrics.counter(
            "ampflux_traveler_transitions_total", "Traveler status changes", labels=("status",)
        )
        self.steps_completed = metrics.counter("ampflux_traveler_steps_completed_total", "Step executions signed off")
        self.units_failed = metrics.counter("ampflux_traveler_units_failed_total", "Units failed at a step sign-off")
        self.clock_ins_refused = metrics.counter(
            "ampflux_traveler_clock_ins_refused_total", "Clock-ins refused because the operator already had an open log"
        )
