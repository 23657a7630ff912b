"""`python -m ampflux_project.migrate`: the deploy step of the real stack (services start with
PROJECT_MIGRATE_ON_START=false); the same as `python -m ampflux_shared.migrate project`."""

from __future__ import annotations

from ampflux_shared.migrate import migrate


def main() -> None:
    migrate("project")


if __name__ == "__main__":
    main()
