"""Circuit and version routes: save, list, read, compare, restore, import, export."""

from __future__ import annotations

import functools
import json
import re
import uuid
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Path, Query, Request, Response, status
from starlette.datastructures import UploadFile

from ampflux_shared.errors import ProblemError, field_error, not_found, validation_failed
from ampflux_shared.pagination import Page
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import circuits as service
from ..domain import versions
from ..domain.access import ProjectAccess, ProjectRole, project_access
from ..domain.diff import diff_documents
from ..domain.documents import decode_document, too_large
from ..models import Circuit, CircuitVersion
from ..schemas import (
    CircuitCreate,
    CircuitRead,
    CircuitUpdate,
    CircuitWithVersion,
    VersionDiff,
    VersionRead,
    VersionRestore,
    VersionSave,
    VersionSummary,
)
from .deps import MetricsDep, PageDep, SessionDep, after_commit

router = APIRouter(prefix="/projects/{project_id}/circuits", tags=["circuits"], dependencies=[scoped("projects")])

ProjectId = uuid.UUID
CircuitId = uuid.UUID
# Version numbers are database integers: a larger one names no version, and must be a 422
# naming the parameter rather than an integer overflow in the query (a 500).
MAX_VERSION = 2**31 - 1
VersionNumber = Annotated[int, Path(ge=1, le=MAX_VERSION)]

_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary", "description": ".json or .json.gz"}},
                }
            },
            "application/json": {"schema": {"type": "object", "description": "the circuit document itself"}},
            "application/gzip": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


def circuit_read(circuit: Circuit) -> CircuitRead:
    return CircuitRead.model_validate(circuit).model_copy(update={"latest_version": circuit.latest_version or None})


async def _editable(session, principal, project_id: uuid.UUID) -> ProjectAccess:
    return await project_access(session, principal, project_id, at_least=ProjectRole.editor, writable=True)


async def _save(
    session,
    access: ProjectAccess,
    circuit: Circuit,
    metrics,
    response: Response,
    *,
    restore: int | None = None,
    **kwargs: Any,
) -> VersionSummary:
    """Save (or restore) through the domain; 201 for a new version, 200 for an unchanged one."""
    try:
        if restore is not None:
            version, created = await versions.restore_version(session, access, circuit, number=restore, **kwargs)
        else:
            version, created = await versions.save_version(session, access, circuit, **kwargs)
    except ProblemError as exc:
        if exc.status == 422:
            metrics.invalid_documents.inc()
        raise
    if created:
        after_commit(session, metrics.versions_created.inc)
        response.status_code = status.HTTP_201_CREATED
    else:
        metrics.unchanged_saves.inc()
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = _version_path(access, circuit, version.number)
    return VersionSummary.model_validate(version)


def _version_path(access: ProjectAccess, circuit: Circuit, number: int) -> str:
    return f"/projects/{access.project.id}/circuits/{circuit.id}/versions/{number}"


# --- circuits ---------------------------------------------------------------------------


@router.get("/", summary="Circuits of a project (any member)")
async def list_circuits(
    project_id: ProjectId,
    principal: CurrentPrincipal,
    session: SessionDep,
    paging: PageDep,
    q: Annotated[str | None, Query(max_length=200, description="part of the name, any case")] = None,
) -> Page[CircuitRead]:
    access = await project_access(session, principal, project_id)
    page = await service.list_circuits(session, access, paging=paging, search=q)
    return Page(items=[circuit_read(c) for c in page.items], total=page.total, page=page.page, page_size=page.page_size)


@router.post(
    "/", status_code=status.HTTP_201_CREATED, summary="Create a circuit, optionally with its first version (editors)"
)
async def create_circuit(
    project_id: ProjectId, body: CircuitCreate, principal: CurrentPrincipal, session: SessionDep, metrics: MetricsDep
) -> CircuitWithVersion:
    access = await _editable(session, principal, project_id)
    try:
        circuit, version = await service.create_circuit(
            session, access, name=body.name, description=body.description, document=body.document, message=body.message
        )
    except ProblemError as exc:
        if exc.status == 422:
            metrics.invalid_documents.inc()
        raise
    if version is not None:
        after_commit(session, metrics.versions_created.inc)
    return CircuitWithVersion(
        **circuit_read(circuit).model_dump(), version=VersionSummary.model_validate(version) if version else None
    )


