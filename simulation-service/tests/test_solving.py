"""A solve runs in a child process that reports its answer, or is stopped, or dies alone."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import time

import pytest

from ampflux_shared.circuit.rules import rules_digest
from ampflux_simulation.config import Settings
from ampflux_simulation.domain.packed import unpack_buses
from ampflux_simulation.jobs import solve_process
from ampflux_simulation.jobs.solve_process import SolveRequest, SolveStatus, _describe, solve_in_child, stop_solvers
from ampflux_simulation.solver import SolverError


def request_for(document: dict, **kw) -> SolveRequest:
    return SolveRequest(document_gz=gzip.compress(json.dumps(document).encode()), **kw)


async def test_a_solve_reports_result_sets_in_fault_then_case_order_with_progress(helpers):
    document = helpers.without_expected(helpers.load_case("mv_meshed_20kv"))
    progress: list[float] = []

    async def on_progress(p: float) -> None:
        progress.append(p)

    outcome = await solve_in_child(request_for(document), time_limit_s=60, on_progress=on_progress)
    assert outcome.status is SolveStatus.OK
    assert [(s.fault, s.case) for s in outcome.result_sets] == [
        (f, c) for f in document["study"]["faults"] for c in document["study"]["cases"]
    ]
    assert progress == [0.5, 1.0]
    # each set's buses come packed, in the document's order
    buses = unpack_buses(outcome.result_sets[0].buses_z)
    assert buses.ids == [bus["id"] for bus in document["buses"]]
    assert buses.index == list(range(len(document["buses"])))
    assert outcome.result_sets[0].bus_count == len(document["buses"])


async def test_a_document_the_child_cannot_read_fails_with_every_problem(helpers):
    document = helpers.without_expected(helpers.load_case("ind480_radial"))
    document["buses"][0]["vn_kv"] = "high"
    outcome = await solve_in_child(request_for(document), time_limit_s=60)
    assert outcome.status is SolveStatus.ERROR
    assert outcome.error_code == "invalid_circuit"
    assert "buses[0].vn_kv" in outcome.detail


def test_solver_errors_keep_the_solvers_message():
    assert _describe(SolverError("the network is singular at bus B7")) == {
        "code": "solver_error",
        "detail": "the network is singular at bus B7",
    }


async def test_a_child_that_dies_is_reported_as_crashed(helpers):
    document = helpers.without_expected(helpers.load_case("ind480_radial"))
    outcome = await solve_in_child(request_for(document, crash=True), time_limit_s=60)
    assert outcome.status is SolveStatus.CRASHED
    assert "exit code 86" in outcome.detail


async def test_a_runaway_solve_is_killed_at_the_time_limit(helpers):
    document = helpers.without_expected(helpers.load_case("ind480_radial"))
    started = time.monotonic()
    outcome = await solve_in_child(request_for(document, delay_s=60), time_limit_s=0.5)
    assert outcome.status is SolveStatus.TIMEOUT
    assert time.monotonic() - started < 10


async def test_a_cancelled_solve_is_killed_at_the_next_check(helpers):
    document = helpers.without_expected(helpers.load_case("ind480_radial"))
    started = time.monotonic()

    async def cancelled() -> bool:
        return time.monotonic() - started > 0.3

    outcome = await solve_in_child(
        request_for(document, delay_s=60), time_limit_s=60, is_cancelled=cancelled, poll_s=0.1
    )
    assert outcome.status is SolveStatus.CANCELLED
    assert time.monotonic() - started < 10


def idle_pids() -> list[int | None]:
    return [solver.process.pid for solver in solve_process._idle]


async def test_a_solving_process_takes_the_next_job_and_answers_it_as_a_fresh_one_would(helpers):
    first = helpers.without_expected(helpers.load_case("mv_meshed_20kv"))
    second = helpers.without_expected(helpers.load_case("ind480_radial"))
    stop_solvers()
    fresh = await solve_in_child(request_for(second), time_limit_s=60)
    stop_solvers()
    assert (await solve_in_child(request_for(first), time_limit_s=60)).status is SolveStatus.OK
    [pid] = idle_pids()
    reused = await solve_in_child(request_for(second), time_limit_s=60)
    assert idle_pids() == [pid], "the idle solving process should have taken the second job"
    assert reused.status is SolveStatus.OK
    assert [(s.fault, s.case, s.quantities, s.extra) for s in reused.result_sets] == [
        (s.fault, s.case, s.quantities, s.extra) for s in fresh.result_sets
    ]
    assert [unpack_buses(s.buses_z).values for s in reused.result_sets] == [
        unpack_buses(s.buses_z).values for s in fresh.result_sets
    ]
    # a refused document leaves the process as it was: it stays for the next job
    invalid = helpers.without_expected(helpers.load_case("ind480_radial"))
    invalid["buses"][0]["vn_kv"] = "high"
    assert (await solve_in_child(request_for(invalid), time_limit_s=60)).status is SolveStatus.ERROR
    assert idle_pids() == [pid]
    stop_solvers()
    assert idle_pids() == []


@pytest.mark.parametrize("ending", ["timeout", "cancel", "crash"])
async def test_a_killed_or_dead_solving_process_is_never_given_another_job(helpers, ending):
    document = helpers.without_expected(helpers.load_case("ind480_radial"))
    stop_solvers()
    assert (await solve_in_child(request_for(document), time_limit_s=60)).status is SolveStatus.OK
    [solver] = solve_process._idle
    if ending == "timeout":
        outcome = await solve_in_child(request_for(document, delay_s=60), time_limit_s=0.5)
    elif ending == "cancel":

        async def cancelled() -> bool:
            return True

        outcome = await solve_in_child(request_for(document, delay_s=60), time_limit_s=60, is_cancelled=cancelled)
    else:
        outcome = await solve_in_child(request_for(document, crash=True), time_limit_s=60)
    assert outcome.status is not SolveStatus.OK
    assert solve_process._idle == []
    assert not solver.process.is_alive()
    assert (await solve_in_child(request_for(document), time_limit_s=60)).status is SolveStatus.OK
    assert idle_pids() != [solver.process.pid]
    stop_solvers()


async def test_a_solving_process_is_replaced_after_its_share_of_jobs(helpers, monkeypatch):
    document = helpers.without_expected(helpers.load_case("ind480_radial"))
    monkeypatch.setattr(solve_process, "JOBS_PER_SOLVER", 2)
    stop_solvers()
    assert (await solve_in_child(request_for(document), time_limit_s=60)).status is SolveStatus.OK
    [solver] = solve_process._idle
    assert (await solve_in_child(request_for(document), time_limit_s=60)).status is SolveStatus.OK
    assert solve_process._idle == []
    assert not solver.process.is_alive()


@pytest.mark.parametrize(
    ("validated_rules", "checked"), [("current", False), ("other", True), (None, True)], ids=["same", "other", "none"]
)
async def test_only_a_document_validated_under_the_rules_this_process_runs_skips_the_checks(
    helpers, validated_rules, checked
):
    """A transformer rated 165 kV on a 110 kV bus: the rating check refuses it, the solver would
    not notice. Validated under other rules (a deploy between submit and solve) or unknown
    ones, the document is checked again; under the same rules, only built."""
    document = helpers.without_expected(helpers.load_case("mv_meshed_20kv"))
    document["transformers"][0]["vn_hv_kv"] = 165.0
    rules = {"current": rules_digest(), "other": "0" * 64, None: None}[validated_rules]
    outcome = await solve_in_child(request_for(document, validated_rules=rules), time_limit_s=60)
    if checked:
        assert outcome.status is SolveStatus.ERROR
        assert outcome.error_code == "invalid_circuit"
        assert "transformers[0].vn_hv_kv" in outcome.detail
    else:
        assert outcome.status is SolveStatus.OK


async def test_a_document_the_models_refuse_is_checked_in_full_even_under_the_same_rules(helpers):
    document = helpers.without_expected(helpers.load_case("ind480_radial"))
    document["buses"][0]["vn_kv"] = "high"
    outcome = await solve_in_child(request_for(document, validated_rules=rules_digest()), time_limit_s=60)
    assert outcome.status is SolveStatus.ERROR
    assert outcome.error_code == "invalid_circuit"
    assert "buses[0].vn_kv" in outcome.detail


def test_a_process_that_leaves_an_idle_solving_process_behind_still_exits(tmp_path, helpers):
    """The embedded API or a script ends without stopping its solving processes: they go with it."""
    document = tmp_path / "circuit.json"
    document.write_text(json.dumps(helpers.without_expected(helpers.load_case("ind480_radial"))))
    script = (
        "import asyncio, gzip, pathlib\n"
        "from ampflux_simulation.jobs import solve_process as sp\n"
        f"raw = gzip.compress(pathlib.Path({str(document)!r}).read_bytes())\n"
        "outcome = asyncio.run(sp.solve_in_child(sp.SolveRequest(document_gz=raw), time_limit_s=60))\n"
        "print(outcome.status, len(sp._idle))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "1"]


def test_fault_injection_is_refused_outside_test_environments():
    with pytest.raises(ValueError, match="only allowed"):
        Settings(environment="production", test_solve_delay_s=1.0)
    assert Settings(environment="test", test_crash_circuit_id="x").test_crash_circuit_id == "x"
