"""Settings of the auth service, read from `AUTH_*` environment variables."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from ampflux_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="AUTH_", env_file=".env", extra="ignore")

    service_name: str = "auth"
    port: int = 8001

    # Token lifetimes. Access tokens are short so that deactivation and role changes take
    # effect quickly without any revocation list in the verifiers.
    access_token_ttl_s: int = Field(default=15 * 60, ge=60, le=24 * 3600)
    refresh_token_ttl_s: int = Field(default=30 * 24 * 3600, ge=3600)
    # Tokens minted for an API key (the gateway re-checks the key every second or so and
    # never hands these out; short so one that leaks anyway dies soon after its key).
    api_key_token_ttl_s: int = Field(default=60, ge=30, le=3600)

    # Signing keys. Retired keys are those whose tokens have all expired (see README).
    # How long a process reuses its loaded signing key before looking for a rotated one.
    signing_key_cache_s: float = Field(default=30.0, ge=0)
    # Minimum spacing of key reloads triggered by an unknown `kid` (each one is a query).
    jwks_min_refetch_s: float = Field(default=1.0, ge=0)
    # Optional passphrase: when set, private keys are stored encrypted (PKCS#8) in the
    # database, so a leaked dump alone does not yield them.
    signing_key_passphrase: SecretStr | None = None
    # The same, read from a file (a mounted Kubernetes/Docker secret); wins over the above.
    # There is no key directory: the keys themselves live in the database (see README).
    signing_key_passphrase_file: Path | None = None

    # argon2id cost (RFC 9106 second recommendation). Raising it upgrades hashes on login.
    argon2_memory_kib: int = Field(default=64 * 1024, ge=8)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_parallelism: int = Field(default=4, ge=1)

    # Login throttling (domain/throttling.py): failures counted in a sliding window, per
    # account and address, per account from unknown addresses, and per address. Past its
    # free allowance each further attempt waits twice as long (1 s, 2 s, ...) up to
    # `login_max_backoff_s`; never a lockout, and never for the account's known clients
    # because of failures made elsewhere.
    login_window_s: int = Field(default=15 * 60, ge=1)
    login_max_failures_per_account: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=30, ge=1)
    login_max_backoff_s: int = Field(default=300, ge=1)
    # How long a successful login keeps its address known to the account.
    login_known_client_days: int = Field(default=90, ge=1)
    # Proxies in front of this service whose X-Forwarded-For entries are trusted (the
    # gateway counts as one). 0 trusts none and uses the peer address.
    trusted_proxy_count: int = Field(default=0, ge=0)
    # Peers allowed to set the client address that way (IPs or networks, comma-separated):
    # the gateway's addresses. A request from any other peer is counted under the peer's own
    # address, whatever X-Forwarded-For it sends. The default covers loopback and private
    # networks, where the platform's own gateway runs; narrow it to the gateway's network.
    trusted_proxy_addresses: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"]
    )

    # When set, X-Forwarded-For is believed only with this value in the gateway's
    # `X-AmpFlux-Forwarded-Secret` header (GATEWAY_FORWARDED_SECRET): other processes on a
    # trusted address (a shared host, `make run`) cannot choose their address either.
    trusted_proxy_secret: SecretStr | None = None

    @field_validator("trusted_proxy_addresses", mode="before")
    @classmethod
    def _networks(cls, v: object) -> object:
        if isinstance(v, str):
            text = v.strip()
            v = json.loads(text) if text.startswith("[") else [p.strip() for p in text.split(",") if p.strip()]
        if isinstance(v, list):
            for entry in v:
                ipaddress.ip_network(str(entry), strict=False)  # a typo fails at start-up
        return v

    def is_trusted_proxy(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(n, strict=False) for n in self.trusted_proxy_addresses)

    def key_passphrase(self) -> str | None:
        if self.signing_key_passphrase_file is not None:
            return self.signing_key_passphrase_file.read_text().strip() or None
        if self.signing_key_passphrase is not None:
            return self.signing_key_passphrase.get_secret_value() or None
        return None