@router.post(
    "/import",
    status_code=status.HTTP_201_CREATED,
    summary="Import a circuit document as a new circuit (editors): multipart .json/.json.gz file or JSON body",
    openapi_extra=_IMPORT_BODY,
)
async def import_circuit(
    project_id: ProjectId,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    metrics: MetricsDep,
    name: Annotated[
        str | None, Query(max_length=200, description="defaults to the document's title, id or file name")
    ] = None,
    message: Annotated[str, Query(max_length=2000)] = "",
) -> CircuitWithVersion:
    access = await _editable(session, principal, project_id)
    document, filename = await _read_upload(request)
    circuit_name = (name or _default_name(document, filename)).strip()
    try:
        circuit, version = await service.create_circuit(
            session,
            access,
            name=circuit_name,
            description=str(document.get("description") or "")[:5000],
            document=document,
            message=message or f"Imported {filename or 'document'}",
        )
    except ProblemError as exc:
        if exc.status == 422:
            metrics.invalid_documents.inc()
        raise
    after_commit(session, metrics.versions_created.inc)
    return CircuitWithVersion(**circuit_read(circuit).model_dump(), version=VersionSummary.model_validate(version))


@router.get("/{circuit_id}", summary="Read a circuit with a summary of its newest version (any member)")
async def read_circuit(
    project_id: ProjectId, circuit_id: CircuitId, principal: CurrentPrincipal, session: SessionDep
) -> CircuitWithVersion:
    access = await project_access(session, principal, project_id)
    circuit = await service.get_circuit(session, access, circuit_id)
    latest = await versions.latest_version(session, circuit)
    return CircuitWithVersion(
        **circuit_read(circuit).model_dump(), version=VersionSummary.model_validate(latest) if latest else None
    )


@router.patch("/{circuit_id}", summary="Rename or describe a circuit (editors)")
async def update_circuit(
    project_id: ProjectId, circuit_id: CircuitId, body: CircuitUpdate, principal: CurrentPrincipal, session: SessionDep
) -> CircuitRead:
    access = await _editable(session, principal, project_id)
    circuit = await service.get_circuit(session, access, circuit_id, lock=True)
    return circuit_read(
        await service.update_circuit(session, access, circuit, name=body.name, description=body.description)
    )


@router.delete(
    "/{circuit_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a circuit and its versions (owners)"
)
async def delete_circuit(
    project_id: ProjectId, circuit_id: CircuitId, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    access = await project_access(session, principal, project_id, at_least=ProjectRole.owner, writable=True)
    circuit = await service.get_circuit(session, access, circuit_id, lock=True)
    await service.delete_circuit(session, access, circuit)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{circuit_id}/import",
    summary="Import a document as a new version of a circuit (editors); 201 new, 200 unchanged",
    openapi_extra=_IMPORT_BODY,
    responses={201: {"description": "a new version"}, 200: {"description": "unchanged: the latest version"}},
)
async def import_version(
    project_id: ProjectId,
    circuit_id: CircuitId,
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    session: SessionDep,
    metrics: MetricsDep,
    message: Annotated[str, Query(max_length=2000)] = "",
) -> VersionSummary:
    access = await _editable(session, principal, project_id)
    circuit = await service.get_circuit(session, access, circuit_id, lock=True)
    document, filename = await _read_upload(request)
    return await _save(
        session,
        access,
        circuit,
        metrics,
        response,
        document=document,
        message=message or f"Imported {filename or 'document'}",
    )


@router.get("/{circuit_id}/export", summary="Download a version's document as a JSON file (any member)")
async def export_circuit(
    project_id: ProjectId,
    circuit_id: CircuitId,
    principal: CurrentPrincipal,
    session: SessionDep,
    version: Annotated[int | None, Query(ge=1, description="defaults to the newest version")] = None,
) -> Response:
    access = await project_access(session, principal, project_id)
    circuit = await service.get_circuit(session, access, circuit_id)
    found = await _version_or_latest(session, circuit, version)
    filename = f"{_safe_filename(circuit.name)}-v{found.number}.json"
    # Indented JSON goes through the pure-Python encoder: seconds of CPU for a large document.
    content = await anyio.to_thread.run_sync(_pretty_json, found.document)
    return Response(
        content=content,
        media_type="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "ETag": f'"{found.content_hash}"',
        },
    )


# --- versions ---------------------------------------------------------------------------


@router.get("/{circuit_id}/versions", summary="Versions of a circuit, newest first (any member)")
async def list_versions(
    project_id: ProjectId, circuit_id: CircuitId, principal: CurrentPrincipal, session: SessionDep, paging: PageDep
) -> Page[VersionSummary]:
    access = await project_access(session, principal, project_id)
    circuit = await service.get_circuit(session, access, circuit_id)
    page = await versions.list_versions(session, circuit, paging)
    return Page(
        items=[VersionSummary.model_validate(v) for v in page.items],
        total=page.total,
        page=page.page,
        page_size=page.page_size,
    )


@router.post(
    "/{circuit_id}/versions",
    summary="Save a document as a new version (editors); 201 new, 200 unchanged, 422 with every problem",
    responses={201: {"description": "a new version"}, 200: {"description": "unchanged: the latest version"}},
)
async def save_version(
    project_id: ProjectId,
    circuit_id: CircuitId,
    body: VersionSave,
    response: Response,
    principal: CurrentPrincipal,
    session: SessionDep,
    metrics: MetricsDep,
) -> VersionSummary:
    access = await _editable(session, principal, project_id)
    circuit = await service.get_circuit(session, access, circuit_id, lock=True)
    return await _save(session, access, circuit, metrics, response, document=body.document, message=body.message)


