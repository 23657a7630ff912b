"""`python -m ampflux_ai.migrate`: bring the service's database to the newest schema.

The real stack runs this as a deploy step (with `AI_MIGRATE_ON_START=false` on the
service); the embedded mode migrates at start-up instead.
"""

from __future__ import annotations

from ampflux_shared.migrations import ensure_postgres_database, upgrade_to_head

from .config import Settings
from .main import MIGRATIONS_DIR

VERSION_TABLE = "alembic_version_ai"


def main() -> None:
    settings = Settings()
    url = settings.resolved_database_url()
    ensure_postgres_database(url)
    upgrade_to_head(MIGRATIONS_DIR, url, VERSION_TABLE)
    print(f"AI service database is at the newest schema ({VERSION_TABLE})")


if __name__ == "__main__":
    main()
