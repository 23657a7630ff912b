"""`python -m ampflux_traveler.dlq list|replay`: the event queue's dead letters (shared tool)."""

from __future__ import annotations

import sys

from ampflux_shared.events.dead_letters import main

from .config import Settings


def run(argv: list[str] | None = None) -> int:
    settings = Settings()
    return main(settings.amqp_url, settings.events_queue, argv, prog="python -m ampflux_traveler.dlq")


if __name__ == "__main__":
    sys.exit(run())
