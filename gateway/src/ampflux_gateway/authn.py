"""Who is calling: a bearer JWT verified locally, or an API key exchanged with auth.

A protected route with no credential, or a bad one, is refused here with a 401 problem
before any upstream is called. API keys are exchanged at the auth service for a short-lived
token that is forwarded instead; the exchange is cached briefly under a keyed hash of the
key, so the raw key is never kept in memory longer than the request.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from cachetools import TLRUCache

from ampflux_shared.errors import bad_gateway, unauthorized, unavailable
from ampflux_shared.security import JWKSVerifier, TokenError

from .metrics import GatewayMetrics
from .routes import path_matches
from .upstreams import UpstreamRegistry

log = logging.getLogger("ampflux.gateway.authn")

EXCHANGE_PATH = "/auth/api-keys/exchange"


@dataclass(frozen=True, slots=True)
class Identity:
    kind: Literal["token", "api_key", "anonymous"]
    subject: str | None = None
    api_key_id: str | None = None
    # A token minted for an API key, to forward as `Authorization: Bearer`.
    minted_token: str | None = None


ANONYMOUS = Identity("anonymous")


@dataclass(slots=True)
class _Exchanged:
    token: str
    api_key_id: str
    subject: str | None
    expires_at: float


class ApiKeyExchanger:
    def __init__(
        self,
        registry: UpstreamRegistry,
        auth_service: str,
        metrics: GatewayMetrics,
        *,
        cache_ttl_s: float,
        timeout_s: float = 5.0,
        max_entries: int = 10_000,
    ) -> None:
        self._registry = registry
        self._auth_service = auth_service
        self._metrics = metrics
        self._ttl = cache_ttl_s
        self._timeout = timeout_s
        # Each exchange lives until its own `expires_at` (monotonic); least recently used out when full.
        self._cache: TLRUCache[bytes, _Exchanged] = TLRUCache(
            maxsize=max_entries, ttu=lambda _key, value, _now: value.expires_at, timer=time.monotonic
        )
        # Concurrent first calls with one key share a single exchange.
        self._inflight: dict[bytes, asyncio.Future[_Exchanged]] = {}
        # Keyed hash: cache keys are useless outside this process.
        self._pepper = secrets.token_bytes(32)
        self.client: httpx.AsyncClient | None = None

    def _cache_key(self, raw_key: str) -> bytes:
        return hashlib.blake2b(raw_key.encode(), key=self._pepper, digest_size=32).digest()

    async def exchange(self, raw_key: str, request_id: str | None) -> _Exchanged:
        ck = self._cache_key(raw_key)
        hit = self._cache.get(ck)
        if hit is not None:
            self._metrics.api_key_exchanges.labels("cached").inc()
            return hit
        pending = self._inflight.get(ck)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[_Exchanged] = asyncio.get_running_loop().create_future()
        self._inflight[ck] = future
        try:
            result = await self._call_auth(raw_key, request_id)
            future.set_result(result)
            self._store(ck, result)
            return result
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: nobody else may be waiting
            raise
        finally:
            del self._inflight[ck]

    def _store(self, ck: bytes, result: _Exchanged) -> None:
        if result.expires_at > time.monotonic():
            self._cache[ck] = result

    async def _call_auth(self, raw_key: str, request_id: str | None) -> _Exchanged:
        pool = self._registry.pool(self._auth_service)
        inst = pool.pick() if pool else None
        if pool is None or inst is None or self.client is None:
            self._metrics.api_key_exchanges.labels("error").inc()
            raise unavailable("the auth service is unavailable to check the API key", slug="auth-unavailable")
        headers = {"X-API-Key": raw_key}
        if request_id:
            headers["X-Request-ID"] = request_id
        try:
            resp = await self.client.post(f"{inst.base_url}{EXCHANGE_PATH}", headers=headers, timeout=self._timeout)
        except httpx.HTTPError as exc:
            if isinstance(exc, httpx.ConnectError):
                pool.mark(inst, False, "connection refused")
            self._metrics.api_key_exchanges.labels("error").inc()
            raise unavailable(
                f"the auth service could not check the API key ({type(exc).__name__})", slug="auth-unavailable"
            ) from None
        if resp.status_code in (400, 401, 403, 404, 422):
            self._metrics.api_key_exchanges.labels("rejected").inc()
            raise unauthorized("API key not accepted", slug="invalid-api-key")
        if resp.status_code != 200:
            self._metrics.api_key_exchanges.labels("error").inc()
            raise unavailable(
                f"the auth service answered {resp.status_code} to the API-key check", slug="auth-unavailable"
            )
        try:
            data = resp.json()
            token = str(data["access_token"])
            expires_in = float(data.get("expires_in") or 0)
            key_id = str(data["api_key_id"])
        except (ValueError, KeyError, TypeError):
            self._metrics.api_key_exchanges.labels("error").inc()
            raise bad_gateway("the auth service gave an unreadable API-key answer", slug="bad-gateway") from None
        self._metrics.api_key_exchanges.labels("exchanged").inc()
        # Never serve a token from cache in its last 30 s: upstreams must still accept it.
        ttl = min(self._ttl, expires_in - 30) if expires_in else 0
        return _Exchanged(token, key_id, data.get("sub"), time.monotonic() + ttl)


class VerifiedTokens:
    """Tokens that passed verification, so a client's next requests skip the signature check.

    Kept for at most `ttl_s` (a key withdrawn from the JWKS stops being honoured within that
    time) and never past the token's own `exp`. Keyed by a digest, bounded in size.
    """

    def __init__(self, ttl_s: float = 30.0, max_entries: int = 50_000) -> None:
        self._ttl = ttl_s
        # Values are (claims, exp); each entry expires at now + ttl or at the token's `exp`
        # (wall clock, converted), whichever comes first.
        self._entries: TLRUCache[bytes, tuple[dict[str, Any], float]] = TLRUCache(
            maxsize=max_entries, ttu=self._expiry, timer=time.monotonic
        )

    def _expiry(self, _key: bytes, value: tuple[dict[str, Any], float], now: float) -> float:
        return now + min(self._ttl, value[1] - time.time())

    @staticmethod
    def _key(token: str) -> bytes:
        return hashlib.blake2b(token.encode(), digest_size=24).digest()

    def get(self, token: str) -> dict[str, Any] | None:
        entry = self._entries.get(self._key(token))
        return entry[0] if entry is not None else None

    def put(self, token: str, claims: dict[str, Any]) -> None:
        if self._ttl <= 0 or float(claims["exp"]) <= time.time():
            return
        self._entries[self._key(token)] = (claims, float(claims["exp"]))


class Authenticator:
    def __init__(self, verifier: JWKSVerifier, exchanger: ApiKeyExchanger, verified_ttl_s: float = 30.0) -> None:
        self.verifier = verifier
        self.exchanger = exchanger
        self.verified = VerifiedTokens(verified_ttl_s)

    async def verify(self, token: str) -> dict[str, Any]:
        claims = self.verified.get(token)
        if claims is None:
            claims = await self.verifier.verify(token)
            self.verified.put(token, claims)
        return claims

    async def authenticate(
        self, bearer: str | None, api_key: str | None, *, public: bool, request_id: str | None
    ) -> Identity:
        """The caller's identity; raises a 401 problem on a protected path without a good one.

        On a public path a bad or missing credential is not an error: the caller is
        anonymous, and the upstream still sees the original header and decides for itself.
        """
        if bearer is not None:
            try:
                claims = await self.verify(bearer)
            except TokenError as exc:
                if public:
                    return ANONYMOUS
                raise unauthorized(str(exc), slug="invalid-token") from None
            return Identity("token", subject=str(claims.get("sub")), api_key_id=claims.get("api_key_id"))
        if api_key is not None and not public:
            ex = await self.exchanger.exchange(api_key, request_id)
            return Identity("api_key", subject=ex.subject, api_key_id=ex.api_key_id, minted_token=ex.token)
        if public:
            return ANONYMOUS
        raise unauthorized("Authentication required: send a bearer token or an X-API-Key header")


# OpenAI SDKs send their key as `Authorization: Bearer <key>`. Under these prefixes only, a
# bearer value shaped like a platform API key is taken as one (and exchanged like X-API-Key).
API_KEY_BEARER_PREFIXES = ("/ai/v1",)
API_KEY_PREFIX = "afx_"


def api_key_in_bearer(bearer: str | None, path: str) -> bool:
    return (
        bearer is not None
        and bearer.startswith(API_KEY_PREFIX)
        and any(path_matches(prefix, path) for prefix in API_KEY_BEARER_PREFIXES)
    )


def parse_bearer(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ""  # present but not a bearer token: treated as a bad credential
    return token.strip()
