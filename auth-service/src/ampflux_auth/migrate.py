"""`python -m ampflux_auth.migrate`: the deploy step of the real stack (services start with
AUTH_MIGRATE_ON_START=false); the same as `python -m ampflux_shared.migrate auth`."""

from __future__ import annotations

from ampflux_shared.migrate import migrate


def main() -> None:
    migrate("auth")


if __name__ == "__main__":
    main()
