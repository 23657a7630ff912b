"""Codes and the printed traveler: Code 128 / QR (SVG, PNG) and the PDF sheet."""

from __future__ import annotations

import asyncio
import uuid
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Response

from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import bom, codes
from ..domain.common import get_step, get_traveler, steps_of
from ..domain.purchase_orders import get_purchase_order
from .deps import SessionDep

router = APIRouter(prefix="/travelers", tags=["codes and sheets"], dependencies=[scoped("travelers")])

MEDIA = {"svg": "image/svg+xml", "png": "image/png"}


class CodeKind(StrEnum):
    code128 = "code128"
    qr = "qr"


class ImageFormat(StrEnum):
    svg = "svg"
    png = "png"


async def _image(data: str, kind: CodeKind, fmt: ImageFormat) -> Response:
    body = await asyncio.to_thread(codes.render, data, kind.value, fmt.value)
    return Response(body, media_type=MEDIA[fmt.value], headers={"X-Code": data})


# What these routes answer, for the OpenAPI document (they are not JSON).
IMAGE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "image/svg+xml": {"schema": {"type": "string"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "the code",
    }
}
PDF: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        "description": "the sheet",
    }
}


@router.get(
    "/{traveler_id}/code.{fmt}",
    response_class=Response,
    responses=IMAGE,
    summary="The traveler's code (`TRV:<number>`) as Code 128 or QR",
)
async def traveler_code(
    traveler_id: uuid.UUID,
    fmt: ImageFormat,
    principal: CurrentPrincipal,
    session: SessionDep,
    kind: CodeKind = CodeKind.code128,
) -> Response:
    traveler = await get_traveler(session, principal.company_id, traveler_id)
    return await _image(codes.traveler_code(traveler.number), kind, fmt)


@router.get(
    "/{traveler_id}/steps/{step_id}/code.{fmt}",
    response_class=Response,
    responses=IMAGE,
    summary="A step's code (`STP:<number>:<position>`)",
)
async def step_code(
    traveler_id: uuid.UUID,
    step_id: uuid.UUID,
    fmt: ImageFormat,
    principal: CurrentPrincipal,
    session: SessionDep,
    kind: CodeKind = CodeKind.code128,
) -> Response:
    traveler = await get_traveler(session, principal.company_id, traveler_id)
    step = await get_step(session, traveler, step_id)
    return await _image(codes.step_code(traveler.number, step.position), kind, fmt)


@router.get(
    "/{traveler_id}/sheet.pdf",
    response_class=Response,
    responses=PDF,
    summary="The printable traveler: header, BOM, steps with sign-off boxes, codes",
)
async def sheet(traveler_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> Response:
    traveler = await get_traveler(session, principal.company_id, traveler_id)
    po = (
        await get_purchase_order(session, principal.company_id, traveler.purchase_order_id)
        if traveler.purchase_order_id
        else None
    )
    data = codes.Sheet(
        number=traveler.number,
        traveler_type=traveler.traveler_type,
        part_number=traveler.part_number,
        revision=traveler.revision,
        quantity=traveler.quantity,
        priority=traveler.priority,
        due_date=traveler.due_date,
        status=traveler.status,
        purchase_order=po.number if po else None,
        steps=[
            codes.SheetStep(s.position, s.name, s.standard_minutes, s.signoff_role)
            for s in await steps_of(session, traveler.id)
        ],
        bom=[
            codes.SheetBomLine(
                line.item, line.reference_designators, line.quantity_per_unit, line.required, line.status
            )
            for line, _ in (await bom.lines_of(session, traveler.id)).items
        ],
    )
    pdf = await asyncio.to_thread(codes.sheet_pdf, data)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{traveler.number}.pdf"'},
    )
