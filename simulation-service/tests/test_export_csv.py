"""Results CSV: text from a document cannot run as a spreadsheet formula."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace

from ampflux_simulation.domain.export import csv_chunks


async def _rows(*rows):
    for row in rows:
        yield row


async def _csv(columns, *rows) -> list[list[str]]:
    text = b"".join([chunk async for chunk in csv_chunks(columns, _rows(*rows))]).decode()
    return list(csv.reader(io.StringIO(text, newline="")))


async def test_cells_starting_like_a_formula_are_neutralised_and_numbers_stay_numbers():
    evil = SimpleNamespace(
        fault="3ph",
        case="max",
        bus_id='=HYPERLINK("http://evil.example","x")',
        values={"ik_ka": -0.5, "note": "@SUM(A1:A9)"},
    )
    plain = SimpleNamespace(fault="3ph", case="max", bus_id="B1", values={"ik_ka": 12.25, "note": "fine"})
    others = [SimpleNamespace(fault="1ph", case="min", bus_id=b, values={}) for b in ("+1", "-2", "\tx")]

    rows = await _csv(["fault", "case", "bus_id", "ik_ka", "note", "=cmd|' /C calc'!A0"], evil, plain, *others)

    assert rows[0][-1] == "'=cmd|' /C calc'!A0"
    assert rows[1][2] == '\'=HYPERLINK("http://evil.example","x")'
    assert rows[1][3] == "-0.5" and rows[1][4] == "'@SUM(A1:A9)"
    assert rows[2][2:5] == ["B1", "12.25", "fine"]
    assert [r[2] for r in rows[3:]] == ["'+1", "'-2", "'\tx"]
