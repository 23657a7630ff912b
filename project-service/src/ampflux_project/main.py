"""The project service's app factory and entry point (`python -m ampflux_project`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from ampflux_shared.app import ServiceSpec, create_service_app, serve
from ampflux_shared.security import JWKSVerifier

from .api import ROUTERS
from .config import Settings
from .consumers import subscribe_consumers
from .metrics import ProjectMetrics
from .models import event_tables, metadata

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

DESCRIPTION = """Projects, their members, named circuits and immutable circuit versions.

A project is visible only to its members and the company's admins; another company's
ids answer 404. Circuit documents (FORMAT.md v1) are validated on every save, and every
problem is reported at once.
"""


def create_app(settings: Settings | None = None, *, verifier: JWKSVerifier | None = None) -> FastAPI:
    """The service app; `verifier` replaces the JWKS fetch (tests pass their own keys)."""
    settings = settings or Settings()
    app = create_service_app(
        ServiceSpec(
            title="AmpFlux project service",
            description=DESCRIPTION,
            settings=settings,
            routers=ROUTERS,
            metadata=metadata,
            migrations_dir=MIGRATIONS_DIR,
            event_tables=event_tables,
            verifier=verifier,
            on_startup=[subscribe_consumers],
        )
    )
    app.state.project_metrics = ProjectMetrics(app.state.metrics)
    return app


def run() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    run()
