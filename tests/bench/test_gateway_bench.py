"""Benchmark: what the gateway costs on an authenticated `GET /auth/me`.

Starts the real auth service (SQLite in a temp dir, in-process bus) and the gateway in
front of it, registers and logs in one user, then drives the same request straight to auth
and through the gateway at the same concurrency: warm-up, then a fixed number of requests,
measured in rounds that alternate between the two so neither gets a quieter machine.
The gateway's path includes everything it does for real: token verification, a rate-limit
decision (in-process; a quota too large to refuse), and streaming the answer back.

The load generator is a small keep-alive HTTP/1.1 client on asyncio streams: a full
HTTP client library would spend more CPU than the servers under test on this machine.

Run with `make bench`; prints a markdown table and writes it to var/bench/gateway.md.
Knobs: AMPFLUX_BENCH_GW_REQUESTS (per round), AMPFLUX_BENCH_GW_CONCURRENCY, AMPFLUX_BENCH_GW_ROUNDS.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

REQUESTS = int(os.environ.get("AMPFLUX_BENCH_GW_REQUESTS", "5000"))
CONCURRENCY = int(os.environ.get("AMPFLUX_BENCH_GW_CONCURRENCY", "32"))
ROUNDS = int(os.environ.get("AMPFLUX_BENCH_GW_ROUNDS", "3"))
WARMUP = 500
REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "var" / "bench" / "gateway.md"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    def __init__(self, name: str, module: str, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = name
        self.log = log
        prefix = name.upper()
        full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTH_", "GATEWAY_")) and k != "REDIS_URL"}
        full_env.update({f"{prefix}_PORT": str(self.port), f"{prefix}_HOST": "127.0.0.1", f"{prefix}_LOG_LEVEL": "WARNING"})
        full_env.update(env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module], env=full_env, cwd=REPO, stdout=log.open("wb"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{log.read_text()[-3000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Result:
    target: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def pct(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


async def _worker(host: str, port: int, request: bytes, count: int, latencies: list[float]) -> int:
    """Send `count` requests one after another on one keep-alive connection."""
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    try:
        for _ in range(count):
            start = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if status != 200:
                errors += 1
    finally:
        writer.close()
    return errors


async def _drive(url: str, token: str, total: int, concurrency: int) -> Result:
    host, port = url.removeprefix("http://").split(":")
    request = (
        f"GET /auth/me HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        "Accept: application/json\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    per_worker = [total // concurrency + (1 if i < total % concurrency else 0) for i in range(concurrency)]
    start = time.perf_counter()
    errors = await asyncio.gather(*(_worker(host, int(port), request, n, latencies) for n in per_worker))
    return Result(url, total, time.perf_counter() - start, latencies, sum(errors))


def _register_and_login(base: str) -> str:
    tag = uuid.uuid4().hex[:8]
    user = {"name": f"Bench {tag}", "email": f"bench.{tag}@example.com",
            "password": "correct horse battery staple", "company_name": f"Bench {tag}"}
    with httpx.Client(base_url=base, timeout=30) as c:
        r = c.post("/auth/register", json=user)
        assert r.status_code == 201, r.text
        r = c.post("/auth/login", json={"email": user["email"], "password": user["password"]})
        assert r.status_code == 200, r.text
        token = r.json()["access_token"]
        assert c.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        return token


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gateway-bench")
    auth = Service("auth", "ampflux_auth", {"AUTH_DATA_DIR": str(tmp / "data"), "AUTH_ENVIRONMENT": "test"}, tmp / "auth.log")
    routes = [
        {"prefix": "/auth", "service": "auth", "upstreams": [auth.url],
         "public_paths": ["/auth/register", "/auth/login", "/auth/refresh"],
         "rate_limit": {"policy": "bench", "quota": 10_000_000, "window_s": 60}},
        {"prefix": "/.well-known/jwks.json", "service": "auth", "upstreams": [auth.url], "public": True},
    ]
    try:
        gateway = Service("gateway", "ampflux_gateway", {
            "GATEWAY_ROUTES": json.dumps(routes),
            "GATEWAY_JWKS_URL": auth.url + "/.well-known/jwks.json",
            "GATEWAY_ENVIRONMENT": "test",
        }, tmp / "gateway.log")
    except Exception:
        auth.stop()
        raise
    yield auth, gateway
    gateway.stop()
    auth.stop()


def test_gateway_overhead_on_authenticated_get(stack):
    auth, gateway = stack
    token = _register_and_login(gateway.url)

    async def measure() -> dict[str, list[Result]]:
        for url in (auth.url, gateway.url):
            await _drive(url, token, WARMUP, CONCURRENCY)
        results: dict[str, list[Result]] = {"direct": [], "gateway": []}
        for _ in range(ROUNDS):
            results["direct"].append(await _drive(auth.url, token, REQUESTS, CONCURRENCY))
            results["gateway"].append(await _drive(gateway.url, token, REQUESTS, CONCURRENCY))
        return results

    results = asyncio.run(measure())
    for rounds in results.values():
        assert all(r.errors == 0 for r in rounds), [r.errors for r in rounds]
    # The median round of each, by throughput.
    direct = sorted(results["direct"], key=lambda r: r.rps)[len(results["direct"]) // 2]
    through = sorted(results["gateway"], key=lambda r: r.rps)[len(results["gateway"]) // 2]
    cost = 1 - through.rps / direct.rps

    lines = [
        "# Gateway overhead: authenticated `GET /auth/me`",
        "",
        f"{REQUESTS} requests per round, {CONCURRENCY} concurrent keep-alive connections, "
        f"{ROUNDS} rounds each (median round shown), after {WARMUP} warm-up requests. "
        f"Auth service on SQLite; one uvicorn process each; {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, load generator on the same machine.",
        "",
        "| path | requests/s | p50 ms | p99 ms | all rounds (req/s) |",
        "|---|---:|---:|---:|---|",
    ]
    for label, r, rounds in (("direct to auth", direct, results["direct"]),
                             ("through the gateway", through, results["gateway"])):
        lines.append(
            f"| {label} | {r.rps:,.0f} | {r.pct(0.50):.2f} | {r.pct(0.99):.2f} | "
            f"{', '.join(f'{x.rps:,.0f}' for x in rounds)} |"
        )
    lines += [
        "",
        f"Throughput through the gateway: {through.rps / direct.rps:.2f}× direct "
        f"(the gateway costs {cost:.0%}; aim ≤ 25 %). "
        f"Added p50 latency: {through.pct(0.5) - direct.pct(0.5):.2f} ms.",
        "",
        f"Median of per-request latencies across all rounds: direct "
        f"{statistics.median(x for r in results['direct'] for x in r.latencies) * 1000:.2f} ms, gateway "
        f"{statistics.median(x for r in results['gateway'] for x in r.latencies) * 1000:.2f} ms.",
    ]
    table = "\n".join(lines) + "\n"
    print("\n" + table)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(table)
