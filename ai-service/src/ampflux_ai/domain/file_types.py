"""What a file is, from its first bytes — never from its name or the client's header — and
whether its name tells the same story (a `.pdf` that is not a PDF is refused)."""

from __future__ import annotations

import csv
import json

HEAD_BYTES = 64 * 1024

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x1f\x8b", "application/gzip"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"PK\x03\x04", "application/zip"),
)

TEXT_TYPES = {"text/plain", "text/markdown", "text/csv", "application/json"}

# What a name's extension promises, and which sniffed types keep that promise.
_BY_EXTENSION: dict[str, set[str]] = {
    ".pdf": {"application/pdf"},
    ".png": {"image/png"},
    ".jpg": {"image/jpeg"},
    ".jpeg": {"image/jpeg"},
    ".gif": {"image/gif"},
    ".gz": {"application/gzip"},
    ".zip": {"application/zip"},
    ".json": {"application/json"},
    ".csv": {"text/csv", "text/plain"},
    ".md": {"text/markdown", "text/plain"},
    ".markdown": {"text/markdown", "text/plain"},
    ".txt": TEXT_TYPES,
}


def sniff(head: bytes, name: str) -> str:
    """The media type of a file starting with `head` (the name only tells Markdown from text)."""
    for magic, media_type in _MAGIC:
        if head.startswith(magic):
            return media_type
    text = _as_text(head)
    if text is None:
        return "application/octet-stream"
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") and _json_like(stripped, complete=len(head) < HEAD_BYTES):
        return "application/json"
    if _csv_like(text):
        return "text/csv"
    if name.lower().endswith((".md", ".markdown")):
        return "text/markdown"
    return "text/plain"


def name_mismatch(name: str, media_type: str) -> str | None:
    """Why `name` and the sniffed type disagree, or None when they agree (or the name says nothing)."""
    lowered = name.lower()
    for extension, allowed in _BY_EXTENSION.items():
        if lowered.endswith(extension):
            if media_type not in allowed:
                return f"named {extension} but the content is {media_type}"
            return None
    return None


def _as_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    try:
        return head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the head is still text.
        if exc.start >= len(head) - 3:
            return head[: exc.start].decode("utf-8-sig", errors="strict")
        return None


def _json_like(text: str, *, complete: bool) -> bool:
    if complete:
        try:
            json.loads(text)
        except ValueError:
            return False
        return True
    # Only the head of a large file: it must at least start like a JSON document.
    return text[:1] == "[" or text[1:].lstrip()[:1] in ('"', "}")


def _csv_like(text: str) -> bool:
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if len(lines) < 2:
        return False
    try:
        dialect = csv.Sniffer().sniff("\n".join(lines), delimiters=",;\t")
    except csv.Error:
        return False
    counts = {line.count(dialect.delimiter) for line in lines[:-1]}  # the last line may be cut
    return len(counts) == 1 and counts != {0}