@router.get("/{circuit_id}/versions/latest", summary="The newest version with its document (any member)")
async def read_latest_version(
    project_id: ProjectId, circuit_id: CircuitId, principal: CurrentPrincipal, session: SessionDep
) -> VersionRead:
    access = await project_access(session, principal, project_id)
    circuit = await service.get_circuit(session, access, circuit_id)
    return VersionRead.model_validate(await _version_or_latest(session, circuit, None))


@router.get("/{circuit_id}/versions/{number}", summary="One version with its document (any member)")
async def read_version(
    project_id: ProjectId,
    circuit_id: CircuitId,
    number: VersionNumber,
    principal: CurrentPrincipal,
    session: SessionDep,
) -> VersionRead:
    access = await project_access(session, principal, project_id)
    circuit = await service.get_circuit(session, access, circuit_id)
    return VersionRead.model_validate(await versions.get_version(session, circuit, number))


@router.post(
    "/{circuit_id}/versions/{number}/restore",
    summary="Save an old version's document as the newest version (editors); 200 if it already is",
    responses={201: {"description": "a new version"}, 200: {"description": "unchanged: the latest version"}},
)
async def restore_version(
    project_id: ProjectId,
    circuit_id: CircuitId,
    number: VersionNumber,
    response: Response,
    principal: CurrentPrincipal,
    session: SessionDep,
    metrics: MetricsDep,
    body: VersionRestore | None = None,
) -> VersionSummary:
    access = await _editable(session, principal, project_id)
    circuit = await service.get_circuit(session, access, circuit_id, lock=True)
    return await _save(
        session, access, circuit, metrics, response, restore=number, message=body.message if body else None
    )


@router.get("/{circuit_id}/diff", summary="Compare two versions: elements added, removed, changed (any member)")
async def diff_versions(
    project_id: ProjectId,
    circuit_id: CircuitId,
    principal: CurrentPrincipal,
    session: SessionDep,
    from_version: Annotated[int, Query(alias="from", ge=1, le=MAX_VERSION)],
    to_version: Annotated[
        int | None, Query(alias="to", ge=1, le=MAX_VERSION, description="defaults to the newest version")
    ] = None,
) -> VersionDiff:
    access = await project_access(session, principal, project_id)
    circuit = await service.get_circuit(session, access, circuit_id)
    old = await versions.get_version(session, circuit, from_version)
    new = await _version_or_latest(session, circuit, to_version)
    diff = await anyio.to_thread.run_sync(diff_documents, old.document, new.document)  # CPU: off the loop
    return VersionDiff.model_validate(
        {
            "circuit_id": circuit.id,
            "from_version": old.number,
            "to_version": new.number,
            "identical": diff.identical,
            "document": diff.document,
            "elements": diff.elements,
        },
        from_attributes=True,
    )


# --- helpers ----------------------------------------------------------------------------


async def _version_or_latest(session, circuit: Circuit, number: int | None) -> CircuitVersion:
    if number is not None:
        return await versions.get_version(session, circuit, number)
    latest = await versions.latest_version(session, circuit)
    if latest is None:
        raise not_found("circuit version (the circuit has none yet)")
    return latest


async def _read_upload(request: Request) -> tuple[dict[str, Any], str | None]:
    """The uploaded document: multipart field `file`, or the request body (JSON or gzip)."""
    max_bytes: int = request.app.state.settings.max_document_bytes
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:  # closes spooled temp files
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise validation_failed(
                    [field_error("file", "upload the circuit document in the form field 'file'", "missing")]
                )
            raw = await upload.read(max_bytes + 1)
            filename = upload.filename
    else:
        buffer = bytearray()
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) > max_bytes:
                raise too_large(max_bytes)
        raw = bytes(buffer)
        filename = None
    if not raw:
        raise validation_failed([field_error("", "the upload is empty", "empty_document")])
    # Decompressing and parsing a large upload is CPU work: off the event loop.
    document = await anyio.to_thread.run_sync(functools.partial(decode_document, raw, max_bytes=max_bytes))
    return document, filename


def _pretty_json(document: Any) -> bytes:
    return json.dumps(document, indent=2, ensure_ascii=False).encode("utf-8")


def _default_name(document: dict[str, Any], filename: str | None) -> str:
    for candidate in (document.get("title"), document.get("id")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()[:200]
    if filename:
        return re.sub(r"(\.json)?(\.gz)?$", "", filename)[:200] or "Imported circuit"
    return "Imported circuit"


def _safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "circuit"
