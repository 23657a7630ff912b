"""What the scenarios do to the stack and how they count the outcome.

A client works through the gateway as a user would, retrying what a careful client retries
(a 5xx or a broken connection, with the same Idempotency-Key); the accounting reads the
services' own databases and the broker, never the client's memory of what happened.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import aio_pika
import httpx
from faults.ledger import Ledger
from faults.stack import FaultStack
from sqlalchemy import bindparam, text

from ampflux_testing.circuits import CASES_DIR

TERMINAL = {"succeeded", "failed", "cancelled"}
PASSWORD = "correct horse battery staple"


def healthy_document() -> tuple[dict[str, Any], int]:
    """A reference circuit to solve, and how many result rows one solve stores."""
    case = json.loads((CASES_DIR / "ind480_radial.json").read_text())
    rows = len(case["buses"]) * len(case["expected"]["result_sets"])
    doc = copy.deepcopy(case)
    doc.pop("expected")
    return doc, rows


class Client:
    """One engineer of a company of their own, through the gateway."""

    def __init__(self, stack: FaultStack) -> None:
        self.http = httpx.Client(base_url=stack.gateway_url, timeout=30)
        tag = uuid.uuid4().hex[:8]
        email = f"faults.{tag}@example.com"
        user = {"name": f"Faults {tag}", "email": email, "password": PASSWORD, "company_name": f"Faults {tag}"}
        self._call("POST", "/auth/register", json=user, expect=201)
        tokens = self._call("POST", "/auth/login", json={"email": email, "password": PASSWORD}, expect=200).json()
        self.headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        self.document, self.rows_per_run = healthy_document()

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, *, expect: int, timeout_s: float = 90.0, **kw: Any) -> httpx.Response:
        """Set-up calls: retried through any outage until they answer `expect`."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                response = self.http.request(method, path, **kw)
                if response.status_code == expect:
                    return response
                detail = f"{response.status_code} {response.text[:300]}"
            except httpx.TransportError as exc:
                detail = repr(exc)
            if time.monotonic() > deadline:
                raise AssertionError(f"{method} {path} did not answer {expect}: {detail}")
            time.sleep(0.3)

    def new_project(self) -> str:
        body = {"name": f"faults {uuid.uuid4().hex[:6]}"}
        return self._call("POST", "/projects/", json=body, headers=self.headers, expect=201).json()["id"]

    def submit(self, ledger: Ledger, project_id: str, key: str, *, give_up_s: float = 120.0) -> str | None:
        """One logical submission: retried with its Idempotency-Key until accepted (or given up)."""
        deadline = time.monotonic() + give_up_s
        body = {"project_id": project_id, "document": self.document}
        headers = {**self.headers, "Idempotency-Key": key}
        while True:
            try:
                response = self.http.post("/simulations", json=body, headers=headers)
                ledger.saw(response.status_code)
                if response.status_code == 202:
                    return response.json()["id"]
                if response.status_code < 500:
                    ledger.problems.append(f"submit {key}: {response.status_code} {response.text[:200]}")
                    return None
            except httpx.TransportError as exc:
                ledger.saw(type(exc).__name__)
            if time.monotonic() > deadline:
                return None
            time.sleep(0.25)

    def create_project(self, ledger: Ledger, name: str) -> str | None:
        """One write, not retried: a write's outcome is what the first answer says."""
        try:
            response = self.http.post("/projects/", json={"name": name}, headers=self.headers)
        except httpx.TransportError as exc:
            ledger.saw(type(exc).__name__)
            return None
        ledger.saw(response.status_code)
        return response.json()["id"] if response.status_code == 201 else None


class Submissions:
    """Runs submitted from a few threads, each with an Idempotency-Key of its own."""

    def __init__(self, client: Client, ledger: Ledger, project_id: str) -> None:
        self.client, self.ledger, self.project_id = client, ledger, project_id
        self.runs: dict[str, str] = {}  # key -> run id
        self._lock = threading.Lock()

    def submit_one(self, key: str | None = None) -> str | None:
        key = key or uuid.uuid4().hex
        with self._lock:
            self.ledger.sent += 1
        run_id = self.client.submit(self.ledger, self.project_id, key)
        with self._lock:
            if run_id is not None:
                self.ledger.acknowledged += 1
                self.runs[key] = run_id
        return run_id

    def submit(self, count: int, *, threads: int = 4, spread_s: float = 0.0) -> None:
        def one(i: int) -> None:
            time.sleep(spread_s * i / max(count, 1))
            self.submit_one()

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(one, range(count)))

    def run_ids(self) -> list[str]:
        return list(self.runs.values())


