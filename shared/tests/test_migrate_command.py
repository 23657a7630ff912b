"""`python -m ampflux_shared.migrate <service>` brings a service's PostgreSQL database to head
(creating it first), and each service's `alembic.ini` reaches the same configuration, so the
DEVELOPERS instructions work as written: models and migrations agree for every service."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("auth", "project", "simulation")
ALEMBIC = Path(sys.executable).parent / "alembic"


def _run(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def _sync(url: str) -> str:
    return url.replace("+asyncpg", "+psycopg").replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.mark.parametrize("service", SERVICES)
def test_the_command_creates_and_migrates_the_database_and_plain_alembic_agrees(service, pg_admin_url):
    # A database that does not exist yet: the deploy step creates it.
    name = f"ampflux_migrate_{uuid.uuid4().hex[:10]}"
    url = f"{pg_admin_url.rsplit('/', 1)[0]}/{name}"
    env = {f"{service.upper()}_DATABASE_URL": url}
    admin = create_engine(_sync(pg_admin_url), isolation_level="AUTOCOMMIT")
    try:
        done = _run([sys.executable, "-m", "ampflux_shared.migrate", service], env)
        assert done.returncode == 0, done.stderr
        engine = create_engine(_sync(url))
        with engine.connect() as conn:
            version = conn.execute(text(f"SELECT version_num FROM alembic_version_{service}")).scalar_one()
        engine.dispose()

        # Plain Alembic through the service's alembic.ini sees the same database and table.
        current = _run([str(ALEMBIC), "-c", "alembic.ini", "current"], env, cwd=ROOT / f"{service}-service")
        assert current.returncode == 0, current.stderr
        assert version in current.stdout

        # Autogenerate compares the models with the migrated schema: nothing is missing.
        check = _run([sys.executable, "-m", "ampflux_shared.migrate", service, "check"], env)
        assert check.returncode == 0, check.stderr
        assert "match the models" in check.stdout
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_an_unknown_service_is_refused_by_name():
    done = _run([sys.executable, "-m", "ampflux_shared.migrate", "nosuch"], {})
    assert done.returncode != 0 and "unknown service 'nosuch'" in done.stderr
