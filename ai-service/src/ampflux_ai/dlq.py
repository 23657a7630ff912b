"""`python -m ampflux_ai.dlq list|replay [--parking]`: the pipeline work queue's dead letters
and its parking queue (shared tool). The pipeline workers settle readable dead letters
themselves (a failed execution, or back to work when only redeliveries spent the limit);
what they cannot read waits in the parking queue for a person."""

from __future__ import annotations

import sys

from ampflux_shared.events.dead_letters import main

from .config import Settings


def run(argv: list[str] | None = None) -> int:
    settings = Settings()
    return main(settings.amqp_url, settings.pipeline_queue, argv, prog="python -m ampflux_ai.dlq")


if __name__ == "__main__":
    sys.exit(run())
