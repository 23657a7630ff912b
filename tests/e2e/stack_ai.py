"""The AI service in the e2e stack: one process on its own PostgreSQL database, behind the
gateway's `/ai`, talking to the local OpenAI-compatible test provider
(ampflux_testing.fake_provider), which runs in the test process so tests can script it
and read what it was sent (`PROVIDER`). Its tools reach the real project and simulation
services with the caller's token. A pipeline worker process (`python -m
ampflux_ai.pipeline_worker`) runs the pipelines, on a work queue of this stack's own."""

from __future__ import annotations

import base64
import os
import uuid

from e2e.stack import ServiceProcess, StackContext, StackMember

from ampflux_testing.fake_provider import FakeProvider

NAME = "ai"
# Started with the stack; tests queue replies on it and read what it was sent.
PROVIDER: FakeProvider | None = None
# Tokens per company and day: far above what a test spends, reached on purpose by the budget test.
BUDGET = 100_000


def member(ctx: StackContext) -> StackMember:
    global PROVIDER
    if PROVIDER is None:
        PROVIDER = FakeProvider().start()
    url = ctx.urls[NAME]
    port = url.rsplit(":", 1)[1]
    # Unique per stack: another stack on the same broker must not take this one's executions.
    pipeline_queue = f"ai.pipelines.e2e-{uuid.uuid4().hex[:8]}"
    ctx.queues += [pipeline_queue, f"{pipeline_queue}.dlq", f"{pipeline_queue}.parking"]
    env = {
        "AI_DATABASE_URL": ctx.make_database(NAME),
        "AI_AMQP_URL": ctx.amqp_url,
        "AI_ENVIRONMENT": "test",
        "AI_PROVIDER_BASE_URL": PROVIDER.url,
        "AI_PROVIDER_API_KEY": "sk-e2e",
        "AI_MODEL": PROVIDER.model,
        "AI_PROVIDER_RETRIES": "0",
        "AI_PROJECT_URL": ctx.urls["project"],
        "AI_SIMULATION_URL": ctx.urls["simulation"],
        "AI_STUDY_WAIT_S": "60",
        "AI_COMPANY_DAILY_TOKEN_BUDGET": str(BUDGET),
        "AI_PIPELINE_QUEUE": pipeline_queue,
        # The API seals the caller's token with a pipeline execution; the worker opens it.
        "AI_KEY_ENCRYPTION_KEYS": "e2e:" + base64.b64encode(os.urandom(32)).decode(),
    }
    process = ServiceProcess(
        NAME,
        "ampflux_ai",
        int(port),
        env | {"AI_PORT": port, "AI_JWKS_URL": ctx.jwks_url, "AI_PROVIDER_TIMEOUT_S": "3"},
        ctx.logs / "ai.log",
    )
    worker = ServiceProcess(
        "ai-pipeline-worker",
        "ampflux_ai.pipeline_worker",
        0,
        env | {"AI_MIGRATE_ON_START": "false", "AI_PROVIDER_TIMEOUT_S": "10"},
        ctx.logs / "ai-pipeline-worker.log",
        ready_log="consuming",
    )
    routes = [
        {"prefix": "/ai", "service": NAME, "upstreams": [url], "timeout_s": 120},
        {"prefix": "/ai/files", "service": NAME, "upstreams": [url], "timeout_s": 120, "max_body_bytes": 2**30},
    ]
    return StackMember(processes=[process, worker], routes=routes)
