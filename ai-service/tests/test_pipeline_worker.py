"""The real pipeline tier: `python -m ampflux_ai.pipeline_worker` processes on PostgreSQL and
RabbitMQ, with the API in-process on the same database and its own work queue (a unique name).

The test provider runs in this process and can be made slow, so a worker can be SIGKILLed
while a step is under way: the execution resumes on another worker at that step, and the
steps that had finished are not run again.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ampflux_ai.config import Settings
from ampflux_ai.models import PipelineExecution
from ampflux_testing.dead_letters import delete_queue_topology
from ampflux_testing.fake_provider import FakeProvider, Reply
from ampflux_testing.polling import eventually
from ampflux_testing.processes import ServiceProcess, start_together, stop_together

pytestmark = [pytest.mark.postgres, pytest.mark.rabbitmq, pytest.mark.slow]

# A step the test kills its worker in: the provider holds the answer far longer than the test
# takes to kill (the kill, not a race with the answer, ends it).
HELD_S = 60.0


class Workers:
    def __init__(self, settings: Settings, log_dir: Path) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, n: int = 1) -> list[subprocess.Popen[bytes]]:
        """Start `n` workers at once (a start is mostly importing: together they take the
        slowest start, not the sum) and wait until each consumes."""
        s = self.settings
        values = {
            "ENVIRONMENT": "test",
            "DATABASE_URL": s.database_url,
            "AMQP_URL": s.amqp_url,
            "PIPELINE_QUEUE": s.pipeline_queue,
            "PIPELINE_DELIVERY_LIMIT": s.pipeline_delivery_limit,
            "PIPELINE_CANCEL_POLL_S": "0.2",
            "MIGRATE_ON_START": "false",
            "PROVIDER_BASE_URL": s.provider_base_url,
            "PROVIDER_API_KEY": s.provider_api_key,
            "MODEL": s.model,
            "PROVIDER_TIMEOUT_S": "120",
            "PROVIDER_RETRIES": "0",
            "KEY_ENCRYPTION_KEYS": s.key_encryption_keys,
            "LOG_LEVEL": "INFO",
        }
        workers: list[ServiceProcess] = []
        for _ in range(n):
            name = f"pipeline-worker-{len(self.processes) + len(workers)}"
            workers.append(
                ServiceProcess(
                    name,
                    "ampflux_ai.pipeline_worker",
                    0,
                    {f"AI_{k}": str(v) for k, v in values.items()},
                    self.log_dir / f"{name}.log",
                    ready_log="consuming",
                )
            )
        try:
            start_together(workers, timeout_s=60)
        finally:
            # Started or not, each is stopped with the others at the end.
            self.processes.extend(w.proc for w in workers if w.proc is not None)
        return [w.proc for w in workers if w.proc is not None]

    async def holder(self, client: httpx.AsyncClient, execution_id: str) -> subprocess.Popen[bytes]:
        """The worker that claimed the execution last (its claim stores `host:pid`)."""
        async with client.app.state.db.session() as session:  # type: ignore[attr-defined]
            execution = await session.get(PipelineExecution, uuid.UUID(execution_id))
        assert execution is not None and execution.worker_id, execution
        pid = int(execution.worker_id.rsplit(":", 1)[1])
        held = [p for p in self.processes if p.pid == pid]
        assert held, f"execution {execution_id} is held by {execution.worker_id}, none of ours\n{self.logs()}"
        return held[0]

    def logs(self) -> str:
        # Failure messages are f-strings with these logs: pytest shows a str message whole,
        # where it cuts any other object's repr at 240 characters.
        return "\n".join(p.read_text(errors="replace")[-3000:] for p in sorted(self.log_dir.glob("pipeline-*.log")))

    def stop(self) -> None:
        stop_together(self.processes, timeout_s=40)


@pytest.fixture
def worker_settings(settings: Settings, amqp_url: str) -> Iterator[Settings]:
    queue = f"ai.pipelines.test-{uuid.uuid4().hex[:8]}"
    yield settings.model_copy(update={"amqp_url": amqp_url, "pipeline_queue": queue})
    asyncio.run(delete_queue_topology(amqp_url, queue))


def _prompt(body: dict[str, Any]) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


async def _status(client: httpx.AsyncClient, user, execution_id: str) -> dict[str, Any]:
    return (await client.get(f"/ai/pipeline-executions/{execution_id}", headers=user.headers)).json()


async def _wait_execution(
    client: httpx.AsyncClient,
    user,
    execution_id: str,
    until: Callable[[dict[str, Any]], bool],
    workers: Workers,
    *,
    timeout_s: float,
    interval: float,
) -> dict[str, Any]:
    """The execution's body once `until` holds; on the timeout, the last body and the workers' logs."""
    seen: list[dict[str, Any]] = []

    async def reached() -> dict[str, Any] | None:
        seen.append(await _status(client, user, execution_id))
        return seen[-1] if until(seen[-1]) else None

    return await eventually(reached, timeout=timeout_s, interval=interval, what=lambda: f"{seen[-1]}\n{workers.logs()}")


async def test_a_killed_worker_s_execution_resumes_at_its_step_without_redoing_finished_ones(
    worker_settings: Settings, fake: FakeProvider, company, app_client, tmp_path: Path
):
    held: list[str] = []

    def answer(body: dict[str, Any]) -> Reply:
        prompt = _prompt(body)
        # The first worker never gets the slow step's answer; the one that resumes gets it at once.
        hold = prompt.startswith("slow") and not held
        if hold:
            held.append(prompt)
        return Reply(text=f"answer to {prompt}", delay_s=HELD_S if hold else 0.0)

    fake.queue(*[answer] * 10)
    workers = Workers(worker_settings, tmp_path)
    try:
        async for client in app_client(worker_settings):
            user = company.user()
            steps = [
                {"name": "first", "kind": "prompt", "prompt": "first"},
                {"name": "second", "kind": "prompt", "prompt": "slow: {{steps.first.output}}"},
                {"name": "third", "kind": "prompt", "prompt": "last: {{steps.second.output}}"},
            ]
            r = await client.post("/ai/pipelines", json={"name": "three", "steps": steps}, headers=user.headers)
            pipeline = r.json()
            # Two workers, started together: the one that takes the execution is killed, the
            # other one, already consuming, gets it again from the broker.
            await asyncio.to_thread(workers.start, 2)
            r = await client.post(f"/ai/pipelines/{pipeline['id']}/execute", json={}, headers=user.headers)
            assert r.status_code == 202, r.text
            execution_id = r.json()["id"]

            # Kill the worker while the slow second step is under way (the first one stored):
            # its request held by the provider, not only the step marked running. Killed in
            # between (a loaded machine widens that gap), the first "slow" request the provider
            # saw was the resumed worker's, held for HELD_S, and the resume waited it out.
            await _wait_execution(
                client,
                user,
                execution_id,
                lambda body: [s["status"] for s in body["steps"]] == ["succeeded", "running", "pending"] and bool(held),
                workers,
                timeout_s=30,
                interval=0.05,
            )
            victim = await workers.holder(client, execution_id)
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)

            body = await _wait_execution(
                client,
                user,
                execution_id,
                lambda body: body["status"] in ("succeeded", "failed"),
                workers,
                timeout_s=60,
                interval=0.1,
            )
            assert body["status"] == "succeeded", f"{body}\n{workers.logs()}"
            assert body["attempts"] == 2
            assert [s["attempts"] for s in body["steps"]] == [1, 2, 1]
            assert body["output"] == "answer to last: answer to slow: answer to first"
            # The provider saw the finished first step once; only the interrupted one twice.
            prompts = [_prompt(r) for r in fake.chat_requests]
            assert prompts.count("first") == 1
            assert prompts.count("slow: answer to first") == 2
            assert prompts.count("last: answer to slow: answer to first") == 1

            # The stream shows every step once, then the end.
            stream = await client.get(f"/ai/pipeline-executions/{execution_id}/events", headers=user.headers)
            kinds = [line.removeprefix("event: ") for line in stream.text.splitlines() if line.startswith("event: ")]
            assert kinds == ["step_started", "step_finished"] * 3 + ["execution_finished"]
    finally:
        await asyncio.to_thread(workers.stop)


async def test_an_execution_whose_workers_keep_dying_is_dead_lettered_and_failed(
    worker_settings: Settings, fake: FakeProvider, company, app_client, tmp_path: Path
):
    settings = worker_settings.model_copy(update={"pipeline_delivery_limit": 1})
    fake.queue(*[Reply(text="never", delay_s=HELD_S)] * 5)
    workers = Workers(settings, tmp_path)
    try:
        async for client in app_client(settings):
            user = company.user()
            steps = [{"name": "doomed", "kind": "prompt", "prompt": "slow"}]
            pipeline = (
                await client.post("/ai/pipelines", json={"name": "d", "steps": steps}, headers=user.headers)
            ).json()
            execution_id = (
                await client.post(f"/ai/pipelines/{pipeline['id']}/execute", json={}, headers=user.headers)
            ).json()["id"]
            # Two deliveries die mid-step; past the limit of one redelivery the broker gives up.
            # Three workers, started together: each delivery's is killed, the last one left
            # takes the dead letter.
            await asyncio.to_thread(workers.start, 3)
            for attempt in (1, 2):
                await _wait_execution(
                    client,
                    user,
                    execution_id,
                    lambda body, attempt=attempt: body["steps"][0]["attempts"] >= attempt,
                    workers,
                    timeout_s=30,
                    interval=0.05,
                )
                victim = await workers.holder(client, execution_id)
                victim.send_signal(signal.SIGKILL)
                victim.wait(timeout=10)
            body = await _wait_execution(
                client, user, execution_id, lambda body: body["status"] == "failed", workers, timeout_s=30, interval=0.1
            )
            assert "given up after 2 attempt(s)" in body["error"], body
            assert body["steps"][0]["status"] == "failed" and body["steps"][0]["attempts"] == 2
    finally:
        await asyncio.to_thread(workers.stop)
