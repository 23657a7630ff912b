"""The fault scenarios: each breaks one thing under load and returns its accounting.

Sizes are parameters: `make faults` runs them at full size, `make test` a short subset
(tests/faults_quick). Every scenario leaves the stack healthy (killed workers replaced, the
broker and the database back) for the next one.
"""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid

from faults.ledger import Ledger
from faults.load import (
    Client,
    Submissions,
    account_runs,
    account_settled,
    account_writes,
    publish_raw,
    queue_depths,
    wait_for_running,
)
from faults.stack import FaultStack
from sqlalchemy import text


def worker_sigkill(stack: FaultStack, client: Client, *, runs: int = 20, kills: int = 3) -> list[Ledger]:
    """kill -9 a worker mid-solve, `kills` times; a replacement starts after each kill."""
    ledger = Ledger(f"worker SIGKILL mid-job ×{kills}")
    subs = Submissions(client, ledger, client.new_project())
    submitting = threading.Thread(target=subs.submit, args=(runs,))
    submitting.start()
    for _ in range(kills):
        _, worker = wait_for_running(stack)
        worker.signal(signal.SIGKILL)
        assert worker.proc is not None
        worker.proc.wait()
        stack.new_worker().spawn()
    submitting.join()
    account_runs(stack, ledger, subs.runs, client.rows_per_run)
    stack.top_up_workers()
    account_settled(stack, ledger)
    return [ledger]


def broker_kill(stack: FaultStack, client: Client, *, runs: int = 16, outage_s: float = 6.0) -> list[Ledger]:
    """kill -9 the RabbitMQ node while projects are written and studies solve; restart it on
    the same port and data directory. Writes go on (the outbox holds their events); solves in
    progress finish; every job is done once."""
    writes = Ledger("broker kill -9 during writes", what="writes")
    solves = Ledger("broker kill -9 during solves")
    subs = Submissions(client, solves, client.new_project())
    written: dict[str, str] = {}
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            name = f"write {uuid.uuid4().hex[:10]}"
            writes.sent += 1
            project_id = client.create_project(writes, name)
            if project_id is not None:
                writes.acknowledged += 1
                written[name] = project_id
            time.sleep(0.02)

    writer = threading.Thread(target=write)
    submitting = threading.Thread(target=subs.submit, args=(runs,), kwargs={"spread_s": outage_s + 4})
    writer.start()
    submitting.start()
    try:
        wait_for_running(stack)  # at least one solve in progress when the broker dies
        stack.rabbitmq.kill()
        time.sleep(outage_s)
        stack.rabbitmq.start()
        time.sleep(2.0)  # writes after the broker is back, too
    finally:
        stop.set()
        writer.join()
        submitting.join()
    writes.notes.append(f"broker down {outage_s:g} s")
    account_writes(stack, writes, written)
    # The jobs are the solves' ledger: they may still be on the queue while runs finish.
    account_settled(stack, writes, services=("project",), jobs=False)
    account_runs(stack, solves, subs.runs, client.rows_per_run)
    account_settled(stack, solves)
    stack.top_up_workers()
    return [writes, solves]


def database_restart(stack: FaultStack, client: Client, *, runs: int = 16, down_s: float = 4.0) -> list[Ledger]:
    """`pg_ctl -m immediate stop` (a crash) under submissions and solves, then start again.
    Clients retry 5xx with their Idempotency-Key; no healthy study may fail."""
    ledger = Ledger(f"database restart ({down_s:g} s down)")
    subs = Submissions(client, ledger, client.new_project())
    submitting = threading.Thread(target=subs.submit, args=(runs,), kwargs={"spread_s": down_s + 4})
    submitting.start()
    try:
        wait_for_running(stack)
        stack.postgres.stop("immediate")
        time.sleep(down_s)
        stack.postgres.start()
    finally:
        submitting.join()
    account_runs(stack, ledger, subs.runs, client.rows_per_run)
    account_settled(stack, ledger)
    ledger.notes.append(f"workers alive {len(stack.live_workers())}/2")
    if len(stack.live_workers()) < 2:
        ledger.problem("stuck", "a worker died in the database outage")
    return [ledger]


