"""The gateway's parts wired together, started and stopped with the app."""

from __future__ import annotations

import logging
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import TYPE_CHECKING

import httpx
from fastapi import FastAPI
from starlette.types import Scope

from ampflux_shared.observability import ServiceMetrics

from .authn import ApiKeyExchanger, Authenticator, Identity
from .config import Settings
from .metrics import GatewayMetrics
from .proxy import HttpProxy
from .ratelimit import RateLimiter
from .routes import RateLimitSpec, RouteTable
from .transport import UpstreamTransport
from .upstreams import UpstreamRegistry

if TYPE_CHECKING:
    from .ratelimit.redis_bucket import RedisBuckets

log = logging.getLogger("ampflux.gateway")


class Gateway:
    def __init__(self, settings: Settings, table: RouteTable, metrics: ServiceMetrics) -> None:
        self.settings = settings
        secret = settings.forwarded_secret.get_secret_value() if settings.forwarded_secret else ""
        self.forwarded_secret: bytes | None = secret.encode() if secret else None
        self.table = table
        self.metrics = GatewayMetrics(metrics)
        self.registry = UpstreamRegistry(
            table.services, self.metrics, settings.probe_interval_s or 10.0, settings.probe_failure_threshold
        )
        self.proxy = HttpProxy(self.metrics, settings.connect_timeout_s)
        self._redis: RedisBuckets | None = None
        if settings.redis_url:
            # Imported only when configured: the Redis client adds a noticeable share to start-up.
            from .ratelimit.redis_bucket import RedisBuckets

            self._redis = RedisBuckets(settings.redis_url, settings.ratelimit_prefix)
        self.limiter = RateLimiter(self.metrics, self._redis)
        self.exchanger = ApiKeyExchanger(
            self.registry, settings.auth_service, self.metrics, cache_ttl_s=settings.api_key_cache_ttl_s
        )
        self.authn: Authenticator  # needs the verifier the app factory creates at start-up
        self.client: httpx.AsyncClient | None = None

    async def start(self, app: FastAPI) -> None:
        s = self.settings
        transport = self._transport()
        self.client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(30.0, connect=s.connect_timeout_s),
            follow_redirects=False,
            trust_env=False,
            # Upstream cookies belong to the client; the shared client must never keep them.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
        )
        self.proxy.transport = transport
        self.exchanger.client = self.client
        self.authn = Authenticator(app.state.verifier, self.exchanger, s.verified_token_cache_s)
        self.registry.start(self.client, s.probe_interval_s, s.probe_timeout_s)

    def _transport(self) -> httpx.AsyncBaseTransport:
        s = self.settings
        if s.http_transport == "httpx":
            limits = httpx.Limits(
                max_connections=s.max_connections,
                max_keepalive_connections=s.max_keepalive_connections,
                keepalive_expiry=s.keepalive_expiry_s,
            )
            return httpx.AsyncHTTPTransport(limits=limits)
        return UpstreamTransport(
            max_connections_per_origin=s.max_connections,
            max_idle_per_origin=s.max_keepalive_connections,
            keepalive_expiry_s=s.keepalive_expiry_s,
        )

    async def stop(self, app: FastAPI) -> None:
        await self.registry.stop()
        if self.client is not None:
            await self.client.aclose()
        if self._redis is not None:
            await self._redis.close()

    def client_ip(self, scope: Scope) -> str:
        """The caller's address, looking past the configured number of trusted proxies."""
        peer = scope["client"][0] if scope.get("client") else "unknown"
        hops = self.settings.trusted_proxies
        if not hops:
            return peer
        chain: list[str] = []
        for k, v in scope["headers"]:
            if k == b"x-forwarded-for":
                chain.extend(p.strip() for p in v.decode("latin-1").split(",") if p.strip())
        if not chain:
            return peer
        # Each trusted proxy appended the address it saw; the client is `hops` from the end.
        return chain[-hops] if len(chain) >= hops else chain[0]

    def limiter_identity(self, spec: RateLimitSpec, identity: Identity, scope: Scope) -> str:
        if spec.key == "identity":
            if identity.kind == "token" and identity.subject:
                return "sub:" + identity.subject
            if identity.api_key_id:
                return "key:" + identity.api_key_id
        return "ip:" + self.client_ip(scope)
