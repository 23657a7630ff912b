"""The traveler service in the e2e stack: one process on its own PostgreSQL database and
durable queue, behind the gateway's `/travelers`, `/purchase-orders` and `/reports`."""

from __future__ import annotations

import uuid

from e2e.stack import ServiceProcess, StackContext, StackMember

NAME = "traveler"


def member(ctx: StackContext) -> StackMember:
    url = ctx.urls[NAME]
    queue = f"e2e-traveler-{uuid.uuid4().hex[:8]}"
    ctx.queues += [queue, f"{queue}.dlq"]
    process = ServiceProcess(
        NAME,
        "ampflux_traveler",
        int(url.rsplit(":", 1)[1]),
        {
            "TRAVELER_PORT": url.rsplit(":", 1)[1],
            "TRAVELER_DATABASE_URL": ctx.make_database(NAME),
            "TRAVELER_AMQP_URL": ctx.amqp_url,
            "TRAVELER_JWKS_URL": ctx.jwks_url,
            "TRAVELER_ENVIRONMENT": "test",
            "TRAVELER_EVENTS_QUEUE": queue,
        },
        ctx.logs / "traveler.log",
    )
    routes = [
        {"prefix": prefix, "service": NAME, "upstreams": [url]}
        for prefix in ("/travelers", "/purchase-orders", "/reports")
    ]
    return StackMember(processes=[process], routes=routes)
