"""`python -m ampflux_auth.migrate`: bring the auth database to the latest schema (a deploy
step of the real stack, where services start with AUTH_MIGRATE_ON_START=false)."""

from __future__ import annotations

from ampflux_shared.migrations import ensure_postgres_database, upgrade_to_head

from .config import Settings
from .main import MIGRATIONS_DIR, VERSION_TABLE


def main() -> None:
    url = Settings().resolved_database_url()
    ensure_postgres_database(url)
    upgrade_to_head(MIGRATIONS_DIR, url, VERSION_TABLE)


if __name__ == "__main__":
    main()
