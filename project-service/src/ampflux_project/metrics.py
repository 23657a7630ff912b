"""The project service's own figures (the HTTP ones come from shared)."""

from __future__ import annotations

from ampflux_shared.observability import ServiceMetrics


class ProjectMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self.projects_created = metrics.counter("ampflux_project_projects_created_total", "Projects created")
        self.projects_deleted = metrics.counter("ampflux_project_projects_deleted_total", "Projects deleted")
        self.versions_created = metrics.counter(
            "ampflux_project_circuit_versions_created_total", "Circuit versions created (saves, restores, imports)"
        )
        self.unchanged_saves = metrics.counter(
            "ampflux_project_circuit_saves_unchanged_total", "Saves of a document identical to the latest version"
        )
        self.invalid_documents = metrics.counter(
            "ampflux_project_circuit_documents_rejected_total", "Circuit documents refused by validation"
        )
