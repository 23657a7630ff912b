"""Small query helpers shared by the domain modules."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.errors import conflict


def contains_pattern(text: str) -> str:
    """An ILIKE pattern matching `text` anywhere, with `%`, `_` and `\\` taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def flush_or_conflict(session: AsyncSession, detail: str) -> None:
    """Flush pending rows; a unique-constraint violation becomes a 409 problem.

    The savepoint keeps the request's transaction usable, although the 409 ends it anyway.
    """
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise conflict(detail) from None
