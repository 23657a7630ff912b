"""Verify access tokens locally against the auth service's published keys.

What is checked, and why:
- `alg` must be on an allow-list of asymmetric algorithms and match the key's own
  algorithm: this refuses `alg: none` and the HS256-signed-with-the-public-key trick.
- `kid` must be present and known; an unknown kid triggers one rate-limited refetch
  (keys rotate), otherwise the cached set is used. A failed refresh keeps the last good set.
- `exp`, `iat`, `iss`, `aud`, `sub` are required (PyJWT requires nothing by default).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import jwt

from ..tasks import cancel_and_wait

log = logging.getLogger("ampflux.security")

ALLOWED_ALGORITHMS = ("EdDSA", "RS256")
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]

KeySource = Callable[[], Awaitable[dict[str, Any]]]


class TokenError(Exception):
    """The token is not acceptable; the message is safe to show the client."""


class JWKSVerifier:
    def __init__(
        self,
        jwks_url: str | None = None,
        *,
        issuer: str,
        audience: str,
        key_source: KeySource | None = None,
        algorithms: tuple[str, ...] = ALLOWED_ALGORITHMS,
        leeway_s: float = 10.0,
        refresh_interval_s: float = 300.0,
        min_refetch_interval_s: float = 5.0,
        http_timeout_s: float = 3.0,
    ) -> None:
        if not jwks_url and key_source is None:
            raise ValueError("JWKSVerifier needs a jwks_url or a key_source")
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.algorithms = algorithms
        self.leeway_s = leeway_s
        self.refresh_interval_s = refresh_interval_s
        self.min_refetch_interval_s = min_refetch_interval_s
        self._key_source = key_source or self._fetch_over_http
        self._http_timeout_s = http_timeout_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._last_fetch = 0.0
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None

    async def _fetch_over_http(self) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=self._http_timeout_s) as client:
            assert self.jwks_url is not None  # the constructor wants one when there is no key_source
            resp = await client.get(self.jwks_url)
            resp.raise_for_status()
            return resp.json()

    @property
    def key_count(self) -> int:
        """How many verification keys are cached; with none, every token is refused."""
        return len(self._keys)

    async def refresh(self, *, force: bool = False) -> bool:
        """Refetch the key set; keeps the last good set if the auth service is unreachable."""
        async with self._lock:
            now = time.monotonic()
            if not force and now - self._last_fetch < self.min_refetch_interval_s:
                return False
            self._last_fetch = now
            try:
                data = await self._key_source()
                keys: dict[str, jwt.PyJWK] = {}
                for jwk in data.get("keys", []):
                    kid = jwk.get("kid")
                    alg = jwk.get("alg")
                    if not kid or alg not in self.algorithms:
                        continue
                    keys[kid] = jwt.PyJWK(jwk, algorithm=alg)
            except Exception as exc:  # network, JSON, malformed key: keep what we had
                log.warning("JWKS refresh failed, keeping %d cached keys: %s", len(self._keys), exc)
                return False
            self._keys = keys
            return True

    async def start(self) -> None:
        await self.refresh(force=True)
        self._task = asyncio.create_task(self._refresh_loop(), name="jwks-refresh")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_interval_s if self._keys else 2.0)
            await self.refresh(force=True)

    async def _key_for(self, kid: str) -> jwt.PyJWK:
        key = self._keys.get(kid)
        if key is None:
            await self.refresh()
            key = self._keys.get(kid)
        if key is None:
            raise TokenError("token signed with an unknown key")
        return key

    async def verify(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise TokenError("malformed token") from None
        alg = header.get("alg")
        kid = header.get("kid")
        if alg not in self.algorithms:
            raise TokenError("token algorithm not allowed")
        if not kid:
            raise TokenError("token has no key id")
        key = await self._key_for(kid)
        if key.algorithm_name != alg:
            raise TokenError("token algorithm does not match its key")
        try:
            return jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_s,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("token expired") from None
        except jwt.InvalidAudienceError:
            raise TokenError("token audience not accepted") from None
        except jwt.InvalidIssuerError:
            raise TokenError("token issuer not accepted") from None
        except jwt.InvalidTokenError as exc:
            raise TokenError(f"invalid token: {exc}") from None
