"""Tokens for tests: a throw-away Ed25519 key that a service's verifier is told to trust.

Every service's tests act as users (or API keys) of a company without running the auth
service; one signer per test session stands in for auth's real one. The claims match what
auth-service mints, so a service under test cannot tell the difference.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ampflux_shared.security import JWKSVerifier

ISSUER = "ampflux-auth"
AUDIENCE = "ampflux"


def token_claims(
    user_id: uuid.UUID | str,
    company_id: uuid.UUID | str,
    roles: Iterable[str],
    ttl_s: int = 300,
    scopes: Iterable[str] | None = None,
    **extra_claims: Any,
) -> dict[str, Any]:
    """The claims auth puts in a token; `extra_claims` go in last, so they override any of them."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user_id),
        "company_id": str(company_id),
        "roles": list(roles),
        "iat": now,
        "exp": now + ttl_s,
        "jti": uuid.uuid4().hex,
    }
    if scopes is not None:
        claims.update(api_key_id=str(uuid.uuid4()), scope=" ".join(scopes))
    claims.update(extra_claims)
    return claims


class TestSigner:
    """Signs tokens with its own key; `.verifier()` and `.jwks()` trust exactly that key."""

    __test__ = False  # a helper, not a test class, despite its name

    def __init__(self, kid: str = "test-key") -> None:
        self.kid = kid
        self.private_key = Ed25519PrivateKey.generate()
        public = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(self.private_key.public_key()))
        self._jwk: dict[str, Any] = {**public, "kid": kid, "alg": "EdDSA", "use": "sig"}

    def jwks(self) -> dict[str, Any]:
        """The key set auth would publish at /.well-known/jwks.json (a fresh copy each call)."""
        return {"keys": [dict(self._jwk)]}

    def verifier(self) -> JWKSVerifier:
        async def source() -> dict[str, Any]:
            return self.jwks()

        return JWKSVerifier(issuer=ISSUER, audience=AUDIENCE, key_source=source)

    def claims(
        self,
        user_id: uuid.UUID | str,
        company_id: uuid.UUID | str,
        roles: Iterable[str],
        ttl_s: int = 300,
        scopes: Iterable[str] | None = None,
        **extra_claims: Any,
    ) -> dict[str, Any]:
        return token_claims(user_id, company_id, roles, ttl_s, scopes, **extra_claims)

    def encode(
        self, claims: dict[str, Any], *, key: Ed25519PrivateKey | None = None, headers: dict[str, Any] | None = None
    ) -> str:
        """`claims` signed with this signer's key (or a forger's `key`); `headers` override the JWT header."""
        return jwt.encode(
            claims, key or self.private_key, algorithm="EdDSA", headers={"kid": self.kid, **(headers or {})}
        )

    def sign(
        self,
        user_id: uuid.UUID | str,
        company_id: uuid.UUID | str,
        roles: Iterable[str],
        ttl_s: int = 300,
        scopes: Iterable[str] | None = None,
        **extra_claims: Any,
    ) -> str:
        """A user's token; with `scopes`, one minted for an API key with those scopes."""
        return self.encode(self.claims(user_id, company_id, roles, ttl_s, scopes, **extra_claims))
