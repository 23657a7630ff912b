"""The auth service app: `create_app()` for tests and the launcher, `run()` for the script."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI

from ampflux_shared.app import ServiceSpec, create_service_app, serve
from ampflux_shared.security import JWKSVerifier
from ampflux_shared.settings import DEV_ENVIRONMENTS

from .api import api_keys, auth, keys, users
from .config import Settings
from .domain.passwords import PasswordHasher
from .domain.signing_keys import KeyRing
from .metrics import AuthMetrics
from .models import Base, event_tables

# Inside the package, like every service's, so a built wheel (the container image) carries it.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version_auth"

log = logging.getLogger("ampflux.auth")

DESCRIPTION = """Companies, users and roles; login, refresh and logout; API keys; and the
public keys (`/.well-known/jwks.json`) every other service verifies access tokens with."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    passphrase = settings.key_passphrase()

    async def key_source() -> dict:
        # This service verifies its own tokens from its own table: no HTTP call to itself.
        return await app.state.keyring.jwks()

    verifier = JWKSVerifier(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        key_source=key_source,
        min_refetch_interval_s=settings.jwks_min_refetch_s,
    )

    async def start_keys(app: FastAPI) -> None:
        app.state.hasher = PasswordHasher(
            memory_kib=settings.argon2_memory_kib,
            time_cost=settings.argon2_time_cost,
            parallelism=settings.argon2_parallelism,
        )
        if passphrase is None and settings.environment not in DEV_ENVIRONMENTS:
            log.warning("AUTH_SIGNING_KEY_PASSPHRASE is not set: signing keys are stored unencrypted")
        app.state.keyring = KeyRing(app.state.db, passphrase=passphrase, cache_s=settings.signing_key_cache_s)
        await app.state.keyring.ensure()

    app = create_service_app(
        ServiceSpec(
            title="AmpFlux auth",
            description=DESCRIPTION,
            settings=settings,
            routers=[auth.router, auth.me_router, users.router, api_keys.exchange_router, api_keys.router, keys.router],
            metadata=Base.metadata,
            migrations_dir=MIGRATIONS_DIR,
            event_tables=event_tables,
            verifier=verifier,
            on_startup=[start_keys],
        )
    )
    app.state.auth_metrics = AuthMetrics(app.state.metrics)
    return app


def run() -> None:
    settings = Settings()
    serve(create_app(settings), settings)
