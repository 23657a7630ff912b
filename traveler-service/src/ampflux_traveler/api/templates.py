"""Routing templates per traveler type (managers edit; everyone reads)."""

from __future__ import annotations

from fastapi import APIRouter

from ampflux_shared.pagination import page_of
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import templates as service
from ..models import RoutingTemplate, TemplateStep
from ..schemas import Page, TemplateRead, TemplateStepRead, TemplateUpdate, TravelerType
from .deps import PageDep, SessionDep

router = APIRouter(prefix="/travelers/types", tags=["routing templates"], dependencies=[scoped("travelers")])


def _read(template: RoutingTemplate, steps: list[TemplateStep]) -> TemplateRead:
    return TemplateRead(
        traveler_type=TravelerType(template.traveler_type),
        steps=[TemplateStepRead.model_validate(s) for s in steps],
        updated_at=template.updated_at,
    )


@router.get("", summary="The four traveler types with their routing templates")
async def list_types(principal: CurrentPrincipal, session: SessionDep, paging: PageDep) -> Page[TemplateRead]:
    rows = page_of(service.TYPES, paging)
    return Page(
        **rows.to_page([_read(*await service.template_for(session, principal.company_id, t)) for t in rows.items])
    )


@router.get("/{traveler_type}", summary="One type's routing template")
async def read_template(traveler_type: TravelerType, principal: CurrentPrincipal, session: SessionDep) -> TemplateRead:
    return _read(*await service.template_for(session, principal.company_id, traveler_type.value))


@router.put("/{traveler_type}", summary="Replace a type's routing (managers); existing travelers keep theirs")
async def replace_template(
    traveler_type: TravelerType, body: TemplateUpdate, principal: CurrentPrincipal, session: SessionDep
) -> TemplateRead:
    steps = [(s.name, s.standard_minutes, s.signoff_role.value) for s in body.steps]
    return _read(*await service.replace_template(session, principal, traveler_type.value, steps))
