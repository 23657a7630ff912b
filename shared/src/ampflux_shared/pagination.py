"""The one list contract of the platform: `page` (from 1) and `page_size` (bounded) in,
`{items, total, page, page_size}` out.

A page size above the maximum is a 422 naming the bound (never silently clamped), and the
page number is bounded too, so `page * page_size` can never overflow a database integer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000


@dataclass(frozen=True)
class PageParams:
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def page_params(
    page: Annotated[int, Query(ge=1, le=MAX_PAGE, description=f"1-based page number, at most {MAX_PAGE}")] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"items per page, at most {MAX_PAGE_SIZE}")
    ] = DEFAULT_PAGE_SIZE,
) -> PageParams:
    return PageParams(page=page, page_size=page_size)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    """One page of a list, as every list route answers it."""

    items: list[T]
    total: int
    page: int
    page_size: int


@dataclass(frozen=True)
class Rows(Generic[T]):
    """One page of database rows, before the route turns them into schemas."""

    items: Sequence[T]
    total: int
    page: int
    page_size: int

    def to_page(self, items: Sequence[Any]) -> dict[str, Any]:
        """The response body with `items` converted (e.g. rows to `XRead` schemas)."""
        return {"items": list(items), "total": self.total, "page": self.page, "page_size": self.page_size}


def page_of(items: Sequence[T], params: PageParams) -> Rows[T]:
    """One page of a list already in memory (a provider's whole answer, a fixed set of kinds)."""
    end = params.offset + params.page_size
    return Rows(items=items[params.offset : end], total=len(items), page=params.page, page_size=params.page_size)


async def paginate(session: AsyncSession, query: Select[Any], params: PageParams) -> Rows[Any]:
    """Rows of `query` (already ordered) for one page, and the total count. The items are the
    selected objects, or tuples of them when the query selects several (an entity and a
    correlated value, say)."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    result = await session.execute(query.offset(params.offset).limit(params.page_size))
    rows = result.scalars().all() if len(query.column_descriptions) == 1 else [tuple(row) for row in result.all()]
    return Rows(items=rows, total=total or 0, page=params.page, page_size=params.page_size)
