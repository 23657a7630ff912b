"""A multipart upload parsed as it arrives: each file part goes straight to a spool file on
disk with its SHA-256 computed while it is written, so a 200 MB file never sits in memory.

The parsing, writing and hashing of each received chunk run in a worker thread (CPU and
disk work stays off the event loop); a file that grows past its limit stops the upload there.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from python_multipart.multipart import MultipartParser, parse_options_header

from .file_types import HEAD_BYTES

if TYPE_CHECKING:  # the library declares its callback types for type checkers only
    from python_multipart.multipart import MultipartCallbacks

MAX_NAME_CHARS = 255


class UploadLimitExceeded(Exception):
    def __init__(self, limit: str, detail: str) -> None:
        super().__init__(detail)
        self.limit = limit


class UploadMalformed(Exception):
    """The body is not the multipart form it says it is."""


@dataclass
class SpooledFile:
    name: str
    path: Path
    size: int = 0
    sha256: str = ""
    head: bytes = b""


@dataclass
class _State:
    spool_dir: Path
    max_file_bytes: int
    max_total_bytes: int
    max_files: int
    files: list[SpooledFile] = field(default_factory=list)
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_field: bytes = b""
    header_value: bytes = b""
    current: SpooledFile | None = None
    handle: IO[bytes] | None = None
    digest: Any = None
    total: int = 0


def boundary_of(content_type: str) -> bytes:
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise UploadMalformed("the body must be multipart/form-data with a boundary")
    return options[b"boundary"]


async def spool_multipart(
    chunks: AsyncIterator[bytes],
    content_type: str,
    spool_dir: Path,
    *,
    max_file_bytes: int,
    max_total_bytes: int,
    max_files: int,
) -> list[SpooledFile]:
    """Every file part of the body, spooled; on any failure the spool files are removed."""
    boundary = boundary_of(content_type)
    await asyncio.to_thread(spool_dir.mkdir, parents=True, exist_ok=True)
    state = _State(spool_dir, max_file_bytes, max_total_bytes, max_files)
    parser = MultipartParser(boundary, cast("MultipartCallbacks", _callbacks(state)))
    try:
        async for chunk in chunks:
            if chunk:
                await asyncio.to_thread(_feed, parser, chunk)
        await asyncio.to_thread(parser.finalize)
        if state.current is not None:
            raise UploadMalformed("the body ended in the middle of a part")
    except BaseException as exc:
        await asyncio.to_thread(_discard, state)
        if isinstance(exc, ValueError) and not isinstance(exc, UploadLimitExceeded | UploadMalformed):
            raise UploadMalformed(f"the multipart body cannot be parsed: {exc}") from None
        raise
    return state.files


def _feed(parser: MultipartParser, chunk: bytes) -> None:
    written = parser.write(chunk)
    if written != len(chunk):
        raise UploadMalformed("the multipart body cannot be parsed")


def _callbacks(s: _State) -> dict[str, Any]:
    def on_part_begin() -> None:
        s.headers = {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        s.header_field += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        s.header_value += data[start:end]

    def on_header_end() -> None:
        s.headers[s.header_field.lower()] = s.header_value
        s.header_field = s.header_value = b""

    def on_headers_finished() -> None:
        _, options = parse_options_header(s.headers.get(b"content-disposition", b""))
        filename = options.get(b"filename")
        if filename is None:
            return  # a plain form field: not a file, ignored
        if len(s.files) >= s.max_files:
            raise UploadLimitExceeded(
                "company_max_files", f"more files than the company may still store ({s.max_files})"
            )
        name = Path(filename.decode("utf-8", errors="replace").replace("\\", "/")).name[:MAX_NAME_CHARS]
        handle = tempfile.NamedTemporaryFile(dir=s.spool_dir, prefix="upload-", delete=False)  # noqa: SIM115  (closed on part end)
        s.current = SpooledFile(name=name or "unnamed", path=Path(handle.name))
        s.files.append(s.current)
        s.handle, s.digest = handle, hashlib.sha256()

    def on_part_data(data: bytes, start: int, end: int) -> None:
        current = s.current
        if current is None:
            return
        piece = data[start:end]
        current.size += len(piece)
        s.total += len(piece)
        if current.size > s.max_file_bytes:
            raise UploadLimitExceeded("file_max_bytes", f"{current.name} is larger than {s.max_file_bytes} bytes")
        if s.total > s.max_total_bytes:
            raise UploadLimitExceeded(
                "company_max_file_bytes", f"the company's files would exceed {s.max_total_bytes} more bytes"
            )
        if len(current.head) < HEAD_BYTES:
            current.head += piece[: HEAD_BYTES - len(current.head)]
        s.digest.update(piece)
        assert s.handle is not None
        s.handle.write(piece)

    def on_part_end() -> None:
        if s.current is None:
            return
        assert s.handle is not None
        s.handle.close()
        s.current.sha256 = s.digest.hexdigest()
        s.current = s.handle = None

    return {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }


def _discard(state: _State) -> None:
    if state.handle is not None:
        state.handle.close()
    discard_files(state.files)


def discard_files(files: list[SpooledFile]) -> None:
    for f in files:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f.path)
