"""Solve a study in a child process that can be killed: time limit, cancel, crash isolation.

The solver is pure CPU (numpy/scipy), so it never runs on the event loop. A child process,
not a thread, because only a process can be stopped mid-solve: a runaway solve past the
time limit, or a run the user cancelled, is killed outright. A child that dies (out of
memory, a native crash) takes nothing else with it; the worker reports it and the job is
retried up to the queue's delivery limit.

Children are forked from a forkserver that has already imported the solver, so none
inherits the parent's sockets or threads, and each takes job after job until it is killed
(timeout, cancel), dies, or is due for replacement (see "the solving processes" below).
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import logging
import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from multiprocessing.connection import Connection
from typing import Any

from ..domain.packed import PackedSet, pack_result_sets

log = logging.getLogger("ampflux.simulation.solving")

_context = multiprocessing.get_context("forkserver")


def _preload_modules() -> list[str]:
    """What the forkserver imports once, so that a child starts with it in memory.

    Besides the solver this is the parent's main module: every child re-runs it
    (multiprocessing's main-module fixup) unless the forkserver already holds it. A script
    run by path is handled by multiprocessing's own `__main__` entry; for
    `python -m some.module` the module is imported here so that its imports are cached.
    """
    modules = [
        "__main__",
        "ampflux_shared.circuit",
        "ampflux_simulation.jobs.solve_process",
        "ampflux_shared.circuit.rules",
        "ampflux_simulation.solver",
    ]
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name and not spec.name.endswith("__main__"):
        modules.append(spec.name)
    return modules


_context.set_forkserver_preload(_preload_modules())
# The fixup re-runs a preloaded `python -m` main module, which runpy reports with a
# RuntimeWarning in every child; expected here, so not worth a line per job in the logs.
warnings.filterwarnings("ignore", message=r".*found in sys\.modules after import of package", category=RuntimeWarning)


def start_forkserver() -> None:
    """Start the forkserver now (it imports the solver), not on the first job; blocking."""
    from multiprocessing import forkserver

    forkserver.ensure_running()


KILL_WAIT_S = 5.0


@dataclass(frozen=True)
class SolveRequest:
    document_gz: bytes
    # The validation rules the document passed at submit (None: unknown, check it again).
    validated_rules: str | None = None
    faults: list[str] | None = None
    cases: list[str] | None = None
    buses: list[str] | None = None
    branches_for: str | None = None
    # Test-only fault injection (see Settings.test_*).
    delay_s: float = 0.0
    crash: bool = False


class SolveStatus(StrEnum):
    OK = "ok"
    ERROR = "error"  # the solver (or validation) refused: permanent, not retried
    CRASHED = "crashed"  # the child died without an answer: maybe transient, retried
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"


@dataclass
class SolveOutcome:
    status: SolveStatus
    # Packed in the child (each set's buses one compressed blob): what the parent receives
    # is a few bytes objects, not 6,000 dicts to unpickle and encode again.
    result_sets: list[PackedSet] = field(default_factory=list)
    solve_seconds: float = 0.0
    error_code: str = ""
    detail: str = ""


ProgressCallback = Callable[[float], Awaitable[None]]
CancelCheck = Callable[[], Awaitable[bool]]


async def solve_in_child(
    request: SolveRequest,
    *,
    time_limit_s: float,
    on_progress: ProgressCallback | None = None,
    is_cancelled: CancelCheck | None = None,
    poll_s: float = 0.5,
) -> SolveOutcome:
    started = time.monotonic()
    solver = await _take_solver(request)
    process, conn = solver.process, solver.conn
    deadline = started + time_limit_s
    healthy = False  # answered and still alive: it may take the next job
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                await _kill(process)
                return SolveOutcome(
                    SolveStatus.TIMEOUT,
                    error_code="time_limit_exceeded",
                    detail=f"the solve ran longer than the {time_limit_s:g} s limit and was stopped",
                    solve_seconds=time.monotonic() - started,
                )
            if await asyncio.to_thread(conn.poll, min(poll_s, remaining)):
                try:
                    kind, payload = await asyncio.to_thread(conn.recv)
                except (EOFError, OSError):
                    exitcode = await _reap(process)
                    return SolveOutcome(
                        SolveStatus.CRASHED,
                        error_code="solver_crashed",
                        detail=f"the solver process ended without a result (exit code {exitcode})",
                        solve_seconds=time.monotonic() - started,
                    )
                if kind == "progress":
                    if on_progress is not None:
                        await on_progress(float(payload))
                    continue
                solver.jobs += 1
                healthy = payload.get("peak_rss_mb", 0) <= RECYCLE_ABOVE_MB
                if kind == "done":
                    return SolveOutcome(
                        SolveStatus.OK,
                        result_sets=payload["result_sets"],
                        solve_seconds=payload["solve_seconds"],
                    )
                return SolveOutcome(
                    SolveStatus.ERROR,
                    error_code=payload["code"],
                    detail=payload["detail"],
                    solve_seconds=time.monotonic() - started,
                )
            if is_cancelled is not None and await is_cancelled():
                await _kill(process)
                return SolveOutcome(SolveStatus.CANCELLED, error_code="cancelled", detail="cancelled while solving")
    finally:
        # Also on task cancellation (worker shutting down): never leave a solve behind.
        if healthy and solver.jobs < JOBS_PER_SOLVER and process.is_alive():
            _idle.append(solver)
        else:
            _discard(solver)


# --- the solving processes ----------------------------------------------------------------
#
# A solving process takes job after job: forking one per job cost the child's start, the
# first touch of every page it writes and the solver's first-call set-up on each run, about
# a quarter of the CPU of a 3,000-bus study. It is still a process of its own, so the
# guarantees stay: a timeout or a cancel kills it (and the next job gets a fresh one), a
# crash takes only it, and one that has solved JOBS_PER_SOLVER jobs, or grew past
# RECYCLE_ABOVE_MB at its peak (a huge study's heap stays with the process), is replaced.

JOBS_PER_SOLVER = 100
RECYCLE_ABOVE_MB = 512


@dataclass
class _Solver:
    process: multiprocessing.process.BaseProcess
    conn: Connection
    jobs: int = 0


# Idle solving processes of this process (the worker's one, or the embedded API's several).
_idle: list[_Solver] = []


async def _take_solver(request: SolveRequest) -> _Solver:
    """An idle solving process with `request` sent to it, or a new one."""
    while True:
        if _idle:
            solver = _idle.pop()
            if not solver.process.is_alive():
                _discard(solver)  # died while idle (killed, out of memory)
                continue
        else:
            parent_end, child_end = _context.Pipe(duplex=True)
            process = _context.Process(target=_child_main, args=(child_end,), name="ampflux-solve", daemon=True)
            process.start()
            child_end.close()  # the child holds its end now; EOF on ours means it is gone
            solver = _Solver(process, parent_end)
        try:
            await asyncio.to_thread(solver.conn.send, request)
        except OSError:
            _discard(solver)  # it died between the look and the send: the next one
            continue
        except BaseException:
            _discard(solver)
            raise
        return solver


def _discard(solver: _Solver) -> None:
    if solver.process.is_alive():
        solver.process.kill()
        solver.process.join(KILL_WAIT_S)
    solver.conn.close()


def stop_solvers() -> None:
    """Stop this process's idle solving processes (a worker stopping; blocking, short)."""
    while _idle:
        _discard(_idle.pop())


# Also when the process exits without calling it (the embedded API, a script): multiprocessing's
# own exit handler would SIGTERM them, which they ignore, and then wait for them for ever.
# atexit runs its handlers last-registered first, so this one comes before it.
atexit.register(stop_solvers)


async def _kill(process: multiprocessing.process.BaseProcess) -> None:
    process.kill()
    await asyncio.to_thread(process.join, KILL_WAIT_S)


async def _reap(process: multiprocessing.process.BaseProcess) -> int | None:
    await asyncio.to_thread(process.join, KILL_WAIT_S)
    return process.exitcode


# --- in the child -------------------------------------------------------------------------


def _child_main(conn: Connection) -> None:
    # Everything the child inherited from the forkserver (the solver, pydantic, numpy: ~120k
    # objects) goes to the collector's permanent generation, so the child's collections skip
    # it. Otherwise the first full collection walks all of it and writes every object's GC
    # header, copying each page it touches from the forkserver: the child's CPU per 3,000-bus
    # study was 0.18-0.20 s before this, 0.09-0.10 s after (half the page faults).
    gc.freeze()
    # The worker ends a solve (kill on timeout, cancel or shutdown past its grace); a
    # SIGTERM/SIGINT sent to the whole process group must not end it mid-job.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    _exit_with_parent()
    try:
        while True:
            try:
                request: SolveRequest = conn.recv()
            except (EOFError, OSError):
                return  # the worker closed its end or is gone
            if request.crash:
                os._exit(86)  # test-only: a poison job whose solve dies every time
            try:
                answer: tuple[str, dict[str, Any]] = ("done", _solve(conn, request))
            except Exception as exc:  # the child's only job is to report; the parent decides
                answer = ("error", _describe(exc))
            answer[1]["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            conn.send(answer)
    except (BrokenPipeError, ConnectionResetError):
        return  # the worker is gone (killed): nobody to report to, and no traceback to print
    finally:
        conn.close()


def _solve(conn: Connection, request: SolveRequest) -> dict[str, Any]:
    from ..solver import solve_study

    if request.delay_s:
        time.sleep(request.delay_s)
    started = time.perf_counter()
    doc = _read_document(request)
    faults = list(request.faults or doc.study.faults)
    cases = list(request.cases or doc.study.cases)
    sets: list[dict[str, Any]] = []
    # One case at a time: the solver builds each case's network anyway, and the steps
    # give the user real progress.
    for done, case in enumerate(cases, start=1):
        result = solve_study(doc, faults=faults, cases=[case], buses=request.buses, branches_for=request.branches_for)
        sets.extend(result.to_result_sets())
        conn.send(("progress", done / len(cases)))
    sets.sort(key=lambda rs: (faults.index(rs["fault"]), cases.index(rs["case"])))
    solve_seconds = time.perf_counter() - started
    return {"result_sets": pack_result_sets(sets, _bus_order(doc)), "solve_seconds": solve_seconds}


def _read_document(request: SolveRequest) -> Any:
    """The stored document as the solver's model; checked again only where the rules it was
    validated under at submit are not the ones this process runs."""
    from ampflux_shared.circuit import load_circuit_bytes, parse_validated_circuit

    document = load_circuit_bytes(request.document_gz)
    return parse_validated_circuit(document, request.validated_rules, faults=request.faults, cases=request.cases)


def _bus_order(doc: Any) -> dict[str, int]:
    """Result row order: the document's buses, then its faults along lines (reported like buses)."""
    from ..solver.switching import point_id

    order = {bus.id: i for i, bus in enumerate(doc.buses)}
    for fault in doc.study.line_faults:
        order.setdefault(point_id(fault.line, fault.fraction), len(order))
    return order


def _describe(exc: Exception) -> dict[str, str]:
    from ampflux_shared.circuit import CircuitValidationError

    from ..solver import SolverError

    if isinstance(exc, SolverError):
        return {"code": "solver_error", "detail": str(exc)}
    if isinstance(exc, CircuitValidationError):
        return {"code": "invalid_circuit", "detail": str(exc)}
    log.exception("solver failed unexpectedly")
    return {"code": "internal_error", "detail": f"the solver failed unexpectedly: {type(exc).__name__}: {exc}"}


def _exit_with_parent() -> None:
    """Die when the worker that started us dies (SIGKILL leaves no chance to kill us)."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()
