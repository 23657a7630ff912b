"""Who is calling: FastAPI dependencies every service uses for authentication and roles."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from ..errors import forbidden, unauthorized
from .jwks import JWKSVerifier, TokenError

# tokenUrl is relative so Swagger's Authorize button works both directly and through the
# gateway (where every service's docs sit under the same origin and /auth/login exists).
bearer_scheme = OAuth2PasswordBearer(tokenUrl="/auth/login", auto_error=False)


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    company_id: uuid.UUID
    roles: frozenset[str]
    token_id: str | None = None
    # Set when the request came in with an API key (the gateway exchanges it for a token).
    api_key_id: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        try:
            return cls(
                user_id=uuid.UUID(str(claims["sub"])),
                company_id=uuid.UUID(str(claims["company_id"])),
                roles=frozenset(claims.get("roles") or ()),
                token_id=claims.get("jti"),
                api_key_id=claims.get("api_key_id"),
                scopes=frozenset((claims.get("scope") or "").split()),
                claims=claims,
            )
        except (KeyError, ValueError):
            raise TokenError("token lacks subject or company") from None


def _verifier(request: Request) -> JWKSVerifier:
    return request.app.state.verifier


async def optional_principal(
    request: Request, token: Annotated[str | None, Depends(bearer_scheme)]
) -> Principal | None:
    if not token:
        return None
    try:
        claims = await _verifier(request).verify(token)
        principal = Principal.from_claims(claims)
    except TokenError as exc:
        raise unauthorized(str(exc), slug="invalid-token") from None
    request.state.principal = principal
    return principal


async def current_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise unauthorized()
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]


def require_roles(*roles: str):
    """Dependency: the caller must hold at least one of `roles`."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.has_role(*roles):
            raise forbidden(f"requires one of the roles: {', '.join(roles)}")
        return principal

    return Depends(check)
