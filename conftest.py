"""Fixtures every test folder shares: real PostgreSQL and RabbitMQ.

A test that needs one of them gets its URL from these fixtures. When the server is not
reachable the test is skipped with the reason, except in CI (CI=true), where it fails:
CI must prove the real stack, never quietly skip it.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import shutil
import socket
import subprocess
import sys
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from urllib.parse import urlparse, urlunparse

import pytest

from ampflux_testing.ci import cannot_run
from ampflux_testing.group_resources import stop_unneeded

PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _reachable(url: str, default_port: int) -> bool:
    u = urlparse(url.replace("+psycopg", ""))
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or default_port), timeout=2):
            return True
    except OSError:
        return False


def require(url: str, default_port: int, what: str) -> None:
    if _reachable(url, default_port):
        return
    cannot_run(f"{what} is not reachable at {url}; start it (see DEVELOPERS.md) to run this test")


# Under `make test` the tests run on pytest-xdist workers (--dist loadgroup). Tests of these
# folders share one costly session fixture and so one worker: the e2e stack (every service as a
# process), and the quick fault suite's own PostgreSQL and RabbitMQ instances.
_ONE_WORKER_FOLDERS = {"e2e": "e2e-stack", "faults_quick": "own-instances"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook turns the marks into its groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    grouped = set()
    for item in items:
        parent, folder = item.path.parts[-3:-1]
        if parent == "tests" and folder in _ONE_WORKER_FOLDERS:
            item.add_marker(pytest.mark.xdist_group(_ONE_WORKER_FOLDERS[folder]))
            grouped.add(item.nodeid)
    # Long tests first (stable: the rest keep their order). xdist hands work out in this order
    # (its groups first, largest first), and a long test begun late is the whole run's tail.
    # A group's tests move together, so that in one process too its stack starts once.
    items.sort(key=lambda item: item.nodeid not in grouped and item.get_closest_marker("slow") is None)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None):
    """After a test's own teardown, stop the group resources (ampflux_testing.group_resources)
    that the next test on this worker does not use: the e2e stack stops when its last test
    ends, not when the session does."""
    result = yield
    stop_unneeded(frozenset(getattr(nextitem, "fixturenames", ())) if nextitem is not None else None)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session):
    """Collect with bytecode caching on, even where PYTHONDONTWRITEBYTECODE is set (our CI
    machines, this one). pytest rewrites the asserts of every test module it imports and
    keeps the result in `__pycache__` only when bytecode may be written: without it each
    collecting process (one per xdist worker) rewrote all of them again, about 5 s of CPU a
    process. The service processes the tests start keep the setting they inherit."""
    was = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    try:
        return (yield)
    finally:
        sys.dont_write_bytecode = was


def pytest_collection_finish(session: pytest.Session) -> None:
    """Collection imported every service and built every test: hundreds of thousands of
    objects that live until the end. Left in the collected generations, each full collection
    scanned them all again (about 0.2 s each, 15 of them in the project and auth tests alone,
    3 s of 17 s of CPU). Frozen, the collector skips them; a larger first generation collects
    less often the many short-lived objects of each request (gen0 700 -> 10000)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


# This test process's virtual host, made while its tests are collected (see amqp_url).
_vhost: Future[str | None] | None = None