# --- observing the stack ---------------------------------------------------------------


def wait_for_running(stack: FaultStack, *, min_age_s: float = 0.2, timeout_s: float = 90.0) -> tuple[str, Any]:
    """A run being solved right now by a live worker: (run id, that worker)."""
    deadline = time.monotonic() + timeout_s
    query = text(
        "SELECT id, worker_id FROM study_runs WHERE status = 'running'"
        " AND started_at < now() - make_interval(secs => :age) ORDER BY attempts, started_at DESC"
    )
    while time.monotonic() < deadline:
        with stack.engine("simulation").connect() as conn:
            for run_id, worker_id in conn.execute(query, {"age": min_age_s}):
                worker = stack.worker_by_id(worker_id or "")
                if worker is not None:
                    return str(run_id), worker
        time.sleep(0.05)
    raise AssertionError(f"no run was being solved by a live worker within {timeout_s} s\n{stack.log_tails()}")


def wait_terminal(stack: FaultStack, run_ids: Iterable[str], timeout_s: float) -> None:
    ids = [uuid.UUID(r) for r in run_ids]
    if not ids:
        return
    query = text("SELECT count(*) FROM study_runs WHERE id IN :ids AND status IN ('succeeded','failed','cancelled')")
    query = query.bindparams(bindparam("ids", expanding=True))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with stack.engine("simulation").connect() as conn:
                if conn.scalar(query, {"ids": ids}) == len(ids):
                    return
        except Exception:  # the database may be restarting under the scenario
            pass
        time.sleep(0.2)


def wait_outbox_drained(stack: FaultStack, services: Iterable[str], timeout_s: float = 60.0) -> dict[str, int]:
    """Unpublished outbox rows per service once they are gone or the wait is over."""
    left: dict[str, int] = {}
    deadline = time.monotonic() + timeout_s
    while True:
        for service in services:
            with stack.engine(service).connect() as conn:
                left[service] = int(conn.scalar(text("SELECT count(*) FROM outbox_events WHERE published_at IS NULL")))
        if not any(left.values()) or time.monotonic() > deadline:
            return left
        time.sleep(0.3)


def queue_depths(stack: FaultStack) -> dict[str, int]:
    """Ready messages on the work queue, its DLQ and its parking queue."""

    async def read() -> dict[str, int]:
        connection = await aio_pika.connect(stack.rabbitmq.url)
        async with connection:
            channel = await connection.channel()
            depths = {}
            for suffix in ("", ".dlq", ".parking"):
                queue = await channel.declare_queue(stack.jobs_queue + suffix, passive=True)
                depths[suffix or "work"] = queue.declaration_result.message_count or 0
            return depths

    return asyncio.run(read())


def publish_raw(stack: FaultStack, messages: list[tuple[bytes, dict[str, Any] | None, bool]]) -> None:
    """Publish (body, headers, with_properties) straight onto the work queue, confirmed."""

    async def send() -> None:
        connection = await aio_pika.connect(stack.rabbitmq.url)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            for body, headers, with_properties in messages:
                if with_properties:
                    message = aio_pika.Message(
                        body, headers=headers or {}, message_id=uuid.uuid4().hex, content_type="application/json"
                    )
                else:  # no headers, no message id, no content type: nothing but a body
                    message = aio_pika.Message(body)
                await channel.default_exchange.publish(message, routing_key=stack.jobs_queue)

    asyncio.run(send())


# --- the accounting -----------------------------------------------------------------------

_SUCCEEDED = re.compile(r"run ([0-9a-f-]{36}) succeeded")


