"""`python -m ampflux_simulation.migrate`: the deploy step of the real stack (services and workers
start with SIMULATION_MIGRATE_ON_START=false); the same as `python -m ampflux_shared.migrate simulation`."""

from __future__ import annotations

from pathlib import Path

from ampflux_shared.migrate import migrate as migrate_service

from .config import Settings

# The worker migrates at its own start-up from these (the shared convention's values).
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_simulation"


def migrate(settings: Settings | None = None) -> None:
    migrate_service("simulation", settings)


if __name__ == "__main__":
    migrate()
