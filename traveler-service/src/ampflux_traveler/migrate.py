"""`python -m ampflux_traveler.migrate`: the deploy step of the real stack (services start with
TRAVELER_MIGRATE_ON_START=false); the same as `python -m ampflux_shared.migrate traveler`."""

from __future__ import annotations

from ampflux_shared.migrate import migrate


def main() -> None:
    migrate("traveler")


if __name__ == "__main__":
    main()
