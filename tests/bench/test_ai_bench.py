"""Benchmark: streamed conversations through the gateway and the AI service.

Starts the local OpenAI-compatible test provider in its own process (every answer: CHUNKS
chunks of four characters, CHUNK_DELAY_S apart), auth (SQLite), the AI service (PostgreSQL,
in-process bus) and the gateway in front. One user opens CONCURRENCY conversations and streams one reply
in each, all at once (`Accept: text/event-stream`); the same number of streams go straight to
the provider, and straight to the AI service (no gateway), at the same concurrency. Reported:
time to first token (median, p95) each way and the differences — what the service, and the
gateway and the service together, add to the first token — and tokens/s.

Run with `make bench`; prints a markdown table and writes it to var/bench/ai.md.
Knobs: AMPFLUX_BENCH_AI_CONCURRENCY (200), AMPFLUX_BENCH_AI_CHUNKS (50), AMPFLUX_BENCH_AI_ROUNDS (2).
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import time
import uuid
from pathlib import Path

import httpx
import pytest
from e2e.stack import ServiceProcess, free_port

CONCURRENCY = int(os.environ.get("AMPFLUX_BENCH_AI_CONCURRENCY", "200"))
CHUNKS = int(os.environ.get("AMPFLUX_BENCH_AI_CHUNKS", "50"))
ROUNDS = int(os.environ.get("AMPFLUX_BENCH_AI_ROUNDS", "2"))
CHUNK_DELAY_S = 0.01
# A provider chunk that carries text (its first chunk only carries the role).
DIRECT_TEXT = 'data: {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": '
REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "var" / "bench" / "ai.md"

pytestmark = pytest.mark.slow


async def _stream(client: httpx.AsyncClient, method: str, url: str, marker: str, **kw) -> tuple[float, int, float]:
    """(time to first token, tokens, whole duration) of one streamed answer. `marker`: what starts
    a line that carries text (an SSE `token` event, a provider chunk with content)."""
    start = time.perf_counter()
    first = None
    tokens = 0
    lines: list[str] = []
    async with client.stream(method, url, **kw) as r:
        assert r.status_code == 200, await r.aread()
        async for line in r.aiter_lines():
            if first is None:
                lines.append(line)
            if line.startswith(marker) and '"content": ""' not in line and ('"content"' in line or "event:" in marker):
                if first is None:
                    first = time.perf_counter() - start
                tokens += 1
    assert first is not None, f"no token arrived from {url}: {lines[-6:]}"
    return first, tokens, time.perf_counter() - start


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


async def _round(gateway: str, service: str, provider: str, headers: dict, conversations: list[str]) -> dict:
    limits = httpx.Limits(max_connections=CONCURRENCY + 10, max_keepalive_connections=CONCURRENCY + 10)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        direct = await asyncio.gather(
            *[
                _stream(
                    client,
                    "POST",
                    f"{provider}/v1/chat/completions",
                    DIRECT_TEXT,
                    json={"model": "fake-model", "messages": [{"role": "user", "content": "x"}], "stream": True},
                )
                for _ in conversations
            ]
        )

        async def converse(base: str) -> tuple[list[tuple[float, int, float]], float]:
            t0 = time.perf_counter()
            streams = await asyncio.gather(
                *[
                    _stream(
                        client,
                        "POST",
                        f"{base}/ai/conversations/{cid}/messages",
                        "event: token",
                        json={"content": "stream me an answer"},
                        headers={**headers, "Accept": "text/event-stream"},
                    )
                    for cid in conversations
                ]
            )
            return streams, time.perf_counter() - t0

        service_only, _ = await converse(service)
        through, wall = await converse(gateway)
    # The direct stream counts its role chunk and the empty/usage chunks: only text chunks compare.
    return {
        "direct_ttft": [d[0] for d in direct],
        "ai_ttft": [t[0] for t in service_only],
        "gw_ttft": [t[0] for t in through],
        "gw_tokens": sum(t[1] for t in through),
        "wall": wall,
    }


def test_streamed_conversations_through_the_gateway(tmp_path, make_postgres_database):
    logs = tmp_path
    provider_port = free_port()
    provider = ServiceProcess(
        "provider",
        "ampflux_testing.fake_provider",
        provider_port,
        {
            "PYTHONPATH": str(REPO / "tests"),
            "FAKE_PROVIDER_PORT": str(provider_port),
            "FAKE_PROVIDER_CHUNKS": str(CHUNKS),
            "FAKE_PROVIDER_CHUNK_DELAY_S": str(CHUNK_DELAY_S),
        },
        logs / "provider.log",
    )
    auth_port, ai_port, gw_port = free_port(), free_port(), free_port()
    auth = ServiceProcess(
        "auth",
        "ampflux_auth",
        auth_port,
        {"AUTH_PORT": str(auth_port), "AUTH_DATA_DIR": str(tmp_path / "auth"), "AUTH_ENVIRONMENT": "test"},
        logs / "auth.log",
    )
    jwks = f"http://127.0.0.1:{auth_port}/.well-known/jwks.json"
    ai = ServiceProcess(
        "ai",
        "ampflux_ai",
        ai_port,
        {
            "AI_PORT": str(ai_port),
            # PostgreSQL as deployed: the embedded SQLite serialises writers, and 200 at once time out.
            "AI_DATABASE_URL": make_postgres_database("ampflux_ai_bench"),
            "AI_JWKS_URL": jwks,
            "AI_ENVIRONMENT": "test",
            "AI_PROVIDER_BASE_URL": f"http://127.0.0.1:{provider_port}/v1",
            "AI_MODEL": "fake-model",
            "AI_PROVIDER_RETRIES": "0",
        },
        logs / "ai.log",
    )
    routes = [
        {
            "prefix": "/auth",
            "service": "auth",
            "upstreams": [auth.url],
            "public_paths": ["/auth/register", "/auth/login"],
        },
        {"prefix": "/ai", "service": "ai", "upstreams": [ai.url], "timeout_s": 120},
    ]
    gateway = ServiceProcess(
        "gateway",
        "ampflux_gateway",
        gw_port,
        {
            "GATEWAY_PORT": str(gw_port),
            "GATEWAY_ROUTES": json.dumps(routes),
            "GATEWAY_JWKS_URL": jwks,
            "GATEWAY_ENVIRONMENT": "test",
        },
        logs / "gateway.log",
    )
    processes = [provider.spawn(), auth.spawn()]
    try:
        for p in processes:
            p.wait_ready(120)
        # The gateway last: it would mark an upstream that is still starting as down.
        processes.append(ai.start(120))
        processes.append(gateway.start(120))
        tag = uuid.uuid4().hex[:8]
        user = {
            "name": "Bench",
            "email": f"bench.{tag}@example.com",
            "password": "correct horse battery staple",
            "company_name": f"Bench {tag}",
        }
        with httpx.Client(base_url=gateway.url, timeout=30) as gw:
            assert gw.post("/auth/register", json=user).status_code == 201
            token = gw.post("/auth/login", json={"email": user["email"], "password": user["password"]}).json()[
                "access_token"
            ]
            headers = {"Authorization": f"Bearer {token}"}
            conversations = []
            for _ in range(CONCURRENCY):
                r = gw.post("/ai/conversations", json={}, headers=headers)
                assert r.status_code == 201, r.text
                conversations.append(r.json()["id"])
        # Warm-up: connections, the SDK's first request, the database's first pages.
        asyncio.run(_round(gateway.url, ai.url, provider.url, headers, conversations[:10]))
        load = os.getloadavg()
        rounds = [asyncio.run(_round(gateway.url, ai.url, provider.url, headers, conversations)) for _ in range(ROUNDS)]
        load_after = os.getloadavg()
    finally:
        for p in reversed(processes):
            p.stop()

    direct = [v for r in rounds for v in r["direct_ttft"]]
    service_only = [v for r in rounds for v in r["ai_ttft"]]
    through = [v for r in rounds for v in r["gw_ttft"]]
    tokens_per_s = statistics.median(r["gw_tokens"] / r["wall"] for r in rounds)
    overhead_ms = (statistics.median(through) - statistics.median(direct)) * 1000
    service_ms = (statistics.median(service_only) - statistics.median(direct)) * 1000
    table = "\n".join(
        [
            f"AI streaming: {CONCURRENCY} concurrent conversations x {ROUNDS} rounds, {CHUNKS} chunks of "
            f"4 characters {CHUNK_DELAY_S * 1000:g} ms apart per answer ({platform.python_implementation()} "
            f"{platform.python_version()}, {os.cpu_count()} CPUs, load average {load[0]:.1f} before and "
            f"{load_after[0]:.1f} after)",
            "",
            "| path | TTFT median ms | TTFT p95 ms |",
            "|---|---|---|",
            f"| provider directly | {statistics.median(direct) * 1000:.1f} | {_pct(direct, 0.95) * 1000:.1f} |",
            f"| AI service directly | {statistics.median(service_only) * 1000:.1f} | "
            f"{_pct(service_only, 0.95) * 1000:.1f} |",
            f"| gateway + AI service | {statistics.median(through) * 1000:.1f} | {_pct(through, 0.95) * 1000:.1f} |",
            "",
            f"Added to the first token (median): {overhead_ms:.1f} ms by the gateway and the service, "
            f"{service_ms:.1f} ms by the service alone. Tokens delivered through the gateway: "
            f"{tokens_per_s:.0f} tokens/s across all streams.",
        ]
    )
    print("\n" + table)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(table + "\n")
    assert len(through) == CONCURRENCY * ROUNDS
    assert all(r["gw_tokens"] == CONCURRENCY * CHUNKS for r in rounds), "an answer lost tokens on the way"
