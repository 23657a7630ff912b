"""Barcodes (Code 128 and QR, SVG and PNG) and the printed traveler sheet (PDF).

What a code says: `TRV:<number>` for a traveler, `STP:<number>:<position>` for one of its
steps; a scanner station sends it back to `POST /travelers/scan`. Rendering is CPU work:
routes call these functions in a worker thread.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date

import barcode
import segno
from barcode.writer import ImageWriter, SVGWriter

TRAVELER_CODE = re.compile(r"^TRV:(?P<number>T-\d{4}-\d{5,})$")
STEP_CODE = re.compile(r"^STP:(?P<number>T-\d{4}-\d{5,}):(?P<position>\d{1,4})$")


def traveler_code(number: str) -> str:
    return f"TRV:{number}"


def step_code(number: str, position: int) -> str:
    return f"STP:{number}:{position}"


def render(data: str, kind: str, fmt: str) -> bytes:
    """`kind` code128 or qr, `fmt` svg or png."""
    if kind == "qr":
        qr = segno.make(data, error="m")
        out = io.BytesIO()
        qr.save(out, kind=fmt, scale=4, border=2)
        return out.getvalue()
    writer = SVGWriter() if fmt == "svg" else ImageWriter()
    code = barcode.get("code128", data, writer=writer)
    out = io.BytesIO()
    code.write(out, options={"write_text": True, "module_height": 10.0, "quiet_zone": 2.0})
    return out.getvalue()


@dataclass(frozen=True)
class SheetStep:
    position: int
    name: str
    standard_minutes: float
    signoff_role: str


@dataclass(frozen=True)
class SheetBomLine:
    item: str
    reference_designators: str
    quantity_per_unit: float
    required: float
    status: str


@dataclass(frozen=True)
class Sheet:
    number: str
    traveler_type: str
    part_number: str
    revision: str
    quantity: int
    priority: int
    due_date: date | None
    status: str
    purchase_order: str | None
    steps: list[SheetStep]
    bom: list[SheetBomLine]


def _latin1(text: str) -> str:
    # The core PDF fonts are Latin-1: anything else is shown as '?' rather than failing.
    return text.encode("latin-1", "replace").decode("latin-1")


def sheet_pdf(sheet: Sheet) -> bytes:
    """The printable traveler: header with codes, the BOM, every step with sign-off boxes."""
    # Imported here: fpdf (with fontTools) is half a second of CPU at import, and every
    # process of the service paid it at start, though only this function uses it.
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin1(f"Traveler {sheet.number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    header = [
        f"Type: {sheet.traveler_type}    Part: {sheet.part_number} rev {sheet.revision or '-'}",
        f"Quantity: {sheet.quantity}    Priority: {sheet.priority}    Due: {sheet.due_date or '-'}",
        f"Status: {sheet.status}    PO: {sheet.purchase_order or '-'}",
    ]
    for text in header:
        pdf.cell(0, 6, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    top = 12
    pdf.image(io.BytesIO(render(traveler_code(sheet.number), "code128", "png")), x=120, y=top, w=70, h=18)
    pdf.image(io.BytesIO(render(traveler_code(sheet.number), "qr", "png")), x=170, y=top + 20, w=25, h=25)
    pdf.ln(14)

    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, "Bill of materials", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    widths = (45, 70, 20, 25, 25)
    for cells in [("Item", "Ref. designators", "Per unit", "Required", "Status")] + [
        (b.item, b.reference_designators[:45], f"{b.quantity_per_unit:g}", f"{b.required:g}", b.status)
        for b in sheet.bom
    ]:
        for w, text in zip(widths, cells, strict=True):
            pdf.cell(w, 6, _latin1(text), border=1)
        pdf.ln()
    pdf.ln(4)

    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, "Process steps", new_x="LMARGIN", new_y="NEXT")
    for step in sheet.steps:
        if pdf.get_y() > 250:
            pdf.add_page()
        y = pdf.get_y()
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(0, 6, _latin1(f"{step.position}. {step.name}"), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 8)
        pdf.cell(
            0,
            5,
            _latin1(f"Std {step.standard_minutes:g} min/unit - sign-off: {step.signoff_role}"),
            new_x="LMARGIN",
            new_y="NEXT",
        )
        # Sign-off boxes: operator, date, passed, failed.
        for label in ("Signed", "Date", "Passed", "Failed"):
            pdf.cell(30, 8, label, border=1)
        pdf.ln()
        code = step_code(sheet.number, step.position)
        pdf.image(io.BytesIO(render(code, "code128", "png")), x=140, y=y, w=55, h=14)
        pdf.set_y(max(pdf.get_y(), y + 16) + 2)
    return bytes(pdf.output())
