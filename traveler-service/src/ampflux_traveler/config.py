"""Settings of the traveler service (environment variables prefixed `TRAVELER_`)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from ampflux_shared.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TRAVELER_", env_file=".env", extra="ignore")

    service_name: str = "traveler"
    port: int = 8004
    # The service's durable RabbitMQ queue for the events it consumes (one per service,
    # shared by its replicas).
    events_queue: str = "traveler-service"
