"""Benchmark: what the gateway costs on an authenticated `GET /auth/me`.

Starts the real auth service (SQLite in a temp dir, in-process bus) and the gateway in
front of it, registers and logs in one user, then drives the same request straight to auth
and through the gateway at the same concurrency: warm-up, then a fixed number of requests,
measured in rounds that alternate between the two so neither gets a quieter machine.
The gateway's path includes everything it does for real: token verification, a rate-limit
decision (in-process; a quota too large to refuse), and streaming the answer back.

Two placements are measured, because on a small machine they answer different questions:
- "shared CPUs": every process may run on every CPU, as on one developer laptop; the
  gateway's CPU is taken from the auth service's.
- "own CPU": auth pinned to one CPU, gateway and load generator to another, as when the
  gateway runs on its own pod or host (how it is deployed). Needs 2+ CPUs and Linux.
CPU time per request of each server process is read from /proc, so the gateway's own cost
is reported independently of how busy the machine is.

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
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ampflux_testing.processes import ServiceProcess, free_port

REQUESTS = int(os.environ.get("AMPFLUX_BENCH_GW_REQUESTS", "5000"))
CONCURRENCY = int(os.environ.get("AMPFLUX_BENCH_GW_CONCURRENCY", "32"))
ROUNDS = int(os.environ.get("AMPFLUX_BENCH_GW_ROUNDS", "3"))
WARMUP = 500
REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "var" / "bench" / "gateway.md"


def _pin(pid: int, cpus: set[int]) -> None:
    os.sched_setaffinity(pid, cpus)


CAN_PIN = hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


def _service(name: str, module: str, env: dict[str, str], log: Path) -> ServiceProcess:
    """`name`'s service on a port of its own, quiet; no AUTH_/GATEWAY_/REDIS_URL from the caller's shell."""
    port = free_port()
    prefix = name.upper()
    settings = {f"{prefix}_PORT": str(port), f"{prefix}_HOST": "127.0.0.1", f"{prefix}_LOG_LEVEL": "WARNING"}
    return ServiceProcess(name, module, port, {**settings, **env}, log, scrub=("AUTH_", "GATEWAY_", "REDIS_URL"))


@dataclass
class Result:
    target: str
    requests: int
    seconds: float
    latencies: list[float]
    errors: int
    cpu_ms: dict[str, float] | None = None

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
    user = {
        "name": f"Bench {tag}",
        "email": f"bench.{tag}@example.com",
        "password": "correct horse battery staple",
        "company_name": f"Bench {tag}",
    }
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
    auth = _service(
        "auth", "ampflux_auth", {"AUTH_DATA_DIR": str(tmp / "data"), "AUTH_ENVIRONMENT": "test"}, tmp / "auth.log"
    ).start()
    routes = [
        {
            "prefix": "/auth",
            "service": "auth",
            "upstreams": [auth.url],
            "public_paths": ["/auth/register", "/auth/login", "/auth/refresh"],
            "rate_limit": {"policy": "bench", "quota": 10_000_000, "window_s": 60},
        },
        {"prefix": "/.well-known/jwks.json", "service": "auth", "upstreams": [auth.url], "public": True},
    ]
    try:
        gateway = _service(
            "gateway",
            "ampflux_gateway",
            {
                "GATEWAY_ROUTES": json.dumps(routes),
                "GATEWAY_JWKS_URL": auth.url + "/.well-known/jwks.json",
                "GATEWAY_ENVIRONMENT": "test",
            },
            tmp / "gateway.log",
        ).start()
    except Exception:
        auth.stop()
        raise
    yield auth, gateway
    gateway.stop()
    auth.stop()


async def _round(url: str, token: str, servers: dict[str, ServiceProcess]) -> Result:
    before = {name: svc.cpu_seconds() for name, svc in servers.items()}
    result = await _drive(url, token, REQUESTS, CONCURRENCY)
    after = {name: svc.cpu_seconds() for name, svc in servers.items()}
    if all(v is not None for v in (*before.values(), *after.values())):
        result.cpu_ms = {n: (after[n] - before[n]) / REQUESTS * 1000 for n in servers}  # type: ignore[operator]
    return result


def _median(rounds: list[Result]) -> Result:
    return sorted(rounds, key=lambda r: r.rps)[len(rounds) // 2]


def _cpu(r: Result, name: str) -> str:
    return f"{r.cpu_ms[name]:.2f}" if r.cpu_ms else "n/a"


def test_gateway_overhead_on_authenticated_get(stack):
    auth, gateway = stack
    token = _register_and_login(gateway.url)
    servers = {"auth": auth, "gateway": gateway}
    all_cpus = os.sched_getaffinity(0) if CAN_PIN else set()
    placements = ["shared CPUs"] + (["own CPU"] if CAN_PIN else [])

    async def measure() -> dict[str, dict[str, list[Result]]]:
        out: dict[str, dict[str, list[Result]]] = {}
        for placement in placements:
            if CAN_PIN:
                first, second = sorted(all_cpus)[:2]
                me = os.getpid()
                if placement == "own CPU":
                    _pin(auth.pid, {first})
                    _pin(gateway.pid, {second})
                    _pin(me, {second})
                else:
                    for pid in (auth.pid, gateway.pid, me):
                        _pin(pid, all_cpus)
            for url in (auth.url, gateway.url):
                await _drive(url, token, WARMUP, CONCURRENCY)
            rounds: dict[str, list[Result]] = {"direct": [], "gateway": []}
            for _ in range(ROUNDS):
                rounds["direct"].append(await _round(auth.url, token, servers))
                rounds["gateway"].append(await _round(gateway.url, token, servers))
            out[placement] = rounds
        if CAN_PIN:
            _pin(os.getpid(), all_cpus)
        return out

    results = asyncio.run(measure())
    for rounds in results.values():
        for kind in rounds.values():
            assert all(r.errors == 0 for r in kind), [r.errors for r in kind]

    lines = [
        "# Gateway overhead: authenticated `GET /auth/me`",
        "",
        f"{REQUESTS} requests per round, {CONCURRENCY} concurrent keep-alive connections, "
        f"{ROUNDS} rounds each alternating direct/gateway (median round by throughput shown), after "
        f"{WARMUP} warm-up requests. Auth service on SQLite; one uvicorn process each; "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs, "
        "load generator on the same machine. CPU columns: CPU time each server process spent per request.",
        "",
        "| placement | path | requests/s | p50 ms | p99 ms | auth CPU ms/req | gateway CPU ms/req"
        " | all rounds (req/s) |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    summary = []
    for placement, rounds in results.items():
        direct, through = _median(rounds["direct"]), _median(rounds["gateway"])
        for label, r, kind in (("direct to auth", direct, "direct"), ("through the gateway", through, "gateway")):
            lines.append(
                f"| {placement} | {label} | {r.rps:,.0f} | {r.pct(0.50):.2f} | {r.pct(0.99):.2f} | "
                f"{_cpu(r, 'auth')} | {_cpu(r, 'gateway') if kind == 'gateway' else '–'} | "
                f"{', '.join(f'{x.rps:,.0f}' for x in rounds[kind])} |"
            )
        summary.append(
            f"- **{placement}**: through the gateway {through.rps / direct.rps:.2f}× direct throughput "
            f"(costs {1 - through.rps / direct.rps:.0%}; aim ≤ 25 %), "
            f"p50 {through.pct(0.5) - direct.pct(0.5):+.2f} ms, p99 {through.pct(0.99) - direct.pct(0.99):+.2f} ms."
        )
    lines += ["", *summary, ""]
    table = "\n".join(lines) + "\n"
    print("\n" + table)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(table)
