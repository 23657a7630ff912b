"""Health, readiness, metrics, OpenAPI, and the migration entry point."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import create_engine, inspect


async def test_health_ready_and_metrics(lite):
    assert (await lite.client.get("/health")).json() == {"status": "ok"}
    assert (await lite.client.get("/ready")).status_code == 200
    await lite.register()
    await lite.login()
    await lite.client.post("/auth/login", json={"email": "ada@example.com", "password": "wrong wrong"})
    text = (await lite.client.get("/metrics")).text
    assert 'ampflux_auth_logins_total{outcome="success"} 1.0' in text
    assert 'ampflux_auth_logins_total{outcome="invalid_credentials"} 1.0' in text
    assert 'ampflux_auth_tokens_issued_total{grant="password"} 1.0' in text
    assert 'http_route="/auth/login"' in text


async def test_openapi_documents_both_login_bodies_and_examples(lite):
    spec = (await lite.client.get("/openapi.json")).json()
    content = spec["paths"]["/auth/login"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", "application/x-www-form-urlencoded"}
    assert spec["components"]["schemas"]["RegistrationCreate"]["examples"]
    assert "/.well-known/jwks.json" in spec["paths"]
    assert (
        spec["components"]["securitySchemes"]["OAuth2PasswordBearer"]["flows"]["password"]["tokenUrl"] == "/auth/login"
    )


def test_migrate_command_builds_the_schema(tmp_path):
    db = tmp_path / "migrated.db"
    env = {**os.environ, "AUTH_DATABASE_URL": f"sqlite:///{db}"}
    out = subprocess.run(
        [sys.executable, "-m", "ampflux_auth.migrate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    tables = set(inspect(create_engine(f"sqlite:///{db}")).get_table_names())
    assert {
        "users",
        "companies",
        "refresh_tokens",
        "api_keys",
        "signing_keys",
        "outbox_events",
        "alembic_version_auth",
    } <= tables
