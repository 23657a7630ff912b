"""`python -m ampflux_ai.migrate`: the deploy step of the real stack (services start with
AI_MIGRATE_ON_START=false); the same as `python -m ampflux_shared.migrate ai`."""

from __future__ import annotations

from ampflux_shared.migrate import migrate


def main() -> None:
    migrate("ai")


if __name__ == "__main__":
    main()
