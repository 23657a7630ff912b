"""A circuit document written as CSV tables, one file: the first column is `table`, the others
are field names; each row is one element of its table (`buses`, `lines`, `ext_grids`...),
`circuit` rows give the top-level fields (`id`, `title`) and a `study` row the study options
(list values such as faults separated by `;`). Empty cells are left out. For example:

    table,id,vn_kv,bus,s_sc_max_mva,rx_max,frequency_hz,faults
    circuit,demo,,,,,,
    study,,,,,,50,3ph;1ph
    buses,MV,20,,,,,
    ext_grids,G,,MV,400,0.1,,

The result is an ordinary circuit document, validated by the shared circuit model like any other.
"""

from __future__ import annotations

import csv
import io
from typing import Any

_LIST_FIELDS = {"faults", "cases"}


def looks_like_circuit_tables(text: str) -> bool:
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    return first.split(",", 1)[0].strip().lower() == "table"


def _value(field: str, raw: str) -> Any:
    raw = raw.strip()
    if field in _LIST_FIELDS:
        return [v.strip() for v in raw.replace(" ", ";").split(";") if v.strip()]
    # Ids and bus references are strings even when they look like numbers.
    if field == "id" or field.endswith(("bus", "_id")):
        return raw
    if raw.lower() in ("true", "false"):
        return raw.lower() == "true"
    try:
        number = float(raw)
    except ValueError:
        return raw
    return int(number) if number.is_integer() and "." not in raw and "e" not in raw.lower() else number


def csv_tables_to_document(text: str) -> dict[str, Any]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in next(reader, [])]
    document: dict[str, Any] = {"format": "circuit-document", "version": 1, "study": {}}
    for row in reader:
        if not row or not row[0].strip():
            continue
        table = row[0].strip()
        fields = {
            name: _value(name, cell) for name, cell in zip(header[1:], row[1:], strict=False) if name and cell.strip()
        }
        if table == "circuit":
            document.update(fields)
        elif table == "study":
            document["study"].update(fields)
        else:
            document.setdefault(table, []).append(fields)
    return document
