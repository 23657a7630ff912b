"""`python -m ampflux_shared.migrate <service>` brings a service's PostgreSQL database to head
(creating it first), and each service's `alembic.ini` reaches the same configuration, so the
DEVELOPERS instructions work as written: models and migrations agree for every service.

The command and plain Alembic run in this process (their `main` with the same arguments): a
fresh Python per command cost about 1.3 s of CPU each, nine of them. One test still runs the
module as a process, so its entry point is covered too."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic.config import CommandLine, Config
from sqlalchemy import create_engine, text

from ampflux_shared.migrate import main as migrate_main

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("auth", "project", "simulation")


def _sync(url: str) -> str:
    return url.replace("+asyncpg", "+psycopg").replace("postgresql://", "postgresql+psycopg://", 1)


def _plain_alembic(*argv: str) -> str:
    """What `alembic -c alembic.ini <argv>` prints, run as its command line runs it (with our
    own stdout: its Config takes the real one by default, out of pytest's reach)."""
    cli = CommandLine()
    options = cli.parser.parse_args(["-c", "alembic.ini", *argv])
    out = io.StringIO()
    cli.run_cmd(Config(file_="alembic.ini", ini_section=options.name, cmd_opts=options, stdout=out), options)
    return out.getvalue()


@pytest.mark.parametrize("service", SERVICES)
def test_the_command_creates_and_migrates_the_database_and_plain_alembic_agrees(
    service, pg_admin_url, monkeypatch, capsys
):
    # A database that does not exist yet: the deploy step creates it.
    name = f"ampflux_migrate_{uuid.uuid4().hex[:10]}"
    url = f"{pg_admin_url.rsplit('/', 1)[0]}/{name}"
    monkeypatch.setenv(f"{service.upper()}_DATABASE_URL", url)
    admin = create_engine(_sync(pg_admin_url), isolation_level="AUTOCOMMIT")
    try:
        assert migrate_main([service]) == 0
        engine = create_engine(_sync(url))
        with engine.connect() as conn:
            version = conn.execute(text(f"SELECT version_num FROM alembic_version_{service}")).scalar_one()
        engine.dispose()
        capsys.readouterr()

        # Plain Alembic through the service's alembic.ini sees the same database and table.
        monkeypatch.chdir(ROOT / f"{service}-service")
        assert version in _plain_alembic("current")

        # Autogenerate compares the models with the migrated schema: nothing is missing.
        assert migrate_main([service, "check"]) == 0
        assert "match the models" in capsys.readouterr().out
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_an_unknown_service_is_refused_by_name():
    done = subprocess.run(
        [sys.executable, "-m", "ampflux_shared.migrate", "nosuch"],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0 and "unknown service 'nosuch'" in done.stderr


def test_a_service_starting_on_a_database_not_made_yet_creates_it_and_migrates_it(pg_admin_url):
    # What every service does at start in the embedded mode and in tests (migrate_on_start):
    # one connection to the database, creating it first only when connecting fails.
    from ampflux_project.migrations import __path__ as migrations_path
    from ampflux_shared.migrations import upgrade_to_head

    name = f"ampflux_start_{uuid.uuid4().hex[:10]}"
    url = f"{pg_admin_url.rsplit('/', 1)[0]}/{name}"
    admin = create_engine(_sync(pg_admin_url), isolation_level="AUTOCOMMIT")
    try:
        upgrade_to_head(Path(migrations_path[0]), url, "alembic_version_project")
        upgrade_to_head(Path(migrations_path[0]), url, "alembic_version_project")  # at head: nothing to do
        engine = create_engine(_sync(url))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version_project")).scalar_one() == 1
            assert conn.execute(text("SELECT to_regclass('projects') IS NOT NULL")).scalar_one()
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
