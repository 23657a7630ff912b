"""Upstream instances per service: round-robin over the healthy ones.

Health is learned two ways: passively, an instance that refuses a connection is marked
down at once; and by a light background probe of each instance's `/health`, which brings
it back within one probe interval, or takes it out after `failure_threshold` probes in a
row have failed. One slow probe on a loaded machine (a 2 s timeout while the host is busy
starting processes) must not empty a pool of one: that answered every request with 503
until the next probe, for an instance that was serving requests all along.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ampflux_shared.tasks import cancel_and_wait

from .metrics import GatewayMetrics

log = logging.getLogger("ampflux.gateway.upstreams")


@dataclass(eq=False)
class Instance:
    service: str
    base_url: str
    healthy: bool = True
    down_since: float = 0.0
    failed_probes: int = 0

    @property
    def address(self) -> str:
        return urlsplit(self.base_url).netloc


class UpstreamPool:
    def __init__(
        self, service: str, base_urls: list[str], metrics: GatewayMetrics, readmit_after_s: float = 10.0
    ) -> None:
        self.service = service
        self.instances = [Instance(service, url) for url in base_urls]
        self._metrics = metrics
        # A down instance gets one request again after this long even if no probe ran
        # (probing disabled or failing for another reason): it must not stay out forever.
        self._readmit_after = readmit_after_s
        self._next = 0
        for inst in self.instances:
            self._publish(inst)

    def pick(self, exclude: set[Instance] | None = None) -> Instance | None:
        """The next healthy instance in turn, skipping those already tried.

        When every instance left is marked down, one of them is tried anyway (Envoy calls this
        panic routing): a mark can be stale — a gateway that starts before its services probes
        them before they listen — and a refused connection (a 502 naming it) costs less than a
        503 for a service that is in fact up. None only when every instance was tried."""
        count = len(self.instances)
        fallback: Instance | None = None
        for _ in range(count):
            inst = self.instances[self._next % count]
            self._next = (self._next + 1) % count
            if exclude and inst in exclude:
                continue
            if inst.healthy:
                return inst
            if time.monotonic() - inst.down_since >= self._readmit_after:
                inst.down_since = time.monotonic()  # one trial per period, not a stampede
                return inst
            fallback = fallback or inst
        return fallback

    def mark(self, inst: Instance, healthy: bool, reason: str = "") -> None:
        if inst.healthy != healthy:
            log.warning(
                "upstream %s %s is %s%s",
                self.service,
                inst.base_url,
                "back up" if healthy else "down",
                f": {reason}" if reason else "",
            )
        if not healthy and inst.healthy:
            inst.down_since = time.monotonic()
        inst.healthy = healthy
        self._publish(inst)

    def _publish(self, inst: Instance) -> None:
        self._metrics.upstream_healthy.labels(self.service, inst.address).set(1 if inst.healthy else 0)


class UpstreamRegistry:
    def __init__(
        self,
        services: dict[str, list[str]],
        metrics: GatewayMetrics,
        readmit_after_s: float = 10.0,
        failure_threshold: int = 2,
    ) -> None:
        self.pools = {name: UpstreamPool(name, urls, metrics, readmit_after_s) for name, urls in services.items()}
        self._failure_threshold = max(1, failure_threshold)
        self._task: asyncio.Task[None] | None = None

    def pool(self, service: str) -> UpstreamPool | None:
        return self.pools.get(service)

    async def probe(self, client: httpx.AsyncClient, timeout_s: float) -> dict[str, dict[str, str]]:
        """Check every instance's `/health` now; update health and report each result."""
        report: dict[str, dict[str, str]] = {name: {} for name in self.pools}

        async def check(pool: UpstreamPool, inst: Instance) -> None:
            try:
                resp = await client.get(f"{inst.base_url}/health", timeout=timeout_s)
                ok = resp.status_code == 200
                result = "ok" if ok else f"unhealthy: /health answered {resp.status_code}"
            except httpx.HTTPError as exc:
                ok, result = False, f"unreachable: {type(exc).__name__}"
            inst.failed_probes = 0 if ok else inst.failed_probes + 1
            if ok or inst.failed_probes >= self._failure_threshold:
                pool.mark(inst, ok, result)
            elif inst.healthy:
                result += f" (failure {inst.failed_probes} of {self._failure_threshold} before it is taken out)"
            report[pool.service][inst.base_url] = result

        await asyncio.gather(*(check(p, i) for p in self.pools.values() for i in p.instances))
        return report

    def start(self, client: httpx.AsyncClient, interval_s: float, timeout_s: float) -> None:
        if interval_s > 0:
            self._task = asyncio.create_task(self._loop(client, interval_s, timeout_s), name="upstream-probe")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _loop(self, client: httpx.AsyncClient, interval_s: float, timeout_s: float) -> None:
        # The first probe waits one interval: instances start out trusted, and a refused
        # connection marks one down sooner than any probe would.
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.probe(client, timeout_s)
            except Exception:  # the loop must survive anything one round throws
                log.exception("upstream probe round failed")
