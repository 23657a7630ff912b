"""Settings base every service's `Settings` derives from.

Each service sets its own `env_prefix` (``AUTH_``, ``GATEWAY_``...) so that in the embedded
mode, where every service runs in one process, each still reads its own database URL.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .circuit.limits import MAX_DOCUMENT_BYTES

DEV_ENVIRONMENTS = {"local", "test"}


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    service_name: str = "service"
    environment: str = Field(default="local", description="local, test, staging or production")
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    # Empty means the embedded default: a SQLite file under data_dir.
    database_url: str = ""
    # PostgreSQL connections each process keeps open, and how many more a burst may open (closed
    # again as soon as they are returned: a connection costs the server a process to start).
    database_pool_size: int = Field(default=10, ge=1, le=500)
    database_max_overflow: int = Field(default=20, ge=0, le=1000)
    # 0: every pooled connection is pinged before use. More: only one idle that long; one
    # given back more recently is used as it is (a dead one then fails its request with a 503,
    # and the pool drops the connections older than it).
    database_ping_after_idle_s: float = Field(default=0.0, ge=0, le=3600)
    # Empty means the in-process bus (embedded default); else amqp://user:pass@host:port/vhost
    amqp_url: str = ""
    data_dir: Path = Path("var")
    # Where verifiers fetch the auth service's public keys.
    jwks_url: str = "http://127.0.0.1:8001/.well-known/jwks.json"
    jwt_issuer: str = "ampflux-auth"
    jwt_audience: str = "ampflux"
    # Run Alembic migrations at start-up (embedded mode default); the real stack runs
    # `python -m ampflux_shared.migrate <service>` as a deploy step instead.
    migrate_on_start: bool = True
    # The one limit on circuit documents (see `circuit.limits`): every request body is at
    # most this (413 beyond), and so is an uploaded document once decompressed.
    max_document_bytes: int = Field(default=MAX_DOCUMENT_BYTES, gt=0)
    # Published outbox rows and handled inbox records older than this are deleted by the
    # relay (hourly), so the tables stop growing. Keep it longer than any redelivery can
    # take: a redelivered event older than its inbox record would be handled again.
    events_retention_days: float = Field(default=7.0, gt=0)

    @field_validator("log_level")
    @classmethod
    def _upper(cls, v: str) -> str:
        return v.upper()

    @property
    def is_embedded_database(self) -> bool:
        return not self.database_url or self.database_url.startswith("sqlite")

    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL; a SQLite file per service when none is configured."""
        if self.database_url:
            return normalize_async_url(self.database_url)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{self.service_name}.db').resolve()}"


def normalize_async_url(url: str) -> str:
    """Accept the URL forms people paste (postgres://, postgresql://) and pick async drivers."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url[len("sqlite://") :]
    return url
