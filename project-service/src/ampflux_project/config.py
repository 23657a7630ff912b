"""Settings of the project service (environment variables prefixed `PROJECT_`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from ampflux_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PROJECT_", env_file=".env", extra="ignore")

    service_name: str = "project"
    port: int = 8002
    # The service's durable RabbitMQ queue for the events it consumes (one per service,
    # shared by its replicas).
    events_queue: str = "project-service"
    # `max_document_bytes` (PROJECT_MAX_DOCUMENT_BYTES) is the platform's one document limit,
    # from ServiceSettings: it bounds imports (decompressed), saves and every request body.
