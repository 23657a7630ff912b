"""Who may do what (the table in the service README is generated from nothing else)."""

from __future__ import annotations

from ampflux_shared.errors import forbidden
from ampflux_shared.security import Principal

# Each write action and the company roles that may do it.
PO_WRITE = ("admin", "manager", "purchasing")
TEMPLATE_WRITE = ("admin", "manager")
TRAVELER_WRITE = ("admin", "manager", "engineer")  # create, edit, BOM lines, serials
RELEASE = ("admin", "manager")  # release, complete, cancel, resume
HOLD = ("admin", "manager", "quality")
BOM_SUPPLY = ("admin", "manager", "purchasing")  # short / received / issued
SUBSTITUTE = ("admin", "manager", "engineer", "quality")
SHOP_FLOOR = ("operator", "assembly", "quality", "manager")  # start steps, clock in/out, scan
COATING = ("operator", "assembly", "quality", "manager")
SUPERVISE = ("admin", "manager")  # clock someone else out

ACTIONS: dict[str, tuple[str, ...]] = {
    "create and edit purchase orders": PO_WRITE,
    "edit routing templates": TEMPLATE_WRITE,
    "create and edit travelers, BOM lines and serials": TRAVELER_WRITE,
    "release, complete, cancel, resume": RELEASE,
    "put on hold": HOLD,
    "mark BOM lines short/received, issue parts": BOM_SUPPLY,
    "approve substitutions": SUBSTITUTE,
    "start steps, clock in/out, scan": SHOP_FLOOR,
    "sign off a step": ("the step's sign-off role",),
    "log coating": COATING,
    "clock someone else out": SUPERVISE,
}


def require(principal: Principal, roles: tuple[str, ...], action: str) -> None:
    if not principal.has_role(*roles):
        raise forbidden(f"{action} requires one of the roles: {', '.join(roles)}")
