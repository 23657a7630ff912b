"""The AI service's app factory and entry point (`python -m ampflux_ai`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI

from ampflux_shared.app import ServiceSpec, create_service_app, serve
from ampflux_shared.security import JWKSVerifier

from .api import ROUTERS
from .api.files import UPLOAD_PATH
from .config import Settings
from .domain.cache import ResponseCache
from .domain.files import clear_stale_spool
from .domain.generation import GenerationHub
from .domain.model_catalog import ModelCatalog
from .domain.model_ops import ModelOperations
from .domain.provider import Providers
from .domain.reply_progress import start_sweeper, stop_sweeper
from .domain.storage import store_from_settings
from .metrics import AIMetrics
from .models import event_tables, metadata
from .pipeline_jobs.lifecycle import start_pipelines, stop_pipelines

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

DESCRIPTION = """The engineering assistant: conversations with an OpenAI-compatible model that
knows the caller's projects, circuits and studies, streamed as it is written, and tools that
act with the caller's own rights.

With no provider configured (`AI_PROVIDER_BASE_URL`, `AI_MODEL`, or a company's own settings)
the AI routes answer 503 saying how to configure one.
"""


async def _clear_spool(app: FastAPI) -> None:
    await asyncio.to_thread(clear_stale_spool, app.state.settings.files_root())


async def _close(app: FastAPI) -> None:
    # Replies being written get a moment to finish and be stored before the clients close.
    await app.state.generations.drain()
    await app.state.model_operations.close()
    await app.state.providers.close()
    await app.state.response_cache.close()


def create_app(settings: Settings | None = None, *, verifier: JWKSVerifier | None = None) -> FastAPI:
    """The service app; `verifier` replaces the JWKS fetch (tests pass their own keys)."""
    settings = settings or Settings()
    app = create_service_app(
        ServiceSpec(
            title="AmpFlux AI service",
            description=DESCRIPTION,
            settings=settings,
            routers=ROUTERS,
            metadata=metadata,
            migrations_dir=MIGRATIONS_DIR,
            event_tables=event_tables,
            verifier=verifier,
            on_startup=[start_pipelines, _clear_spool, start_sweeper],
            # Pipelines stop before the provider clients they use close.
            on_shutdown=[stop_pipelines, stop_sweeper, _close],
            # Uploads stream to disk under the file limits of their own (AI_FILE_MAX_BYTES...).
            body_limit_exempt=[("POST", UPLOAD_PATH)],
        )
    )
    app.state.ai_metrics = AIMetrics(app.state.metrics)
    app.state.providers = Providers(settings)
    app.state.generations = GenerationHub(settings.stream_keep_s)
    app.state.model_catalog = ModelCatalog(app.state.providers)
    app.state.model_operations = ModelOperations(app.state.ai_metrics, settings.model_keep_alive)
    app.state.file_store = store_from_settings(settings)
    app.state.response_cache = ResponseCache(
        ttl_s=settings.cache_ttl_s, max_entries=settings.cache_max_entries, redis_url=settings.redis_url
    )
    return app


def run() -> None:
    settings = Settings()
    serve(create_app(settings), settings)


if __name__ == "__main__":
    run()