def pytest_sessionstart(session: pytest.Session) -> None:
    # Each rabbitmqctl call starts an Erlang VM (about half a second of CPU): the one that makes
    # the process's virtual host runs on a thread while collection imports the tests, not in the
    # first test that asks for the broker. Every process that runs tests gets one: an xdist
    # worker, and a run without xdist (make bench, one file with -n 0), which would otherwise
    # share the default host with whatever else runs tests on this broker at the same time.
    global _vhost
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    xdist_controller = worker is None and bool(getattr(session.config.option, "numprocesses", None))
    if not xdist_controller and _reachable(AMQP_URL, 5672):
        _vhost = ThreadPoolExecutor(1, thread_name_prefix="vhost").submit(
            _make_vhost, f"ampflux-test-{worker or 'main'}-{uuid.uuid4().hex[:6]}"
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    stop_unneeded(None)  # after an interrupted run, whose last test's teardown never came
    vhost = _vhost.result() if _vhost is not None else None
    if vhost is not None:
        # Not waited for: nothing runs after this, and the worker's exit need not wait a second for it.
        _rabbitmqctl("delete_vhost", vhost, wait=False)


def pytest_unconfigure(config: pytest.Config) -> None:
    # An xdist worker has reported everything by now; tearing down its interpreter (hundreds
    # of MB of modules and objects, freed one by one) held the end of the run 1-2 s.
    # Registered last, this exit runs first of the exit handlers. Not under coverage, whose
    # own exit handler writes its data.
    if os.environ.get("PYTEST_XDIST_WORKER") and "coverage" not in sys.modules:
        atexit.register(_exit_without_teardown)


def _exit_without_teardown() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _make_vhost(vhost: str) -> str | None:
    # The host and the user's permissions on it in one rabbitmqctl call (each starts an Erlang VM).
    user = urlparse(AMQP_URL).username or "guest"
    definitions = {
        "vhosts": [{"name": vhost}],
        "permissions": [{"user": user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}],
    }
    if not _rabbitmqctl("import_definitions", stdin=json.dumps(definitions)):
        _rabbitmqctl("delete_vhost", vhost)  # in case the host came and its permissions did not
        return None
    return vhost


@pytest.fixture(scope="session")
def amqp_url() -> str:
    """The test broker, on a virtual host of this test process's own.

    A job queue is bound to the events exchange by its routing key, so two tests running at
    once in two processes (two xdist workers, or a benchmark beside a test run) would each get
    a copy of the other's jobs (and dead letters). A virtual host per process keeps what its
    tests publish among them. Where `rabbitmqctl` cannot make one (a broker on another
    machine), the shared one is used.
    """
    require(AMQP_URL, 5672, "RabbitMQ")
    vhost = _vhost.result() if _vhost is not None else None
    if vhost is None:
        return AMQP_URL
    return urlunparse(urlparse(AMQP_URL)._replace(path="/" + vhost))


def _rabbitmqctl(*args: str, wait: bool = True, stdin: str | None = None) -> bool:
    if urlparse(AMQP_URL).hostname not in ("127.0.0.1", "localhost") or shutil.which("rabbitmqctl") is None:
        return False
    command = ["rabbitmqctl", "-q", *args]
    try:
        if not wait:
            subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            return True
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.fixture(scope="session")
def redis_url() -> str:
    require(REDIS_URL, 6379, "Redis")
    return REDIS_URL


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    require(PG_ADMIN_URL, 5432, "PostgreSQL")
    return PG_ADMIN_URL


def _pg_url_for(admin_url: str, dbname: str) -> str:
    base = admin_url.rsplit("/", 1)[0]
    return f"{base}/{dbname}"


@pytest.fixture
def make_postgres_database(pg_admin_url):
    """Factory: a brand-new, empty PostgreSQL database for this test, dropped afterwards."""
    from sqlalchemy import create_engine, text

    admin = create_engine(pg_admin_url.replace("+asyncpg", "+psycopg"), isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def make(prefix: str = "ampflux_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return _pg_url_for(pg_admin_url, name)

    yield make
    with admin.connect() as conn:
        for name in created:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def postgres_url(make_postgres_database) -> str:
    return make_postgres_database()


@pytest.fixture(scope="session")
def reusable_postgres_database(pg_admin_url):
    """Factory: one PostgreSQL database per `name` for the whole session, empty for each test.

    Creating and dropping a database per test costs a second or more on a busy server;
    emptying the tables of one already migrated costs milliseconds. The first test that
    asks gets a new, empty database (its service migrates it at start-up); every later one
    gets the same database at the same schema, every table emptied (Alembic's version
    tables kept, sequences restarted). For tests that need a database of their own
    (migrations from scratch, several databases), use `postgres_url`.
    """
    from sqlalchemy import Engine, create_engine, text

    admin = create_engine(pg_admin_url.replace("+asyncpg", "+psycopg"), isolation_level="AUTOCOMMIT")
    databases: dict[str, str] = {}
    # One kept connection per database empties it before each test: a new one each time was a
    # new server process each time (a few ms of the server's CPU, hundreds of tests).
    emptiers: dict[str, Engine] = {}

    def empty(url: str) -> None:
        engine = emptiers.get(url)
        if engine is None:
            # Pre-ping: a test may end its database's connections (an outage it tests).
            engine = emptiers[url] = create_engine(
                url.replace("+asyncpg", "+psycopg"), pool_size=1, max_overflow=0, pool_pre_ping=True
            )
        with engine.begin() as conn:
            # Fail loudly rather than hang if a previous test left a transaction open.
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            tables = conn.scalars(
                text(
                    "SELECT quote_ident(tablename) FROM pg_tables"
                    " WHERE schemaname = 'public' AND tablename NOT LIKE 'alembic_version%'"
                )
            ).all()
            if tables:
                # DELETE, not TRUNCATE: a test leaves a few rows, and TRUNCATE gives every
                # table new files (about 0.5 s for 20 tables on a busy server, 15x a DELETE).
                # Replica mode skips the foreign-key triggers, so the order does not matter.
                conn.execute(text("SET LOCAL session_replication_role = replica"))
                conn.execute(text("; ".join(f"DELETE FROM {t}" for t in tables)))
            conn.execute(
                text(
                    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false)"
                    " FROM pg_sequences WHERE schemaname = 'public'"
                )
            )

    def get(name: str) -> str:
        if name in databases:
            url = _pg_url_for(pg_admin_url, databases[name])
            empty(url)
            return url
        dbname = f"ampflux_{name}_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{dbname}"'))
        databases[name] = dbname
        return _pg_url_for(pg_admin_url, dbname)

    yield get
    for engine in emptiers.values():
        engine.dispose()
    with admin.connect() as conn:
        for dbname in databases.values():
            conn.execute(text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
    admin.dispose()
