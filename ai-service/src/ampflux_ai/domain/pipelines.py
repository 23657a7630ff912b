"""Pipeline definitions: saved, listed, replaced and deleted by their author (another user's
ids are 404). Every save is checked first (`pipeline_definition.check_definition`)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import utcnow
from ampflux_shared.errors import not_found
from ampflux_shared.pagination import PageParams, Rows, paginate
from ampflux_shared.security import Principal

from ..models import Pipeline
from ..schemas import PipelineCreate
from .pipeline_definition import check_definition


def _dump(definition: PipelineCreate) -> dict[str, object]:
    return {
        "name": definition.name.strip(),
        "description": definition.description,
        "inputs": [item.model_dump() for item in definition.inputs],
        "steps": [step.model_dump(exclude_none=True) for step in definition.steps],
    }


async def create(session: AsyncSession, principal: Principal, definition: PipelineCreate) -> Pipeline:
    check_definition(definition)
    pipeline = Pipeline(company_id=principal.company_id, user_id=principal.user_id, **_dump(definition))
    session.add(pipeline)
    await session.flush()
    return pipeline


async def replace(session: AsyncSession, pipeline: Pipeline, definition: PipelineCreate) -> Pipeline:
    check_definition(definition)
    for key, value in _dump(definition).items():
        setattr(pipeline, key, value)
    pipeline.updated_at = utcnow()
    await session.flush()
    return pipeline


async def get_owned(
    session: AsyncSession, principal: Principal, pipeline_id: uuid.UUID, *, lock: bool = False
) -> Pipeline:
    query = select(Pipeline).where(
        Pipeline.id == pipeline_id, Pipeline.user_id == principal.user_id, Pipeline.company_id == principal.company_id
    )
    if lock:
        query = query.with_for_update()
    pipeline = await session.scalar(query)
    if pipeline is None:
        raise not_found("pipeline")
    return pipeline


async def list_owned(session: AsyncSession, principal: Principal, paging: PageParams) -> Rows[Pipeline]:
    query = (
        select(Pipeline)
        .where(Pipeline.user_id == principal.user_id, Pipeline.company_id == principal.company_id)
        .order_by(Pipeline.updated_at.desc(), Pipeline.id)
    )
    return await paginate(session, query, paging)
