"""HTTP routers: parse, authorize, call the domain, shape the response."""

from .documents import router as documents_router
from .floor import router as floor_router
from .purchase_orders import router as purchase_orders_router
from .reports import router as reports_router
from .templates import router as templates_router
from .travelers import router as travelers_router

# Static paths under /travelers (types, scan, labor) before the `/travelers/{traveler_id}` ones.
ROUTERS = (
    templates_router,
    floor_router,
    travelers_router,
    documents_router,
    purchase_orders_router,
    reports_router,
)
