"""Files' text into a model's context window: split into chunks at line breaks, whole chunks
kept in order while they fit, the budget shared fairly between files, and every cut said in
the text the model reads (never silently dropped)."""

from __future__ import annotations

from dataclasses import dataclass

# About four characters per token for English and code; the window is counted in characters.
CHARS_PER_TOKEN = 4
CHUNK_CHARS = 4000


@dataclass(frozen=True)
class FileText:
    name: str
    text: str
    # The file's whole text length (larger than `text` when the upload kept only part of it).
    total_chars: int


@dataclass(frozen=True)
class Fitted:
    name: str
    content: str
    used_chars: int
    total_chars: int

    @property
    def cut(self) -> bool:
        return self.used_chars < self.total_chars


def chunks(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """Pieces of at most `size` characters, split after a line break where there is one."""
    out = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            newline = text.rfind("\n", start + size // 2, end)
            if newline != -1:
                end = newline + 1
        out.append(text[start:end])
        start = end
    return out


def budget_chars(window_tokens: int, used_chars: int, reserve_tokens: int) -> int:
    """Characters left for files once the conversation and the answer's room are counted."""
    return max(0, (window_tokens - reserve_tokens) * CHARS_PER_TOKEN - used_chars)


def fit(files: list[FileText], budget: int) -> list[Fitted]:
    """Each file's text, cut to share `budget` characters, with a note of what was left out."""
    shares = _shares([len(f.text) for f in files], budget)
    out = []
    for f, share in zip(files, shares, strict=True):
        kept = []
        used = 0
        for piece in chunks(f.text):
            if used + len(piece) > share:
                break
            kept.append(piece)
            used += len(piece)
        if not kept and f.text and share > 0:
            # One chunk larger than the share: its start, cut at the share.
            kept, used = [f.text[:share]], min(share, len(f.text))
        body = "".join(kept)
        if used < f.total_chars:
            body += (
                f"\n[note: only characters 1–{used} of {f.total_chars} of {f.name} are included; "
                f"the remaining {f.total_chars - used} characters were cut to fit the model's context window]"
            )
        out.append(Fitted(f.name, f"--- file: {f.name} ---\n{body}", used, f.total_chars))
    return out


def _shares(lengths: list[int], budget: int) -> list[int]:
    """Equal shares, and what a short file does not need goes to the others."""
    shares = [0] * len(lengths)
    open_ = [i for i, n in enumerate(lengths) if n > 0]
    left = budget
    while open_ and left > 0:
        each = left // len(open_)
        if each == 0:
            break
        still = []
        for i in open_:
            give = min(each, lengths[i] - shares[i])
            shares[i] += give
            left -= give
            if shares[i] < lengths[i]:
                still.append(i)
        if len(still) == len(open_):
            break
        open_ = still
    return shares
