"""HTTP routers: parse, authorize, call the domain, shape the response."""

from .audit import router as audit_router
from .circuits import router as circuits_router
from .members import router as members_router
from .projects import router as projects_router
from .schema import router as schema_router

ROUTERS = (projects_router, members_router, circuits_router, audit_router, schema_router)
