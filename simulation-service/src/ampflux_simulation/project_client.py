"""Reading circuit versions from the project service, as the caller.

The caller's bearer token is passed on, so the project service's own access rules decide
who may simulate what; this service never reads another service's tables.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from ampflux_shared.errors import ProblemError, not_found
from ampflux_shared.observability import REQUEST_ID_HEADER, current_request_id

log = logging.getLogger("ampflux.simulation.project")


@dataclass(frozen=True)
class FetchedVersion:
    id: uuid.UUID
    circuit_id: uuid.UUID
    number: int
    document: dict[str, Any]


class ProjectClient:
    def __init__(self, base_url: str, *, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s, transport=transport)

    async def close(self) -> None:
        await self._client.aclose()

    async def fetch_version(
        self, token: str, project_id: uuid.UUID, circuit_id: uuid.UUID, number: int | None
    ) -> FetchedVersion:
        which = str(number) if number is not None else "latest"
        path = f"/projects/{project_id}/circuits/{circuit_id}/versions/{which}"
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
            raise not_found("circuit version")
        if response.status_code == 401:
            raise ProblemError(401, "the project service did not accept the token", slug="invalid-token")
        if response.status_code != 200:
            log.warning("project service answered %s for %s", response.status_code, path)
            raise _unavailable(f"the project service answered {response.status_code}")
        body = response.json()
        try:
            return FetchedVersion(
                id=uuid.UUID(str(body["id"])),
                circuit_id=uuid.UUID(str(body.get("circuit_id") or circuit_id)),
                number=int(body["number"]),
                document=body["document"],
            )
        except (KeyError, TypeError, ValueError):
            raise _unavailable("the project service answered with an unexpected body") from None


def _unavailable(detail: str) -> ProblemError:
    return ProblemError(503, detail, slug="project-service-unavailable", headers={"Retry-After": "5"})
