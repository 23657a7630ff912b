"""The one way tests start real processes: spawn, wait until ready, signal, stop or kill, read
the log, and (Linux) read a process's peak memory and CPU time for tests and benchmarks that measure it.

Services, test upstreams and solver workers all run as child processes of the test session
(never in-process stand-ins where the test is about a process). Start several with
`start_together`: a start is mostly the interpreter importing, so the wall time is the
slowest start, not the sum.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]


# Ports for the processes tests start come from below the kernel's ephemeral range (Linux:
# 32768-60999 by default). A port the kernel hands out for "any free port" is also one it
# hands out as the local end of outgoing connections: between the probe and the server's
# bind, a client socket of any process could take it ("address already in use", seen with
# three test workers). Below that range only a bind asks for a port by number. Each xdist
# worker takes its own slice, so two workers never probe the same port.
_PORTS_FROM, _PORTS_TO = 20000, 32000
_next_port: int | None = None


def _port_slice() -> tuple[int, int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    width = 1500
    start = _PORTS_FROM + (index * width) % (_PORTS_TO - _PORTS_FROM - width)
    return start, start + width


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on, for a process the test starts."""
    global _next_port
    low, high = _port_slice()
    if _next_port is None or not low <= _next_port < high:
        # Another session on the machine (a second checkout's tests) starts elsewhere in the slice.
        _next_port = low + (os.getpid() * 7) % (high - low)
    for _ in range(high - low):
        port = _next_port
        _next_port = low + (_next_port + 1 - low) % (high - low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}-{high}")


@dataclass
class ServiceProcess:
    """`python -m <module> <args>` with `env` on top of this process's environment.

    Ready when `GET <ready_path>` (`/health`, or a path of a server that has none, such as
    moto's) answers 200, or — for processes without HTTP (solver workers) — once the log shows
    `ready_log`, or at once when neither applies (`port` 0, no `ready_log`).
    """

    name: str
    module: str
    port: int
    env: dict[str, str]
    log_path: Path
    ready_log: str | None = None
    ready_path: str = "/health"
    args: list[str] = field(default_factory=list)
    cwd: Path = REPO
    # Variables of this process's environment the child must not inherit (a developer's shell).
    scrub: Iterable[str] = ()
    popen_options: dict[str, Any] = field(default_factory=dict)
    proc: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, "spawn() first"
        return self.proc.pid

    def spawn(self) -> ServiceProcess:
        """Start the process without waiting (several start together, then `wait_ready`)."""
        scrub = tuple(self.scrub)
        env = {k: v for k, v in os.environ.items() if not (scrub and k.startswith(scrub))}
        env.update(self.env)
        env["PYTHONUNBUFFERED"] = "1"
        # The child keeps its own copy of the log's descriptor; ours is closed at once.
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", self.module, *self.args],
                env=env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                **self.popen_options,
            )
        return self

    def wait_ready(self, timeout_s: float = 60.0) -> ServiceProcess:
        # A deadline, not a wait: a healthy process answers in a second or two, but on a loaded
        # machine (several starting together, other work on the cores) importing alone can take 20 s.
        assert self.proc is not None, "spawn() first"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self.ready_log is not None:
                if self.ready_log in self.log_tail(200):
                    return self
            elif not self.port:
                return self
            else:
                try:
                    if httpx.get(f"{self.url}{self.ready_path}", timeout=1.0).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not become ready in {timeout_s}s:\n{self.log_tail()}")

    def start(self, timeout_s: float = 60.0) -> ServiceProcess:
        return self.spawn().wait_ready(timeout_s)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout_s: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it has not ended within `timeout_s`."""
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()

    def send_signal(self, sig: signal.Signals) -> None:
        """Signal the process if it still runs (e.g. SIGSTOP/SIGCONT to hold a worker and let it go)."""
        if self.alive():
            assert self.proc is not None
            self.proc.send_signal(sig)

    def peak_rss_kib(self) -> int:
        """The process's peak resident memory so far (VmHWM, Linux /proc), in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError(f"VmHWM not in /proc/{self.pid}/status")

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the process has used (Linux /proc), None where that cannot be read."""
        try:
            # The command name (field 2) may hold spaces and parentheses: count fields after its last ")".
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

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


def stop_together(processes: Iterable[subprocess.Popen[bytes]], timeout_s: float = 15.0) -> None:
    """SIGTERM every live process at once (they drain in parallel, so stopping takes the
    slowest drain, not the sum), then SIGKILL any still running at the deadline."""
    processes = list(processes)
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for process in processes:
        try:
            process.wait(timeout=max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
