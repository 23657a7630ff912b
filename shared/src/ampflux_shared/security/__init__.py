"""Access-token verification from the auth service's JWKS, and the principal dependencies."""

from .jwks import JWKSVerifier, TokenError
from .principal import (
    CurrentPrincipal,
    OptionalPrincipal,
    Principal,
    current_principal,
    optional_principal,
    require_roles,
)
from .scopes import ALL_SCOPES, RESOURCES, public, require_scope, scoped, unscoped_routes

__all__ = [
    "ALL_SCOPES",
    "RESOURCES",
    "CurrentPrincipal",
    "JWKSVerifier",
    "OptionalPrincipal",
    "Principal",
    "TokenError",
    "current_principal",
    "optional_principal",
    "public",
    "require_roles",
    "require_scope",
    "scoped",
    "unscoped_routes",
]
