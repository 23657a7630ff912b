"""The traveler service's app factory and entry point (`python -m ampflux_traveler`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from ampflux_shared.app import ServiceSpec, create_service_app, serve
from ampflux_shared.security import JWKSVerifier

from .api import ROUTERS
from .config import Settings
from .consumers import subscribe_consumers
from .metrics import TravelerMetrics
from .models import event_tables, metadata

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

DESCRIPTION = """Manufacturing travelers for a PCB and electronics assembly shop: purchase
orders, traveler types with routing templates, travelers with their bill of materials,
process steps with sign-off, serial units, labor and coating logs, revision history,
barcodes, the printed sheet, the scan station and reports.

Every row belongs to one company; another company's ids answer 404. Roles decide who may
write what (see the service README).
"""


def create_app(settings: Settings | None = None, *, verifier: JWKSVerifier | None = None) -> FastAPI:
    """The service app; `verifier` replaces the JWKS fetch (tests pass their own keys)."""
    settings = settings or Settings()
    app = create_service_app(
        ServiceSpec(
            title="AmpFlux traveler service",
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
    app.state.traveler_metrics = TravelerMetrics(app.state.metrics)
    return app


def run() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    run()
