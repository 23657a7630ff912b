"""HTTP routers: parse, authorize, call the domain, shape the response."""

from .admin import router as admin_router
from .assistant import router as assistant_router
from .conversations import router as conversations_router
from .files import router as files_router
from .messages import router as messages_router
from .models import router as models_router
from .openai_compat import router as openai_router
from .pipeline_executions import router as pipeline_executions_router
from .pipelines import router as pipelines_router
from .ws import router as ws_router

ROUTERS = (
    conversations_router,
    messages_router,
    assistant_router,
    admin_router,
    openai_router,
    ws_router,
    models_router,
    files_router,
    pipelines_router,
    pipeline_executions_router,
)
