"""`python -m ampflux_simulation.migrate`: the deploy step of the real stack (services and workers
start with SIMULATION_MIGRATE_ON_START=false); the same as `python -m ampflux_shared.migrate simulation`."""

from __future__ import annotations

from ampflux_shared.migrate import migrate as migrate_service

from .config import Settings


def migrate(settings: Settings | None = None) -> None:
    migrate_service("simulation", settings)


if __name__ == "__main__":
    migrate()
