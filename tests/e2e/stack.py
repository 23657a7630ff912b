"""Start real service processes for end-to-end tests and wait until they answer."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]
# Login attempts per client address per minute in the e2e gateway route table.
LOGIN_QUOTA = 500
# A tight budget on the public JWKS route, which only the gateway limits.
JWKS_QUOTA = 10


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServiceProcess:
    name: str
    module: str
    port: int
    env: dict[str, str]
    log_path: Path
    # Processes without HTTP (solver workers) are ready once their log shows this line.
    ready_log: str | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> ServiceProcess:
        """Start the process without waiting (several start together, then `wait_ready`)."""
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        self._log = open(self.log_path, "ab")  # noqa: SIM115 (open for the process's lifetime; closed in stop())
        self.proc = subprocess.Popen(
            [sys.executable, "-m", self.module], env=env, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT
        )
        return self

    def wait_ready(self, timeout_s: float = 60.0) -> ServiceProcess:
        assert self.proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.ready_log is not None:
                if self.ready_log in self.log_tail(200):
                    return self
            else:
                try:
                    if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not become healthy in {timeout_s}s:\n{self.log_tail()}")

    def start(self, timeout_s: float = 60.0) -> ServiceProcess:
        return self.spawn().wait_ready(timeout_s)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None):
            self._log.close()

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"


def start_together(services: list[ServiceProcess], timeout_s: float = 180.0) -> None:
    """Spawn every process at once and wait for all: start-up time is the slowest, not the sum.
    If one fails, every one of them is stopped before the error propagates."""
    try:
        for svc in services:
            svc.spawn()
        for svc in services:
            svc.wait_ready(timeout_s)
    except Exception:
        for svc in reversed(services):
            svc.stop()
        raise


@dataclass
class StackContext:
    """What a service needs to join the e2e stack (see `tests/e2e/stack_*.py`)."""

    logs: Path
    amqp_url: str
    jwks_url: str
    auth_url: str
    # service name -> base URL, for every service of the stack (ports are chosen up front)
    urls: dict[str, str]
    make_database: Callable[[str], str]
    # queues the stack deletes from the broker when it stops
    queues: list[str] = field(default_factory=list)


@dataclass
class StackMember:
    """One service's processes and gateway routes; `stack_<name>.py` modules return one."""

    processes: list[ServiceProcess]
    routes: list[dict[str, Any]]
