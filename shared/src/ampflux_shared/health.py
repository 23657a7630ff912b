"""`/health` (the process is alive) and `/ready` (it can serve: its dependencies answer).

Readiness fails (503) only for what the service cannot serve without (its database).
Dependencies it can work around are checked too but only degrade it: the broker, because
writes go to the outbox and are published when it is back. A readiness probe that failed
on those would take every replica out of the load balancer during a broker outage, which
is exactly when the outbox keeps the service useful. The body names what is degraded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .errors import PROBLEM_MEDIA_TYPE, problem_body

ReadinessCheck = Callable[[], Awaitable[None]]

router = APIRouter(tags=["operations"])


@router.get("/health", summary="Liveness")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/ready", summary="Readiness: the dependencies it cannot serve without answer (others only degrade it)")
async def ready(request: Request) -> JSONResponse:
    required: dict[str, ReadinessCheck] = getattr(request.app.state, "readiness_checks", {})
    optional: dict[str, ReadinessCheck] = getattr(request.app.state, "degraded_readiness_checks", {})
    checks = {**optional, **required}
    results: dict[str, str] = {}

    async def run(name: str, check: ReadinessCheck) -> None:
        try:
            await asyncio.wait_for(check(), timeout=3.0)
            results[name] = "ok"
        except Exception as exc:  # any failure means not ready; say which and why
            results[name] = f"failed: {type(exc).__name__}: {exc}"[:300]

    await asyncio.gather(*(run(n, c) for n, c in checks.items()))
    failed = sorted(name for name, result in results.items() if result != "ok")
    if not any(name in required for name in failed):
        if failed:
            return JSONResponse({"status": "degraded", "degraded": failed, "checks": results})
        return JSONResponse({"status": "ready", "checks": results})
    body = problem_body(503, slug="not-ready", detail="a dependency is not reachable", checks=results)
    return JSONResponse(body, status_code=503, media_type=PROBLEM_MEDIA_TYPE)
