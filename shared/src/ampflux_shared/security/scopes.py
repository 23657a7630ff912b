"""API-key scopes: `<resource>:<read|write|admin>`, checked by one dependency on every router.

A person signed in with a token may do what their roles allow; a request made with an API
key may in addition do only what the key's scopes name. `write` includes `read`, `admin`
includes both. Routers declare their resource once
(`APIRouter(dependencies=[scoped("projects")])`): safe methods need `<resource>:read`,
every other method `<resource>:write`, so a new route on the router cannot forget the check.
Routes that manage users or keys add `require_scope("users:admin")`. Routes anyone may call
without a token (login, the JWKS) say so with `public()`.

`unscoped_routes(app)` lists the routes that declare none of these; a test per service (and
one over every service app) keeps that list empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from ..errors import forbidden
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

# The most a key created by someone with a company role may carry: a key never does more
# than its creator could. Every role reads everything it can see (what it sees is still
# decided by its roles and project memberships); writing needs a role that writes there;
# only admins may hold `users:write` or any `:admin` scope.
_READ_ALL = frozenset(f"{r}:read" for r in RESOURCES)
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset(ALL_SCOPES),
    "engineer": _READ_ALL | {"projects:write", "simulations:write", "travelers:write", "ai:write"},
    "manager": _READ_ALL | {"projects:write", "simulations:write", "travelers:write", "ai:write"},
    "operator": _READ_ALL | {"travelers:write", "ai:write"},
    "quality": _READ_ALL | {"travelers:write", "ai:write"},
    "purchasing": _READ_ALL | {"travelers:write", "ai:write"},
    "assembly": _READ_ALL | {"travelers:write", "ai:write"},
    "viewer": _READ_ALL,
}

# Marks a dependency callable as a scope declaration, for `unscoped_routes`.
_MARK = "__ampflux_scope__"


def scope_grants(held: Iterable[str], wanted: str) -> bool:
    """Whether the scopes `held` include `wanted` (`write` implies `read`, `admin` both)."""
    held = frozenset(held)
    resource, _, level = wanted.partition(":")
    rank = LEVELS.index(level)
    return any(f"{resource}:{LEVELS[i]}" in held for i in range(rank, len(LEVELS)))


def max_scopes_for_roles(roles: Iterable[str]) -> frozenset[str]:
    """Every scope a key of someone with `roles` may carry (unknown roles grant nothing)."""
    out: set[str] = set()
    for role in roles:
        out |= ROLE_SCOPES.get(role, frozenset())
    return frozenset(out)


def scopes_beyond_roles(scopes: Iterable[str], roles: Iterable[str]) -> list[str]:
    """The requested scopes the roles do not grant, in the order asked."""
    allowed = max_scopes_for_roles(roles)
    return [s for s in scopes if not scope_grants(allowed, s)]


def unknown_scopes(scopes: Iterable[str]) -> list[str]:
    return [s for s in scopes if s not in ALL_SCOPES]


def check_scope(principal: Principal, wanted: str) -> None:
    if principal.api_key_id is None:  # a signed-in person: roles decide, scopes do not narrow
        return
    if not scope_grants(principal.scopes, wanted):
        raise forbidden(
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

    setattr(check, _MARK, f"{resource}:*")
    return Depends(check)


def require_scope(wanted: str) -> Any:
    """Route dependency for a scope beyond the router's (e.g. `users:admin`)."""
    if wanted not in ALL_SCOPES:
        raise ValueError(f"unknown scope {wanted!r}")

    async def check(principal: CurrentPrincipal) -> Principal:
        check_scope(principal, wanted)
        return principal

    setattr(check, _MARK, wanted)
    return Depends(check)


def public() -> Any:
    """Router dependency for routes any caller may use without a token (login, JWKS): it
    checks nothing, and says the missing scope is on purpose."""

    async def anyone() -> None:
        return None

    setattr(anyone, _MARK, "public")
    return Depends(anyone)


def _declares_scope(dependant: Dependant) -> bool:
    stack = [dependant]
    while stack:
        d = stack.pop()
        if d.call is not None and hasattr(d.call, _MARK):
            return True
        stack.extend(d.dependencies)
    return False


# Routes every service gets from `create_service_app` (probes, metrics, docs): no principal.
OPERATIONAL_PATHS = frozenset(
    {"/health", "/ready", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
)


def api_routes(app: FastAPI) -> list[tuple[str, str, Dependant]]:
    """(method, path, dependant) of every API route of `app` as served (routers included),
    probes, metrics and docs left out."""
    out: list[tuple[str, str, Dependant]] = []
    for rc in iter_route_contexts(app.routes):
        if not isinstance(rc.original_route, APIRoute) or rc.path in OPERATIONAL_PATHS:
            continue
        out.extend((method, str(rc.path), rc.dependant) for method in sorted(rc.methods or ()))
    return out


def unscoped_routes(app: FastAPI) -> list[str]:
    """`METHOD path` of each API route of `app` that declares no scope and is not public."""
    return [f"{method} {path}" for method, path, dependant in api_routes(app) if not _declares_scope(dependant)]
