"""A company's uploaded files: stored after their type is sniffed and their text extracted,
listed, read, deleted. Files belong to the company (any of its users may use them); another
company's ids are 404."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.db import Database
from ampflux_shared.errors import not_found, unprocessable
from ampflux_shared.pagination import PageParams, Rows, paginate
from ampflux_shared.security import Principal

from ..models import StoredFile
from .file_text import extract_text
from .file_types import name_mismatch, sniff
from .storage import BlobStore
from .uploads import SpooledFile, discard_files


@dataclass(frozen=True)
class CompanyUsage:
    files: int
    bytes: int


async def company_usage(session: AsyncSession, company_id: uuid.UUID) -> CompanyUsage:
    count, total = (
        await session.execute(
            select(func.count(StoredFile.id), func.coalesce(func.sum(StoredFile.size), 0)).where(
                StoredFile.company_id == company_id
            )
        )
    ).one()
    return CompanyUsage(int(count), int(total))


@dataclass(frozen=True)
class Checked:
    spooled: SpooledFile
    media_type: str


def check_types(files: list[SpooledFile]) -> list[Checked]:
    """The sniffed type of each file; a name that promises another type refuses the whole upload."""
    checked = []
    for index, f in enumerate(files):
        media_type = sniff(f.head, f.name)
        why = name_mismatch(f.name, media_type)
        if why:
            raise unprocessable(
                f"{f.name}: {why}", slug="file-type-mismatch", file=f.name, part=index, media_type=media_type
            )
        checked.append(Checked(f, media_type))
    return checked


async def store_files(
    session: AsyncSession, store: BlobStore, principal: Principal, files: list[Checked], *, max_text_chars: int
) -> list[StoredFile]:
    rows = []
    try:
        for item in files:
            f = item.spooled
            text, chars = await asyncio.to_thread(extract_text, f.path, item.media_type, max_text_chars)
            await store.put(f.sha256, f.path)
            row = StoredFile(
                company_id=principal.company_id,
                user_id=principal.user_id,
                name=f.name,
                size=f.size,
                sha256=f.sha256,
                media_type=item.media_type,
                text=text,
                text_chars=chars,
            )
            session.add(row)
            rows.append(row)
    finally:
        # Whatever the store did not move away (or everything, after a failure).
        await asyncio.to_thread(discard_files, [f.spooled for f in files])
    await session.flush()
    return rows


async def get_for_company(session: AsyncSession, principal: Principal, file_id: uuid.UUID) -> StoredFile:
    row = await session.scalar(
        select(StoredFile).where(StoredFile.id == file_id, StoredFile.company_id == principal.company_id)
    )
    if row is None:
        raise not_found("file")
    return row


async def list_for_company(session: AsyncSession, principal: Principal, paging: PageParams) -> Rows[StoredFile]:
    query = (
        select(StoredFile)
        .where(StoredFile.company_id == principal.company_id)
        .order_by(StoredFile.created_at.desc(), StoredFile.id)
    )
    return await paginate(session, query, paging)


async def delete(session: AsyncSession, row: StoredFile) -> str | None:
    """Delete the row; the blob's hash when no other file uses it (for the caller to remove after commit)."""
    await session.delete(row)
    await session.flush()
    others = await session.scalar(select(func.count(StoredFile.id)).where(StoredFile.sha256 == row.sha256))
    return row.sha256 if not others else None


async def remove_blob_if_unused(db: Database, store: BlobStore, sha256: str) -> bool:
    """After the delete committed: remove the blob unless a file uses it again by now (an upload
    of the same bytes may have committed since); True when it was removed."""
    async with db.session() as session:
        if await session.scalar(select(func.count(StoredFile.id)).where(StoredFile.sha256 == sha256)):
            return False
    await store.delete(sha256)
    return True


def spool_dir(root: Path) -> Path:
    return root / ".spool"


# Older than this, a spool file is an upload whose process died (uploads take minutes at most;
# another replica sharing the folder may be writing younger ones).
STALE_SPOOL_S = 24 * 3600


def clear_stale_spool(root: Path, now: float | None = None) -> int:
    """Remove spool files left by uploads that never finished; how many were removed."""
    folder = spool_dir(root)
    if not folder.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - STALE_SPOOL_S
    removed = 0
    for path in folder.iterdir():
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed
