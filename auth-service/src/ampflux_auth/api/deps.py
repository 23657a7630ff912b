"""Typed dependencies the routers share."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Request

from ampflux_shared.deps import DatabaseDep, SessionDep  # noqa: F401  (re-exported for the routers)
from ampflux_shared.errors import forbidden, unauthorized
from ampflux_shared.security import CurrentPrincipal, Principal

from ..config import Settings
from ..domain import api_keys
from ..domain.passwords import PasswordHasher
from ..domain.signing_keys import KeyRing
from ..domain.users import Role
from ..metrics import AuthMetrics
from ..models import User


def problem(description: str) -> dict[str, Any]:
    """An OpenAPI response entry for an error answered as problem+json."""
    return {"description": description, "content": {"application/problem+json": {}}}


async def _settings(request: Request) -> Settings:
    return request.app.state.settings


async def _hasher(request: Request) -> PasswordHasher:
    return request.app.state.hasher


async def _keyring(request: Request) -> KeyRing:
    return request.app.state.keyring


async def _metrics(request: Request) -> AuthMetrics:
    return request.app.state.auth_metrics


SettingsDep = Annotated[Settings, Depends(_settings)]
HasherDep = Annotated[PasswordHasher, Depends(_hasher)]
KeyRingDep = Annotated[KeyRing, Depends(_keyring)]
MetricsDep = Annotated[AuthMetrics, Depends(_metrics)]


async def _current_user(principal: CurrentPrincipal, session: SessionDep) -> User:
    """The caller's user row. A token outlives a deactivation by at most its TTL elsewhere,
    but here, where the row is at hand, a deactivated user is refused at once."""
    user = await session.get(User, principal.user_id)
    if user is None or not user.is_active or user.company_id != principal.company_id:
        raise unauthorized("This account is not active.", slug="invalid-token")
    if principal.api_key_id is not None and not await api_keys.key_is_live(session, principal.api_key_id):
        # The same at once for a token minted for a key revoked or expired since.
        raise unauthorized("The API key is not valid.", slug="invalid-api-key", scheme="ApiKey")
    return user


CurrentUser = Annotated[User, Depends(_current_user)]


async def _admin(principal: CurrentPrincipal, user: CurrentUser) -> Principal:
    """The caller must be an admin now: the token's roles may be minutes old, the row is not,
    so a demoted admin loses user management here at once."""
    if Role.ADMIN not in user.roles:
        raise forbidden("requires the admin role")
    return principal


AdminPrincipal = Annotated[Principal, Depends(_admin)]


async def _interactive_user(principal: CurrentPrincipal, user: CurrentUser) -> User:
    """Credentials (password, email, API keys) are managed by a person who logged in, not
    by a script holding an API key: a leaked key must not be able to mint more of itself."""
    if principal.api_key_id is not None:
        raise forbidden("This needs a login session, not an API key.", slug="api-key-not-allowed")
    return user


InteractiveUser = Annotated[User, Depends(_interactive_user)]


def client_address(request: Request, settings: Settings) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy (the gateway),
    the entry `trusted_proxy_count` hops back in X-Forwarded-For (entries further left are
    whatever the client chose to send)."""
    peer = request.client.host if request.client else "unknown"
    if settings.trusted_proxy_count <= 0 or not settings.is_trusted_proxy(peer):
        # Only the platform's own proxies may speak for the client; anyone else is the peer.
        return peer
    if settings.trusted_proxy_secret is not None:
        expected = settings.trusted_proxy_secret.get_secret_value().encode()
        given = request.headers.get("x-ampflux-forwarded-secret", "").encode()
        if not hmac.compare_digest(given, expected):
            return peer
    hops = [h.strip() for h in ",".join(request.headers.getlist("x-forwarded-for")).split(",") if h.strip()]
    if len(hops) >= settings.trusted_proxy_count:
        return hops[-settings.trusted_proxy_count]
    return peer