def _queued_envelope(stack: FaultStack, run_id: str) -> dict:
    with stack.engine("simulation").connect() as conn:
        envelope = conn.scalar(
            text(
                "SELECT envelope FROM outbox_events WHERE type = 'simulation.run.queued'"
                " AND payload->>'run_id' = :run_id"
            ),
            {"run_id": run_id},
        )
    assert envelope is not None, f"no queued event for run {run_id}"
    return envelope if isinstance(envelope, dict) else json.loads(envelope)


def _job(envelope: dict, **changes: object) -> bytes:
    return json.dumps({**envelope, **changes}).encode()


def poison_messages(stack: FaultStack, client: Client, *, healthy: int = 6, kinds: str = "all") -> list[Ledger]:
    """Messages no publisher of ours sends, straight onto the work queue, between healthy
    jobs. Every one is settled; the unreadable ones are kept in the parking queue; a copy of a
    real job is not solved twice; the workers go on solving."""
    runs = Ledger("healthy runs between poison")
    poison = Ledger(f"poison messages ({kinds})", what="messages")
    subs = Submissions(client, runs, client.new_project())
    first = subs.submit_one()
    assert first is not None
    account_runs(stack, Ledger("first"), {"-": first}, client.rows_per_run, timeout_s=60)
    real = _queued_envelope(stack, first)
    unknown = _job(real, id=str(uuid.uuid4()), payload={**real["payload"], "run_id": str(uuid.uuid4())})
    # (name, body, headers, with properties, readable as a job)
    messages: list[tuple[str, bytes, dict | None, bool, bool]] = [
        ("x-delivery-count 'three', copy of a done job", _job(real), {"x-delivery-count": "three"}, True, True),
        ("x-delivery-count -5, unknown run", unknown, {"x-delivery-count": -5}, True, True),
        ("x-delivery-count [1], unknown run", unknown, {"x-delivery-count": [1]}, True, True),
    ]
    if kinds == "all":
        not_queued = _job(real, id=str(uuid.uuid4()), type="simulation.run.completed")
        messages += [
            ("non-JSON body", b"\x00\xff not json {", None, True, False),
            ("JSON, not an envelope", b'{"hello": "world"}', None, True, False),
            ("an envelope of another type", not_queued, None, True, False),
            ("queued event without run_id", _job(real, id=str(uuid.uuid4()), payload={}), None, True, False),
            ("unknown job (run id of no run)", unknown, None, True, True),
            ("missing headers and properties, unknown run", unknown, None, False, True),
            ("missing headers, copy of a done job", _job(real), None, False, True),
            ("empty body", b"", None, False, False),
        ]
    before = queue_depths(stack)
    pids = sorted(w.pid for w in stack.live_workers())
    for i, (_, body, headers, with_properties, _) in enumerate(messages):
        publish_raw(stack, [(body, headers, with_properties)])
        poison.sent += 1
        if i % 3 == 0:
            subs.submit_one()
    subs.submit(healthy - 1 - len(messages) // 3 if healthy > 1 + len(messages) // 3 else 1)
    account_runs(stack, runs, subs.runs, client.rows_per_run)
    account_settled(stack, runs)
    unreadable = sum(1 for m in messages if not m[4])
    deadline = time.monotonic() + 30
    while (after := queue_depths(stack))[".parking"] - before[".parking"] < unreadable and time.monotonic() < deadline:
        time.sleep(0.2)
    parked = after[".parking"] - before[".parking"]
    if after["work"] == 0 and after[".dlq"] == 0:
        poison.acknowledged = poison.sent  # every one settled by a worker
    else:
        poison.problem("stuck", f"left on the queues: {after}")
    if parked < unreadable:
        poison.problem("lost", f"{unreadable - parked} unreadable messages neither parked nor left queued")
    if parked > unreadable:
        poison.problem("duplicated", f"{parked} parked for {unreadable} unreadable messages")
    if sorted(w.pid for w in stack.live_workers()) != pids:
        poison.problem("stuck", "a worker died or was replaced while handling poison")
    poison.completed = parked + (len(messages) - unreadable)
    poison.notes.append(f"{unreadable} parked with headers, {len(messages) - unreadable} dropped as done/unknown")
    for name, *_ in messages:
        poison.saw(name)
    poison.statuses.clear()
    return [poison, runs]


def concurrent_idempotency(stack: FaultStack, client: Client, *, keys: int = 10, copies: int = 6) -> list[Ledger]:
    """The same submission `copies` times at once per Idempotency-Key: one run per key."""
    ledger = Ledger(f"Idempotency-Key ×{copies} concurrent", what="keys")
    subs = Submissions(client, Ledger("copies"), client.new_project())
    by_key: dict[str, set[str | None]] = {uuid.uuid4().hex: set() for _ in range(keys)}
    lock = threading.Lock()

    def one(key: str) -> None:
        run_id = client.submit(ledger, subs.project_id, key)
        with lock:
            by_key[key].add(run_id)

    threads = [threading.Thread(target=one, args=(key,)) for key in by_key for _ in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ledger.sent = keys
    for key, ids in by_key.items():
        if None in ids:
            ledger.problems.append(f"key {key}: a copy was refused")
            continue
        if len(ids) > 1:
            ledger.problem("duplicated", f"key {key} answered {len(ids)} different runs")
        ledger.acknowledged += 1
        subs.runs[key] = next(iter(ids))  # type: ignore[assignment]
    account_runs(stack, ledger, subs.runs, client.rows_per_run)
    account_settled(stack, ledger)
    return [ledger]


def worker_sigterm(stack: FaultStack, client: Client, *, group: bool, runs: int = 6) -> list[Ledger]:
    """SIGTERM mid-solve to a worker (or its whole process group, as Ctrl-C or systemd do):
    it takes no new job, finishes the one it has (attempts stay 1), commits and exits 0."""
    ledger = Ledger("SIGTERM to a worker's process group" if group else "SIGTERM to a worker")
    subs = Submissions(client, ledger, client.new_project())
    submitting = threading.Thread(target=subs.submit, args=(runs,))
    submitting.start()
    run_id, worker = wait_for_running(stack)
    worker.signal(signal.SIGTERM, group=group)
    assert worker.proc is not None
    code = worker.proc.wait(timeout=120)
    submitting.join()
    stack.top_up_workers()
    account_runs(stack, ledger, subs.runs, client.rows_per_run)
    account_settled(stack, ledger)
    with stack.engine("simulation").connect() as conn:
        attempts = conn.scalar(text("SELECT attempts FROM study_runs WHERE id = :id"), {"id": uuid.UUID(run_id)})
    ledger.notes.append(f"worker exit {code}, its run's attempts {attempts}")
    if code != 0:
        ledger.problem("stuck", f"the worker exited with {code}")
    if attempts != 1:
        ledger.problem("duplicated", f"the run the worker was solving took {attempts} attempts, not 1")
    return [ledger]


def broker_blips(stack: FaultStack, client: Client, *, blips: int = 5, solve_s: float = 40.0) -> list[Ledger]:
    """The broker killed and restarted `blips` times (more than the delivery limit) while
    long solves run. A blip says nothing about the job: it must not spend the delivery
    limit meant for poison jobs, so no healthy run may end dead-lettered, and none twice."""
    ledger = Ledger(f"broker kill -9 ×{blips} in one solve")
    stack.replace_workers(SIMULATION_TEST_SOLVE_DELAY_S=str(solve_s))
    try:
        subs = Submissions(client, ledger, client.new_project())
        # One run: the other worker is idle, so every redelivery can reach a worker at once.
        subs.submit(1, threads=1)
        wait_for_running(stack)
        for _ in range(blips):
            stack.rabbitmq.kill()
            time.sleep(1.0)
            stack.rabbitmq.start()
            time.sleep(2.0)
        account_runs(stack, ledger, subs.runs, client.rows_per_run, timeout_s=solve_s * 3)
        account_settled(stack, ledger)
        requeued = stack.worker_logs().count("spent by redeliveries, not solves")
        ledger.notes.append(f"delivery limit reached and the job requeued {requeued}×")
    finally:
        stack.replace_workers()
    return [ledger]
