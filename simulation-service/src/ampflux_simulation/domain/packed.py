"""A result set's buses as one compressed document: what a solve stores per (run, fault, case)
and what the API decodes to page, filter, download and compare.

The document is `{"ids": [...], "index": [...], "values": [...], "trail": [...] | null}`, the
buses in document order (`index`: each bus's position in the document, line fault points
after the buses), as msgspec-encoded JSON compressed with zstd level 1. One value per set
instead of one row per bus: a 3,000-bus set with trails is ~1.3 MB of JSON, ~0.28 MB stored,
encoded and compressed in ~5 ms of CPU, where PostgreSQL took ~0.02 s to ingest its 3,000
rows. Pure code, no database: the solving child process packs its result sets before
sending them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
import zstandard

from ampflux_shared.circuit import json_safe

from .result_json import encode_json

# zstd level 1 (measured on a 3,000-bus run, 2.6 MB of JSON): 4 ms to 0.57 MB, decompressed in
# 1.5 ms; zlib level 1 took 15 ms to 0.73 MB, zstd level 3 10 ms to 0.62 MB. Stored as is, the
# JSON cost PostgreSQL 3 times the CPU of the compressed blob to write (and 3.6 times the disk).
COMPRESS_LEVEL = 1
# What a result set carries besides its buses and trail goes to the set's `extra`.
SET_KEYS = ("fault", "case", "quantities", "buses", "trail")

_decode = msgspec.json.Decoder().decode
# The compressor runs in the solving child's one thread. Unpacking runs in worker threads (a
# 20k-bus set takes tens of ms, which would stall the API's event loop), and a zstd context
# is not safe to share between threads: one decompressor per thread.
_compress = zstandard.ZstdCompressor(level=COMPRESS_LEVEL).compress
_per_thread = threading.local()


def _decompress(blob: bytes) -> bytes:
    decompressor = getattr(_per_thread, "decompressor", None)
    if decompressor is None:
        decompressor = _per_thread.decompressor = zstandard.ZstdDecompressor()
    data: bytes = decompressor.decompress(blob)
    return data


@dataclass(frozen=True)
class PackedSet:
    """One result set ready to store: its per-set fields and its buses as one blob."""

    fault: str
    case: str
    quantities: list[str]
    extra: dict[str, Any]
    bus_count: int
    buses_z: bytes


@dataclass
class BusTable:
    """A result set's buses, decoded: parallel lists in document order."""

    ids: list[str]
    index: list[int]
    values: list[dict[str, Any]]
    trail: list[Any] | None
    _positions: dict[str, int] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def trail_at(self, position: int) -> Any:
        return None if self.trail is None else self.trail[position]

    def positions_of(self, bus_ids: Iterable[str]) -> list[int]:
        """Positions of those buses that the set has, in document order, each once."""
        if self._positions is None:
            self._positions = {bus_id: i for i, bus_id in enumerate(self.ids)}
        positions = self._positions
        return sorted({positions[b] for b in bus_ids if b in positions})


def pack_result_sets(result_sets: Sequence[Mapping[str, Any]], bus_order: Mapping[str, int]) -> list[PackedSet]:
    """Every result set (FORMAT.md shape) packed for storage, in the given order."""
    packed = []
    for rs in result_sets:
        count, blob = pack_buses(rs["buses"], rs.get("trail"), bus_order)
        packed.append(
            PackedSet(
                fault=rs["fault"],
                case=rs["case"],
                quantities=list(rs["quantities"]),
                extra=json_safe({k: v for k, v in rs.items() if k not in SET_KEYS}),
                bus_count=count,
                buses_z=blob,
            )
        )
    return packed


def pack_buses(
    buses: Mapping[str, Any], trail: Mapping[str, Any] | None, bus_order: Mapping[str, int]
) -> tuple[int, bytes]:
    """(number of buses, the compressed document) of one set's buses and trail."""
    ids = sorted(buses, key=bus_order.__getitem__)
    document = {
        "ids": ids,
        "index": [bus_order[b] for b in ids],
        "values": [buses[b] for b in ids],
        "trail": None if trail is None else [trail.get(b) for b in ids],
    }
    return len(ids), _compress(encode_json(document))


def unpack_buses(blob: bytes) -> BusTable:
    document = _decode(_decompress(blob))
    return BusTable(ids=document["ids"], index=document["index"], values=document["values"], trail=document["trail"])
