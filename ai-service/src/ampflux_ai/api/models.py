"""Models: the provider's list merged with the company's choices, a page at a time; admins
choose; on an Ollama provider, start (pull + load), stop (unload) and status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from sqlalchemy import update

from ampflux_shared.db import utcnow
from ampflux_shared.errors import field_error, validation_failed
from ampflux_shared.pagination import page_of
from ampflux_shared.security import CurrentPrincipal, require_roles, scoped

from ..domain.model_catalog import ModelCatalog
from ..domain.model_ops import ModelOperations, require_ollama
from ..models import CompanyModel
from ..schemas import ModelChoiceWrite, ModelList, ModelOperationRequest, ModelRead, ModelStatus
from .deps import PROVIDER_RESPONSES, PageDep, ProvidersDep, SessionDep

router = APIRouter(prefix="/ai/models", tags=["models"], dependencies=[scoped("ai")])

_PROVIDER: dict[int | str, dict[str, Any]] = {k: PROVIDER_RESPONSES[k] for k in (502, 503, 504)}
_OLLAMA_ONLY: dict[int | str, dict[str, Any]] = {
    **_PROVIDER,
    409: {"description": "the provider is OpenAI-style: it cannot load or unload models"},
}


def _catalog(request: Request) -> ModelCatalog:
    return request.app.state.model_catalog


def _ops(request: Request) -> ModelOperations:
    return request.app.state.model_operations


@router.get("", summary="The provider's models with the company's choices (enabled, default, display name)")
async def list_models(
    request: Request, principal: CurrentPrincipal, session: SessionDep, providers: ProvidersDep, paging: PageDep
) -> ModelList:
    config = await providers.for_company(session, principal.company_id)
    # The provider answers the whole list at once (and the catalog caches it), so the page is a
    # slice of it rather than a query.
    views = await _catalog(request).for_company(session, config, principal.company_id)
    rows = page_of(views, paging)
    return ModelList(
        provider_kind=config.kind,
        can_start=config.kind == "ollama",
        **rows.to_page([ModelRead(**vars(v)) for v in rows.items]),
    )


@router.put(
    "/{model_id:path}",
    summary="Choose about one model for the company: enabled, default, display name (company admins)",
    dependencies=[require_roles("admin")],
    responses={**_PROVIDER, 422: {"description": "the provider has no such model, or the default is disabled"}},
)
async def choose_model(
    model_id: str,
    body: ModelChoiceWrite,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    providers: ProvidersDep,
) -> ModelRead:
    config = await providers.for_company(session, principal.company_id)
    catalog = _catalog(request)
    offered = {m.id for m in await catalog.provider_models(config)} | {config.model}
    if model_id not in offered:
        raise validation_failed([field_error("model_id", f"the provider has no model {model_id!r}", "unknown_model")])
    if body.default and not body.enabled:
        raise validation_failed([field_error("default", "a disabled model cannot be the default")])
    row = await session.get(CompanyModel, (principal.company_id, model_id), with_for_update=True)
    if row is None:
        row = CompanyModel(company_id=principal.company_id, model_id=model_id, updated_by=principal.user_id)
        session.add(row)
    if body.default:
        # One default per company.
        await session.execute(
            update(CompanyModel)
            .where(CompanyModel.company_id == principal.company_id, CompanyModel.model_id != model_id)
            .values(is_default=False)
        )
    row.enabled, row.is_default, row.display_name = body.enabled, body.default, body.display_name
    row.updated_by, row.updated_at = principal.user_id, utcnow()
    await session.flush()
    views = await catalog.for_company(session, config, principal.company_id)
    return ModelRead(**vars(next(v for v in views if v.id == model_id)))


@router.post(
    "/start", status_code=202, summary="Pull (if needed) and load a model on the Ollama server", responses=_OLLAMA_ONLY
)
async def start_model(
    body: ModelOperationRequest,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    providers: ProvidersDep,
) -> ModelStatus:
    config = await providers.for_company(session, principal.company_id)
    require_ollama(config)
    return ModelStatus(**await _ops(request).start(_catalog(request).ollama(config), body.model))


@router.post("/stop", summary="Unload a model from the Ollama server's memory", responses=_OLLAMA_ONLY)
async def stop_model(
    body: ModelOperationRequest,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    providers: ProvidersDep,
) -> ModelStatus:
    config = await providers.for_company(session, principal.company_id)
    require_ollama(config)
    return ModelStatus(**await _ops(request).stop(_catalog(request).ollama(config), body.model))


@router.get(
    "/{model_id:path}/status",
    summary="not-present, pulling (with percent), loading, loaded, unloaded or failed",
    responses=_OLLAMA_ONLY,
)
async def model_status(
    model_id: str, request: Request, principal: CurrentPrincipal, session: SessionDep, providers: ProvidersDep
) -> ModelStatus:
    config = await providers.for_company(session, principal.company_id)
    require_ollama(config)
    return ModelStatus(**await _ops(request).status(_catalog(request).ollama(config), model_id))
