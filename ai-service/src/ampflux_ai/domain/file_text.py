"""Text of an uploaded file for the model: text, Markdown, CSV and JSON as they are, gzip'd
JSON unpacked, PDF through pypdf. Runs in a worker thread (CPU and disk), reads the spooled
file in pieces and keeps at most `max_chars` characters (the full count is reported)."""

from __future__ import annotations

import codecs
import gzip
import zlib
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from .file_types import TEXT_TYPES, _as_text

_READ = 1024 * 1024


def extract_text(path: Path, media_type: str, max_chars: int) -> tuple[str | None, int]:
    """(the kept text or None when the type has none, the full text's length in characters)."""
    if media_type in TEXT_TYPES:
        with path.open("rb") as handle:
            return _decode_stream(handle, max_chars)
    if media_type == "application/gzip":
        try:
            with gzip.open(path, "rb") as handle:
                head = handle.peek(4096)[:4096] if hasattr(handle, "peek") else b""
                if _as_text(head) is None:
                    return None, 0
                return _decode_stream(handle, max_chars)
        except (OSError, EOFError, zlib.error, UnicodeDecodeError):
            return None, 0
    if media_type == "application/pdf":
        return _pdf_text(path, max_chars)
    return None, 0


def _decode_stream(handle, max_chars: int) -> tuple[str, int]:
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
    kept: list[str] = []
    kept_chars = total = 0
    while chunk := handle.read(_READ):
        text = decoder.decode(chunk)
        total += len(text)
        if kept_chars < max_chars:
            piece = text[: max_chars - kept_chars]
            kept.append(piece)
            kept_chars += len(piece)
    tail = decoder.decode(b"", final=True)
    total += len(tail)
    if kept_chars < max_chars:
        kept.append(tail[: max_chars - kept_chars])
    return "".join(kept), total


def _pdf_text(path: Path, max_chars: int) -> tuple[str | None, int]:
    try:
        reader = PdfReader(path)
        pages: list[str] = []
        total = 0
        for number, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").strip()
            total += len(text)
            if text and sum(len(p) for p in pages) < max_chars:
                pages.append(f"[page {number}]\n{text}")
    except (PyPdfError, ValueError, OSError):
        return None, 0
    joined = "\n\n".join(pages)
    return joined[:max_chars], total
