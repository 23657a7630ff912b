"""`python -m ampflux_simulation.migrate`: bring the database to the newest schema (a deploy step)."""

from __future__ import annotations

from pathlib import Path

from ampflux_shared.migrations import ensure_postgres_database, upgrade_to_head

from .config import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version_simulation"


def migrate(settings: Settings | None = None) -> None:
    settings = settings or Settings()
    url = settings.resolved_database_url()
    ensure_postgres_database(url)
    upgrade_to_head(MIGRATIONS_DIR, url, VERSION_TABLE)


if __name__ == "__main__":
    migrate()
