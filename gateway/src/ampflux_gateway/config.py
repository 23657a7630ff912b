"""Gateway settings (env prefix `GATEWAY_`) and where the route table comes from.

Route table, first one set wins:
1. `GATEWAY_ROUTES`: a JSON list of route entries (see `routes.RouteEntry`);
2. `GATEWAY_ROUTES_FILE`: path to a JSON file holding that list;
3. the built-in table in `routes.DEFAULT_ROUTES` (every service on its embedded port).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, TypeAdapter, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from ampflux_shared.settings import ServiceSettings

from .routes import DEFAULT_ROUTES, RouteEntry, RouteTable

MIB = 1024 * 1024


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", env_file=".env", extra="ignore")

    service_name: str = "gateway"
    port: int = 8000

    routes: Annotated[list[dict[str, Any]] | None, NoDecode] = None
    routes_file: Path | None = None

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # The services' own limit on a request body (ampflux_shared.circuit.limits.MAX_DOCUMENT_BYTES,
    # 16 MiB; a 20,000-bus circuit document is a few MiB), kept equal by a test: a body between
    # the two went up to a service that refused it before reading it and closed, and the 413 it
    # sent was lost to the connection's reset (a 502). Uploads have route limits of their own.
    max_body_bytes: int = Field(default=16 * MIB, gt=0)
    # How many proxies in front of the gateway append to X-Forwarded-For (0: none, use the peer).
    trusted_proxies: int = Field(default=0, ge=0)
    # Sent to every upstream as `X-AmpFlux-Forwarded-Secret`, so a service that shares it
    # (AUTH_TRUSTED_PROXY_SECRET) believes X-Forwarded-For from this gateway and nobody else.
    forwarded_secret: SecretStr | None = None

    # Set to share rate-limit budgets between gateway replicas; empty keeps them in-process.
    redis_url: str = Field(default="", validation_alias=AliasChoices("GATEWAY_REDIS_URL", "REDIS_URL"))
    ratelimit_prefix: str = "ampflux:ratelimit:"

    # The route-table service that answers `/auth/api-keys/exchange`.
    auth_service: str = "auth"
    # How long an exchanged API key is reused before the key is checked again: a revoked or
    # expired key stops working within this time (one cheap exchange per key and second).
    api_key_cache_ttl_s: float = Field(default=1.0, ge=0, le=60)

    # How long a verified access token skips re-verification (bounded by its `exp`); 0 = never.
    verified_token_cache_s: float = Field(default=30.0, ge=0)

    probe_interval_s: float = Field(default=10.0, ge=0)
    probe_timeout_s: float = Field(default=2.0, gt=0)
    # Failed `/health` probes in a row before an instance is taken out (a refused connection
    # on a real request still takes it out at once).
    probe_failure_threshold: int = Field(default=2, ge=1, le=20)
    connect_timeout_s: float = Field(default=3.0, gt=0)
    # "lean": the gateway's own keep-alive HTTP/1.1 transport (transport.py); "httpx": httpx's
    # default one (httpcore), kept as a fallback and for comparison in the benchmark.
    http_transport: Literal["lean", "httpx"] = "lean"
    # Connections per upstream instance; keep-alive shorter than uvicorn's 5 s so the gateway, not
    # the upstream, closes idle connections (avoids racing a half-closed socket).
    max_connections: int = Field(default=1000, gt=0)
    max_keepalive_connections: int = Field(default=200, ge=0)
    keepalive_expiry_s: float = Field(default=4.0, ge=0)

    # Public base URL put in the OpenAPI `servers` of each service; empty means "/" (same origin).
    public_url: str = ""

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = v.strip()
            if v.startswith("["):
                return json.loads(v)
            return [o.strip() for o in v.split(",") if o.strip()]
        return v

    @field_validator("routes", mode="before")
    @classmethod
    def _routes(cls, v: Any) -> Any:
        if isinstance(v, str):
            return json.loads(v) if v.strip() else None
        return v


_ENTRIES = TypeAdapter(list[RouteEntry])


def load_route_table(settings: Settings) -> RouteTable:
    if settings.routes is not None:
        raw: Any = settings.routes
    elif settings.routes_file is not None:
        raw = json.loads(settings.routes_file.read_text())
    else:
        raw = DEFAULT_ROUTES
    return RouteTable(_ENTRIES.validate_python(raw))
