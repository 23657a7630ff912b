"""Walk every route of a service with one credential and record what each answered.

Scope tests use it to show that a read-only API key is refused (403 `insufficient-scope`)
on every route that writes, and gets past the scope check on every route that reads.
Path parameters are filled with ids that exist nowhere (or `ids` given by the test), and
bodies are empty: the scope check runs before any of that is looked at.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from ampflux_shared.security.scopes import SAFE_METHODS, api_routes

_PARAM = re.compile(r"\{([^}:]+)(:[^}]*)?\}")


@dataclass(frozen=True)
class Answer:
    method: str
    path: str
    status: int
    slug: str

    @property
    def writes(self) -> bool:
        return self.method not in SAFE_METHODS

    @property
    def scope_refused(self) -> bool:
        return self.status == 403 and self.slug == "insufficient-scope"


def routes_of(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every API route, probes and docs left out."""
    return [(method, path) for method, path, _ in api_routes(app) if method != "HEAD"]


def fill(template: str, ids: dict[str, str] | None = None) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if ids and name in ids:
            return ids[name]
        return "1" if name in ("number", "version") else str(uuid.uuid4())

    return _PARAM.sub(value, template)


async def walk(
    client: httpx.AsyncClient,
    app: FastAPI,
    headers: dict[str, str],
    *,
    ids: dict[str, str] | None = None,
    skip: tuple[str, ...] = (),
) -> list[Answer]:
    """One request per route with `headers`; `skip` names `METHOD path` templates to leave out
    (e.g. a stream that would not end)."""
    answers = []
    for method, template in routes_of(app):
        if f"{method} {template}" in skip:
            continue
        kwargs: dict = {"headers": headers}
        if method not in SAFE_METHODS:
            kwargs["json"] = {}
        r = await client.request(method, fill(template, ids), **kwargs)
        slug = ""
        if r.headers.get("content-type", "").startswith("application/problem+json"):
            slug = str(r.json().get("type", "")).rsplit("/", 1)[-1]
        answers.append(Answer(method, template, r.status_code, slug))
    return answers
