"""`/health` (the process is alive) and `/ready` (its dependencies answer)."""

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


@router.get("/ready", summary="Readiness: database, broker and other dependencies reachable")
async def ready(request: Request) -> JSONResponse:
    checks: dict[str, ReadinessCheck] = getattr(request.app.state, "readiness_checks", {})
    results: dict[str, str] = {}

    async def run(name: str, check: ReadinessCheck) -> None:
        try:
            await asyncio.wait_for(check(), timeout=3.0)
            results[name] = "ok"
        except Exception as exc:  # any failure means not ready; say which and why
            results[name] = f"failed: {type(exc).__name__}: {exc}"[:300]

    await asyncio.gather(*(run(n, c) for n, c in checks.items()))
    if all(v == "ok" for v in results.values()):
        return JSONResponse({"status": "ready", "checks": results})
    body = problem_body(503, slug="not-ready", detail="a dependency is not reachable", checks=results)
    return JSONResponse(body, status_code=503, media_type=PROBLEM_MEDIA_TYPE)
