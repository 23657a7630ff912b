"""A reply is stored as it streams: two AI service processes on one PostgreSQL database.

A client that re-attaches on the other replica gets the text written so far and then the rest;
a replica killed (SIGKILL) mid-reply leaves the message failed with the text it had stored —
the other replica's sweep marks it — never complete and never streaming for ever.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ampflux_ai.config import Settings
from ampflux_shared.migrate import migrate
from ampflux_testing.fake_provider import FakeProvider, Reply
from ampflux_testing.polling import eventually_sync
from ampflux_testing.processes import ServiceProcess, free_port, start_together, stop_together
from ampflux_testing.tokens import TestSigner

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SIGNER = TestSigner(kid="ai-replicas")
# The killed replica's reply is failed this long after its last heartbeat (the sweeps run every
# half of it). A live reply here stores its growing text every AI_STREAM_FLUSH_S (0.1 s), far
# more often: only a writer stalled for 2 s would be taken for dead.
STALE_S = 2.0
TEXT = "".join(f"w{i:02d} " for i in range(60))  # 240 characters, 60 chunks of 4


def _events(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    event: dict[str, Any] = {}
    for line in lines:
        if not line:
            if event:
                yield event
            event = {}
        elif line.startswith("event: "):
            event["event"] = line[7:]
        elif line.startswith("data: "):
            event["data"] = json.loads(line[6:])


@pytest.fixture
def replicas(make_postgres_database, tmp_path) -> Iterator[tuple[ServiceProcess, ServiceProcess, FakeProvider]]:
    fake = FakeProvider().start()
    # The replicas verify the test's tokens through a key set served like auth's.
    fake.app.add_api_route("/jwks.json", SIGNER.jwks)
    database = make_postgres_database("ampflux_ai_replicas")
    started: list[ServiceProcess] = []

    def replica(name: str) -> ServiceProcess:
        port = free_port()
        env = {
            "AI_PORT": str(port),
            "AI_DATABASE_URL": database,
            "AI_AMQP_URL": "",
            "AI_DATA_DIR": str(tmp_path / name),
            "AI_ENVIRONMENT": "test",
            "AI_JWKS_URL": f"http://127.0.0.1:{fake.port}/jwks.json",
            "AI_PROVIDER_BASE_URL": fake.url,
            "AI_MODEL": fake.model,
            "AI_PROVIDER_RETRIES": "0",
            "AI_STREAM_FLUSH_S": "0.1",
            "AI_STREAM_STALE_S": str(STALE_S),
            "AI_MIGRATE_ON_START": "false",
        }
        process = ServiceProcess(name, "ampflux_ai", port, env, tmp_path / f"{name}.log")
        started.append(process)
        return process

    try:
        # Migrated once before either starts (the deploy step), so both start together.
        migrate("ai", Settings(database_url=database, amqp_url="", data_dir=tmp_path))
        a, b = replica("ai-a"), replica("ai-b")
        start_together([a, b], timeout_s=120)
        yield a, b, fake
    finally:
        stop_together(p.proc for p in started if p.proc is not None)
        fake.stop()


def test_the_other_replica_streams_what_was_written_and_the_rest_and_a_killed_one_leaves_a_failed_reply(
    replicas,
):
    a, b, fake = replicas
    headers = {"Authorization": f"Bearer {SIGNER.sign(uuid.uuid4(), uuid.uuid4(), ['engineer'])}"}
    with httpx.Client(timeout=60, headers=headers) as http:
        conv = http.post(f"{a.url}/ai/conversations", json={}).json()["id"]

        def stored_text(replica: ServiceProcess) -> str:
            return http.get(f"{replica.url}/ai/conversations/{conv}").json()["messages"][-1]["content"]

        # 1. Re-attach on the other replica mid-reply: the text so far, then the rest, then complete.
        # 1.8 s in all: the re-attach comes after the first flush (0.1 s), with most of it to go.
        fake.queue(Reply(text=TEXT, chunk_delay_s=0.03))
        stream = {"Accept": "text/event-stream"}
        with http.stream("POST", f"{a.url}/ai/conversations/{conv}/messages", json={"content": "q"}, headers=stream):
            pass  # the client goes away at once: the reply is the server's
        messages = http.get(f"{b.url}/ai/conversations/{conv}").json()["messages"]
        reply_id = messages[-1]["id"]
        # A part of the text is written (and stored) before the re-attach.
        eventually_sync(lambda: stored_text(b), timeout=10, what="some of the reply stored while it streamed")
        with http.stream("GET", f"{b.url}/ai/conversations/{conv}/messages/{reply_id}/stream") as r:
            events = list(_events(r.iter_lines()))
        tokens = [e["data"]["text"] for e in events if e["event"] == "token"]
        assert len(tokens) >= 2 and 0 < len(tokens[0]) < len(TEXT), tokens  # so far, then more
        assert "".join(tokens) == TEXT
        assert events[-1]["event"] == "complete" and events[-1]["data"]["full_text"] == TEXT

        # 2. Kill the replica writing a reply: the other one fails it, keeping the stored text.
        fake.queue(Reply(text=TEXT, chunk_delay_s=0.05))  # 3 s in all: killed after 10 chunks
        with http.stream(
            "POST", f"{a.url}/ai/conversations/{conv}/messages", json={"content": "again"}, headers=stream
        ) as r:
            reply_id = r.headers["x-message-id"]
            seen = ""
            for event in _events(r.iter_lines()):
                if event.get("event") == "token":
                    seen += event["data"]["text"]
                if len(seen) >= 40:
                    break
        eventually_sync(lambda: stored_text(b), timeout=10, what="some of the reply stored while it streamed")
        a.kill()

        def ended() -> dict | None:
            last = http.get(f"{b.url}/ai/conversations/{conv}").json()["messages"][-1]
            return last if last["status"] != "streaming" else None

        last = eventually_sync(ended, timeout=STALE_S * 4 + 10, what="the killed replica's reply to stop streaming")
        assert last["id"] == reply_id and last["status"] == "failed" and "stopped" in last["error"]
        assert last["content"] and TEXT.startswith(last["content"]) and len(last["content"]) < len(TEXT)
        # Re-attaching now ends in the error, with the partial text.
        with http.stream("GET", f"{b.url}/ai/conversations/{conv}/messages/{reply_id}/stream") as r:
            end = list(_events(r.iter_lines()))[-1]
        assert end["event"] == "error" and end["data"]["partial_text"] == last["content"]