def account_runs(
    stack: FaultStack,
    ledger: Ledger,
    runs: dict[str, str],
    rows_per_run: int,
    *,
    timeout_s: float = 180.0,
    healthy: bool = True,
) -> None:
    """Wait for every acknowledged run to finish, then count from the database and the logs:
    lost (acknowledged, not there), stuck (not finished), duplicated (two runs for one key,
    or one run committed twice), completed (succeeded with every result row)."""
    wait_terminal(stack, runs.values(), timeout_s)
    ids = [uuid.UUID(r) for r in runs.values()]
    keys = list(runs)
    with stack.engine("simulation").connect() as conn:
        found = {
            str(r.id): r
            for r in conn.execute(
                text("SELECT id, status, attempts, error_code FROM study_runs WHERE id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": ids},
            )
        }
        per_key = dict(
            conn.execute(
                text(
                    "SELECT idempotency_key, count(*) FROM study_runs WHERE idempotency_key IN :keys"
                    " GROUP BY idempotency_key"
                ).bindparams(bindparam("keys", expanding=True)),
                {"keys": keys},
            ).all()
        )
        rows = dict(
            conn.execute(
                text(
                    "SELECT run_id, sum(bus_count) FROM study_result_sets WHERE run_id IN :ids GROUP BY run_id"
                ).bindparams(bindparam("ids", expanding=True)),
                {"ids": ids},
            ).all()
        )
        terminal_events = Counter(
            str(run_id)
            for (run_id,) in conn.execute(
                text(
                    "SELECT payload->>'run_id' FROM outbox_events"
                    " WHERE type IN ('simulation.run.completed', 'simulation.run.failed')"
                )
            )
        )
    commits = Counter(_SUCCEEDED.findall(stack.worker_logs()))
    attempts: Counter[int] = Counter()
    for key, run_id in runs.items():
        run = found.get(run_id)
        if run is None:
            ledger.problem("lost", f"run {run_id} (key {key}) was acknowledged and is not in the database")
            continue
        attempts[run.attempts] += 1
        if per_key.get(key, 0) > 1:
            ledger.problem("duplicated", f"key {key} made {per_key[key]} runs")
        if terminal_events[run_id] > 1 or commits[run_id] > 1:
            ledger.problem(
                "duplicated", f"run {run_id} finished {terminal_events[run_id]} times, committed {commits[run_id]}"
            )
        if run.status not in TERMINAL:
            ledger.problem("stuck", f"run {run_id} is still {run.status} after {timeout_s} s")
        elif run.status == "succeeded":
            if rows.get(run.id, 0) == rows_per_run:
                ledger.completed += 1
            else:
                ledger.problem("lost", f"run {run_id} succeeded with {rows.get(run.id, 0)} of {rows_per_run} rows")
        elif healthy:
            ledger.problem("healthy_failed", f"run {run_id} {run.status}: {run.error_code}")
    ledger.notes.append("attempts " + " ".join(f"{a}:{n}" for a, n in sorted(attempts.items())))


def account_settled(
    stack: FaultStack, ledger: Ledger, *, services: Iterable[str] = ("simulation",), jobs: bool = True
) -> None:
    """After a scenario: no event left unpublished, and (for runs) no job left on the work
    queue or its DLQ."""
    for service, left in wait_outbox_drained(stack, services).items():
        if left:
            ledger.problem("stuck", f"{left} {service} outbox events never published")
    if not jobs:
        return
    depths = queue_depths(stack)
    for queue in ("work", ".dlq"):
        if depths[queue]:
            ledger.problem("stuck", f"{depths[queue]} messages left on the {queue} queue")


def account_writes(stack: FaultStack, ledger: Ledger, written: dict[str, str]) -> None:
    """Projects acknowledged (201) must all be there, once each."""
    with stack.engine("project").connect() as conn:
        by_name = Counter(
            name
            for (name,) in conn.execute(
                text("SELECT name FROM projects WHERE name IN :names").bindparams(bindparam("names", expanding=True)),
                {"names": list(written)},
            )
        )
    for name in written:
        if by_name[name] == 0:
            ledger.problem("lost", f"project {name!r} was acknowledged and is not there")
        elif by_name[name] > 1:
            ledger.problem("duplicated", f"project {name!r} is there {by_name[name]} times")
        else:
            ledger.completed += 1
