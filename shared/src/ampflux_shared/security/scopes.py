"""API-key scopes: `<resource>:<read|write|admin>`, checked by one dependency on every router.

A person signed in with a token may do what their roles allow; a request made with an API
key may in addition do only what the key's scopes name. `write` includes `read`, `admin`
includes both. Routers declare their resource once
(`APIRouter(dependencies=[scoped("projects")])`): safe methods need `<resource>:read`,
every other method `<resource>:write`, so a new route on the router cannot forget the check.
Routes that manage users or keys add `require_scope("users:admin")`.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request

from ..errors import ProblemError
from .principal import CurrentPrincipal, Principal

LEVELS = ("read", "write", "admin")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# The vocabulary: every resource a key can be scoped to, by the service that owns it.
RESOURCES = {
    "users": "auth: users, roles and API keys of the company",
    "projects": "project: projects, members, circuits and versions",
    "simulations": "simulation: study runs and results",
    "travelers": "traveler: purchase orders, travelers, steps, logs and reports",
    "ai": "ai: conversations, the assistant, files and pipelines",
}
ALL_SCOPES = tuple(f"{r}:{level}" for r in RESOURCES for level in LEVELS)


def scope_grants(held: frozenset[str], wanted: str) -> bool:
    """Whether the scopes `held` include `wanted` (`write` implies `read`, `admin` both)."""
    resource, _, level = wanted.partition(":")
    rank = LEVELS.index(level)
    return any(f"{resource}:{LEVELS[i]}" in held for i in range(rank, len(LEVELS)))


def check_scope(principal: Principal, wanted: str) -> None:
    if principal.api_key_id is None:  # a signed-in person: roles decide, scopes do not narrow
        return
    if not scope_grants(principal.scopes, wanted):
        raise ProblemError(
            403,
            f"this API key lacks the scope {wanted!r}",
            slug="insufficient-scope",
            required_scope=wanted,
        )


def scoped(resource: str) -> Any:
    """Router dependency: `<resource>:read` for safe methods, `<resource>:write` otherwise."""
    if resource not in RESOURCES:
        raise ValueError(f"unknown scope resource {resource!r}")

    async def check(request: Request, principal: CurrentPrincipal) -> Principal:
        level = "read" if request.method in SAFE_METHODS else "write"
        check_scope(principal, f"{resource}:{level}")
        return principal

    return Depends(check)


def require_scope(wanted: str) -> Any:
    """Route dependency for a scope beyond the router's (e.g. `users:admin`)."""

    async def check(principal: CurrentPrincipal) -> Principal:
        check_scope(principal, wanted)
        return principal

    return Depends(check)
