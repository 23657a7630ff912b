"""Offset pagination with a bounded page size, shared by every list."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    page: int
    page_size: int


async def paginate(session: AsyncSession, query: Select[Any], paging: PageRequest) -> Page[Any]:
    """Rows of `query` (already ordered) for one page, and the total count."""
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = (await session.scalars(query.offset(paging.offset).limit(paging.page_size))).all()
    return Page(items=rows, total=total or 0, page=paging.page, page_size=paging.page_size)
