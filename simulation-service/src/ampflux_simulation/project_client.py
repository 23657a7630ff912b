"""Reading projects and circuit versions from the project service, as the caller.

The caller's bearer token is passed on, so the project service's own access rules decide
who may simulate what; this service never reads another service's tables.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from cachetools import TTLCache

from ampflux_shared.errors import ProblemError, not_found, unauthorized, unavailable
from ampflux_shared.observability import REQUEST_ID_HEADER, current_request_id

log = logging.getLogger("ampflux.simulation.project")


@dataclass(frozen=True)
class FetchedVersion:
    id: uuid.UUID
    circuit_id: uuid.UUID
    number: int
    document: dict[str, Any]


class ProjectClient:
    def __init__(
        self,
        base_url: str,
        *,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
        access_cache_ttl_s: float = 30.0,
        access_cache_size: int = 10_000,
    ) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport)
        # (sha256 of the token, project id) pairs the project service said yes to, recently
        # (oldest out first when full); a TTL of 0 caches nothing.
        self._allowed: TTLCache[tuple[str, uuid.UUID], bool] | None = (
            TTLCache(maxsize=access_cache_size, ttl=access_cache_ttl_s)
            if access_cache_ttl_s > 0 and access_cache_size > 0
            else None
        )

    async def close(self) -> None:
        await self._client.aclose()

    async def check_project(self, token: str, project_id: uuid.UUID) -> None:
        """Raise 404 unless the caller may see the project (the project service decides:
        members and company admins). Positive answers are remembered for a short while per
        (token, project) so that list, poll and SSE requests do not call it each time;
        refusals and errors are never cached."""
        key = (hashlib.sha256(token.encode()).hexdigest(), project_id)
        if self._allowed is not None and key in self._allowed:
            return
        await self._get(token, f"/projects/{project_id}", what="project")
        if self._allowed is not None:
            self._allowed[key] = True

    async def project_role(self, token: str, project_id: uuid.UUID) -> str:
        """The caller's role in the project (`viewer`, `editor`, `owner`; company admins are
        owners of their company's projects); 404 when they may not see it. Never cached: it
        decides who may start or stop work, and a role change must count at once."""
        body = await self._get(token, f"/projects/{project_id}", what="project")
        role = body.get("my_role") if isinstance(body, dict) else None
        if not isinstance(role, str):
            raise _unavailable("the project service answered without the caller's role")
        return role

    async def fetch_version(
        self, token: str, project_id: uuid.UUID, circuit_id: uuid.UUID, number: int | None
    ) -> FetchedVersion:
        which = str(number) if number is not None else "latest"
        path = f"/projects/{project_id}/circuits/{circuit_id}/versions/{which}"
        body = await self._get(token, path, what="circuit version")
        try:
            return FetchedVersion(
                id=uuid.UUID(str(body["id"])),
                circuit_id=uuid.UUID(str(body.get("circuit_id") or circuit_id)),
                number=int(body["number"]),
                document=body["document"],
            )
        except (KeyError, TypeError, ValueError):
            raise _unavailable("the project service answered with an unexpected body") from None

    async def _get(self, token: str, path: str, *, what: str) -> Any:
        """GET `path` as the caller; 403/404 → 404 `what`, 401 → 401, anything else → 503."""
        headers = {"Authorization": f"Bearer {token}"}
        if (request_id := current_request_id()) is not None:
            headers[REQUEST_ID_HEADER] = request_id
        try:
            response = await self._client.get(path, headers=headers)
        except httpx.TimeoutException:
            raise _unavailable("the project service did not answer in time") from None
        except httpx.HTTPError as exc:
            log.warning("project service unreachable: %s", exc)
            raise _unavailable("the project service is not reachable") from None
        if response.status_code in (403, 404):
            # Not visible to the caller is the same as not there (no existence leak).
            raise not_found(what)
        if response.status_code == 401:
            raise unauthorized("the project service did not accept the token", slug="invalid-token")
        if response.status_code != 200:
            log.warning("project service answered %s for %s", response.status_code, path)
            raise _unavailable(f"the project service answered {response.status_code}")
        try:
            return response.json()
        except ValueError:
            raise _unavailable("the project service answered with an unexpected body") from None


def _unavailable(detail: str) -> ProblemError:
    return unavailable(detail, slug="project-service-unavailable", retry_after_s=5)
