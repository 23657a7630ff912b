"""PostgreSQL and RabbitMQ instances of a test's own, to kill and restart at will.

The shared servers (PostgreSQL on 5432, the `rabbit@localhost` node on 5672/25672) are never
touched: each instance here lives in its own temporary directory, on spare ports, and is
stopped by the PID it wrote there. A killed instance restarts on the same port and data
directory, so clients reconnect to the same address and find their data again, as after a
real crash.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from ampflux_testing.processes import free_port

PG_BIN_DIRS = (Path("/usr/local/bin"), Path("/usr/lib/postgresql/16/bin"), Path("/usr/lib/postgresql/15/bin"))
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _pg_tool(name: str) -> str:
    for folder in PG_BIN_DIRS:
        if (folder / name).exists():
            return str(folder / name)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found (PostgreSQL server binaries are needed for an own instance)")
    return found


def available() -> str | None:
    """Why own instances cannot run here, or None when they can."""
    try:
        _pg_tool("initdb")
    except RuntimeError as exc:
        return str(exc)
    if not RABBITMQ_SERVER.exists() and shutil.which("rabbitmq-server") is None:
        return "rabbitmq-server not found"
    return None


class OwnPostgres:
    """`initdb` + `pg_ctl` in a temporary directory, trust auth, on a spare port.

    As root, the server runs as the `postgres` user (PostgreSQL refuses root).
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="ampflux-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self._user = "postgres" if os.geteuid() == 0 else None

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 120.0) -> None:
        result = subprocess.run(args, user=self._user, capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({result.returncode}): {result.stdout}{result.stderr}")

    def init(self) -> OwnPostgres:
        if self._user is not None:
            entry = pwd.getpwnam(self._user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        self._run(_pg_tool("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
        return self

    def start(self, timeout_s: float = 60.0) -> OwnPostgres:
        # fsync off: only the server crashes in these tests, never the machine, so what it
        # wrote to the OS survives. synchronous_commit stays on: a commit it acknowledged
        # must survive `-m immediate`, or a crash test would count its own setting as a loss.
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c full_page_writes=off -c max_connections=300"
        )
        self._run(
            _pg_tool("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options,
            "-w", "-t", str(int(timeout_s)), "start", timeout=timeout_s + 10,
        )  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash as far as the clients and the server's recovery know."""
        if self.pid() is None:
            return
        self._run(_pg_tool("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, down_s: float = 0.0, mode: str = "immediate") -> None:
        self.stop(mode)
        time.sleep(down_s)
        self.start()

    def pid(self) -> int | None:
        try:
            pid = int((self.data / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid

    def create_database(self, name: str) -> str:
        from sqlalchemy import create_engine, text

        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class OwnRabbitMQ:
    """A RabbitMQ node of its own: its own node name, ports, data, config, plugins and cookie.

    It registers with the machine's epmd under a name of its own (`faults-<pid>-<n>`) like any
    second node would; the shared node is neither asked nor told anything.
    """

    _count = 0

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root or tempfile.mkdtemp(prefix="ampflux-rabbitmq-"))
        OwnRabbitMQ._count += 1
        self.nodename = f"faults-{os.getpid()}-{OwnRabbitMQ._count}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        self.log = self.root / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_file: object | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict[str, str]:
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.local = 127.0.0.1:{self.port}\n"
            "loopback_users = none\n"
            # A tight disk or memory alarm would block publishers for reasons of its own.
            "disk_free_limit.absolute = 50MB\n"
            "vm_memory_high_watermark.relative = 0.8\n"
        )
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq-env.conf").write_text("")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=str(self.root),  # a fresh Erlang cookie, not the shared node's
            RABBITMQ_NODENAME=self.nodename,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_MNESIA_BASE=str(self.root / "mnesia"),
            RABBITMQ_LOG_BASE=str(self.root / "log"),
            RABBITMQ_CONFIG_FILE=str(self.root / "rabbitmq.conf"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(self.root / "advanced.config"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(self.root / "enabled_plugins"),
            RABBITMQ_CONF_ENV_FILE=str(self.root / "rabbitmq-env.conf"),
            RABBITMQ_PID_FILE=str(self.root / "rabbitmq.pid"),
            ERL_EPMD_ADDRESS="127.0.0.1",
        )
        return env

    def start(self, timeout_s: float = 90.0) -> OwnRabbitMQ:
        return self.launch().wait_ready(timeout_s)

    def launch(self) -> OwnRabbitMQ:
        """Start the node without waiting for it: its boot (several seconds of Erlang) can go on
        while the caller does other work, then `wait_ready`."""
        server = str(RABBITMQ_SERVER) if RABBITMQ_SERVER.exists() else "rabbitmq-server"
        self._log_file = open(self.log, "ab")  # noqa: SIM115 (the server's lifetime; closed in _reap)
        # A session of its own: `kill` reaches beam and its helpers (erl_child_setup, inet_gethost)
        # through this group and nothing else.
        self.proc = subprocess.Popen(
            [server], env=self._env(), cwd=self.root, stdout=self._log_file, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        return self

    def wait_ready(self, timeout_s: float = 90.0) -> OwnRabbitMQ:
        assert self.proc is not None, "launch() first"
        deadline = time.monotonic() + timeout_s
        while not self._amqp_ready():
            if self.proc.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited with {self.proc.returncode}: {self.log_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"rabbitmq-server did not accept AMQP in {timeout_s} s: {self.log_tail()}")
            time.sleep(0.2)
        return self

    def _amqp_ready(self) -> bool:
        # The listener opens late in the boot; a protocol header answered with a Connection.Start
        # frame means it is serving.
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1.0) as s:
                s.sendall(b"AMQP\x00\x00\x09\x01")
                s.settimeout(2.0)
                return s.recv(1) == b"\x01"
        except OSError:
            return False

    def kill(self) -> None:
        """kill -9 the node (its whole process group): no goodbye to any client."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._reap()

    def stop(self) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self._reap()

    def _reap(self) -> None:
        if self.proc is not None:
            self.proc.wait()
            self.proc = None
        if self._log_file is not None:
            self._log_file.close()  # type: ignore[attr-defined]
            self._log_file = None
        # The group leader is gone; wait for its helpers (they hold the ports) to follow.
        deadline = time.monotonic() + 10
        while _accepts(self.port) and time.monotonic() < deadline:
            time.sleep(0.1)

    def log_tail(self, n: int = 40) -> str:
        lines: list[str] = []
        for path in [self.log, *sorted((self.root / "log").glob("*.log"))]:
            with contextlib.suppress(OSError):
                lines += path.read_text(errors="replace").splitlines()[-n:]
        return "\n".join(lines[-n:])

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
