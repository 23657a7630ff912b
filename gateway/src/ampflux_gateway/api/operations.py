"""`/ready` for the gateway: its own readiness, and each upstream's reachability.

Unlike a service, the gateway stays ready (200) while an upstream is down: taking every
gateway replica out of the load balancer because one service failed would turn a partial
outage into a total one. The body says which upstreams are unreachable ("degraded").
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ..gateway import Gateway

router = APIRouter(tags=["operations"])


@router.get("/ready", summary="Readiness, with each upstream instance's reachability")
async def gateway_ready(request: Request) -> dict[str, Any]:
    gw: Gateway = request.app.state.gateway
    assert gw.client is not None
    upstreams = await gw.registry.probe(gw.client, gw.settings.probe_timeout_s)
    keys = request.app.state.verifier.key_count
    all_ok = all(r == "ok" for results in upstreams.values() for r in results.values())
    return {
        "status": "ready" if all_ok and keys else "degraded",
        "upstreams": upstreams,
        "token_keys": keys,
    }
