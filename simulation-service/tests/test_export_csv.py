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


def test_duty_table_as_csv_has_every_column_and_neutralises_ids() -> None:
    from ampflux_simulation.domain.export import DUTY_COLUMNS, duty_csv, duty_rows

    row = {
        "fault": "3ph",
        "case": "max",
        "id": "=CB-1",
        "kind": "breaker",
        "check": "breaking",
        "location": "MAIN",
        "fault_position": "element",
        "required_ka": 25.5,
        "rated_ka": 16.0,
        "margin_percent": -59.375,
        "pass": False,
        "time_s": 0.05,
        "kappa": None,
        "kappa_method": None,
    }
    other = {
        **row,
        "id": "CB-2",
        "location": "SUB",
        "pass": True,
        "time_s": None,
        "kappa": 1.8,
        "kappa_method": "branch",
    }
    sets = [{"fault": "3ph", "case": "max", "duty": [row, other]}, {"fault": "3ph", "case": "min"}]

    rows = list(csv.reader(io.StringIO(duty_csv(duty_rows(sets)), newline="")))

    assert rows[0] == list(DUTY_COLUMNS)
    assert rows[1] == [
        "3ph",
        "max",
        "'=CB-1",
        "breaker",
        "breaking",
        "MAIN",
        "element",
        "25.5",
        "16.0",
        "-59.375",
        "false",
        "0.05",
        "",
        "",
    ]
    assert rows[2][2] == "CB-2" and rows[2][-4:] == ["true", "", "1.8", "branch"]
    assert [r["id"] for r in duty_rows(sets, buses=["SUB"])] == ["CB-2"]
