"""Routing templates per traveler type: the ordered steps a new traveler copies.

Each company starts with a default routing per type; managers replace it. A template edit
never touches existing travelers (they hold their own copies of the steps)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import utcnow
from ampflux_shared.security import Principal

from ..models import RoutingTemplate, TemplateStep
from . import roles

TYPES = ("PCB", "Parts", "Assembly", "Cable")

# (name, standard minutes per unit, sign-off role)
DEFAULT_ROUTINGS: dict[str, list[tuple[str, float, str]]] = {
    "PCB": [
        ("Kitting", 2.0, "operator"),
        ("SMT", 4.0, "operator"),
        ("Reflow", 1.5, "operator"),
        ("AOI", 1.0, "quality"),
        ("Through-hole", 5.0, "assembly"),
        ("Wash", 1.0, "operator"),
        ("Coating", 3.0, "operator"),
        ("Test", 4.0, "quality"),
        ("QC", 2.0, "quality"),
        ("Pack", 1.0, "operator"),
    ],
    "Parts": [("Kitting", 1.0, "operator"), ("Inspection", 1.0, "quality"), ("Pack", 0.5, "operator")],
    "Assembly": [
        ("Kitting", 3.0, "operator"),
        ("Assembly", 20.0, "assembly"),
        ("Test", 10.0, "quality"),
        ("QC", 5.0, "quality"),
        ("Pack", 2.0, "operator"),
    ],
    "Cable": [
        ("Cut and strip", 2.0, "operator"),
        ("Crimp", 3.0, "assembly"),
        ("Harness", 6.0, "assembly"),
        ("Test", 2.0, "quality"),
        ("Pack", 1.0, "operator"),
    ],
}


async def template_for(
    session: AsyncSession, company_id: uuid.UUID, traveler_type: str
) -> tuple[RoutingTemplate, list[TemplateStep]]:
    """The company's template for the type, created from the default on first use."""
    template = await session.scalar(
        select(RoutingTemplate).where(
            RoutingTemplate.company_id == company_id, RoutingTemplate.traveler_type == traveler_type
        )
    )
    if template is None:
        try:
            # A savepoint: when two first uses race, the loser reads the winner's template.
            async with session.begin_nested():
                template = RoutingTemplate(company_id=company_id, traveler_type=traveler_type)
                session.add(template)
                await session.flush()
                for position, (name, minutes, role) in enumerate(DEFAULT_ROUTINGS[traveler_type], start=1):
                    session.add(
                        TemplateStep(
                            template_id=template.id,
                            position=position,
                            name=name,
                            standard_minutes=minutes,
                            signoff_role=role,
                        )
                    )
                await session.flush()
        except IntegrityError:
            template = (
                await session.scalars(
                    select(RoutingTemplate).where(
                        RoutingTemplate.company_id == company_id, RoutingTemplate.traveler_type == traveler_type
                    )
                )
            ).one()
    steps = await session.scalars(
        select(TemplateStep).where(TemplateStep.template_id == template.id).order_by(TemplateStep.position)
    )
    return template, list(steps)


async def replace_template(
    session: AsyncSession, principal: Principal, traveler_type: str, steps: list[tuple[str, float, str]]
) -> tuple[RoutingTemplate, list[TemplateStep]]:
    roles.require(principal, roles.TEMPLATE_WRITE, "editing a routing template")
    template, _ = await template_for(session, principal.company_id, traveler_type)
    await session.execute(delete(TemplateStep).where(TemplateStep.template_id == template.id))
    for position, (name, minutes, role) in enumerate(steps, start=1):
        session.add(
            TemplateStep(
                template_id=template.id, position=position, name=name, standard_minutes=minutes, signoff_role=role
            )
        )
    template.updated_by = principal.user_id
    template.updated_at = utcnow()
    await session.flush()
    return await template_for(session, principal.company_id, traveler_type)
