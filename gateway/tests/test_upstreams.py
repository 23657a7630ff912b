"""Background health probes: an instance is taken out only after failures in a row."""

from __future__ import annotations

import httpx

from ampflux_gateway.metrics import GatewayMetrics
from ampflux_gateway.upstreams import UpstreamRegistry
from ampflux_shared.observability import ServiceMetrics
from ampflux_testing.processes import free_port


async def test_one_failed_probe_does_not_take_an_instance_out_two_do():
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there: each probe is refused
    registry = UpstreamRegistry({"svc": [closed]}, GatewayMetrics(ServiceMetrics()), failure_threshold=2)
    (inst,) = registry.pools["svc"].instances
    async with httpx.AsyncClient() as client:
        first = await registry.probe(client, timeout_s=1.0)
        assert inst.healthy, "one failed probe must not empty the pool"
        assert "failure 1 of 2" in first["svc"][closed]
        second = await registry.probe(client, timeout_s=1.0)
        assert not inst.healthy
        assert second["svc"][closed].startswith("unreachable")
        # Marked down, yet the only instance left is still tried (its mark may be stale)...
        assert registry.pools["svc"].pick() is inst
        # ...but never twice for one request.
        assert registry.pools["svc"].pick(exclude={inst}) is None
