"""Files: upload (multipart, streamed to storage), list, read, download, delete, analyze."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import StreamingResponse

from ampflux_shared.errors import conflict, field_error, not_found, too_large, validation_failed
from ampflux_shared.pagination import Page
from ampflux_shared.security import CurrentPrincipal, scoped

from ..domain import files as service
from ..domain.file_analysis import AnalysisContext, analyze_file
from ..domain.uploads import UploadLimitExceeded, UploadMalformed, spool_multipart
from ..schemas import FileAnalysis, FileAnalyzeRequest, FileRead, FileUploadResult
from .deps import PROVIDER_RESPONSES, MetricsDep, PageDep, SessionDep, SettingsDep, after_commit, enforce_budget

router = APIRouter(prefix="/ai/files", tags=["files"], dependencies=[scoped("ai")])

UPLOAD_PATH = "/ai/files"
_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "array", "items": {"type": "string", "format": "binary"}}},
                    "required": ["file"],
                }
            }
        },
    }
}
_ENV = {
    "file_max_bytes": "AI_FILE_MAX_BYTES",
    "company_max_file_bytes": "AI_COMPANY_MAX_FILE_BYTES",
    "company_max_files": "AI_COMPANY_MAX_FILES",
}

# Blob deletions scheduled after commit: held so they are not collected while they run.
_pending: set[asyncio.Task[bool]] = set()


def _store(request: Request):
    return request.app.state.file_store


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Upload one or several files (multipart/form-data, each part with a filename)",
    openapi_extra=_UPLOAD_BODY,
    responses={
        409: {"description": "the company's file count limit is reached (the problem names it)"},
        413: {"description": "a file, or the company's files in all, would pass a size limit (named)"},
        422: {"description": "not a multipart body with files, or a file whose name promises another type"},
    },
)
async def upload_files(
    request: Request, principal: CurrentPrincipal, session: SessionDep, settings: SettingsDep, metrics: MetricsDep
) -> FileUploadResult:
    used = await service.company_usage(session, principal.company_id)
    if used.files >= settings.company_max_files:
        metrics.file_refusals.labels("count").inc()
        raise conflict(
            f"the company already stores {used.files} files, the limit (AI_COMPANY_MAX_FILES)",
            slug="file-count-limit",
            limit="company_max_files",
            max=settings.company_max_files,
        )
    try:
        spooled = await spool_multipart(
            request.stream(),
            request.headers.get("content-type", ""),
            service.spool_dir(settings.files_root()),
            max_file_bytes=settings.file_max_bytes,
            max_total_bytes=settings.company_max_file_bytes - used.bytes,
            max_files=settings.company_max_files - used.files,
        )
    except UploadLimitExceeded as exc:
        env = _ENV[exc.limit]
        if exc.limit == "company_max_files":
            metrics.file_refusals.labels("count").inc()
            raise conflict(f"{exc} ({env})", slug="file-count-limit", limit=exc.limit) from None
        metrics.file_refusals.labels("size").inc()
        problem = too_large(f"{exc} ({env})", slug="file-too-large")
        problem.extra["limit"] = exc.limit
        raise problem from None
    except UploadMalformed as exc:
        raise validation_failed([field_error("body", str(exc), "malformed_multipart")]) from None
    if not spooled:
        raise validation_failed([field_error("file", "no file part (a part with a filename) in the body", "missing")])
    try:
        checked = service.check_types(spooled)
    except Exception:
        metrics.file_refusals.labels("type").inc()
        await asyncio.to_thread(service.discard_files, spooled)
        raise
    rows = await service.store_files(
        session, request.app.state.file_store, principal, checked, max_text_chars=settings.file_text_max_chars
    )

    def count() -> None:
        for row in rows:
            metrics.files_uploaded.labels(row.media_type).inc()
            metrics.file_bytes.inc(row.size)

    after_commit(session, count)
    return FileUploadResult(items=[FileRead.model_validate(r) for r in rows])


@router.get("", summary="The company's files, newest first")
async def list_files(principal: CurrentPrincipal, session: SessionDep, paging: PageDep) -> Page[FileRead]:
    rows = await service.list_for_company(session, principal, paging)
    return Page(
        items=[FileRead.model_validate(r) for r in rows.items],
        total=rows.total,
        page=rows.page,
        page_size=rows.page_size,
    )


@router.get("/{file_id}", summary="A file's details")
async def read_file(file_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep) -> FileRead:
    return FileRead.model_validate(await service.get_for_company(session, principal, file_id))


@router.get(
    "/{file_id}/content",
    summary="The file's bytes (streamed), with its sniffed media type",
    response_class=StreamingResponse,
    # Any media type: the answer carries the type sniffed from the content at upload.
    responses={200: {"content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}},
)
async def read_content(
    file_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: SessionDep
) -> StreamingResponse:
    row = await service.get_for_company(session, principal, file_id)
    store = _store(request)
    # Checked before the answer starts: a missing blob mid-stream could only cut the connection.
    if not await store.exists(row.sha256):
        raise not_found("file content")
    quoted = row.name.replace("\\", "_").replace('"', "_")
    return StreamingResponse(
        store.read(row.sha256),
        media_type=row.media_type,
        headers={
            "Content-Length": str(row.size),
            "Content-Disposition": f'attachment; filename="{quoted.encode("ascii", "replace").decode()}"',
            "ETag": f'"{row.sha256}"',
        },
    )


@router.delete("/{file_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a file")
async def delete_file(
    file_id: uuid.UUID, request: Request, principal: CurrentPrincipal, session: SessionDep
) -> Response:
    row = await service.get_for_company(session, principal, file_id)
    orphan = await service.delete(session, row)
    if orphan is not None:
        store, db = _store(request), request.app.state.db

        def remove_blob() -> None:
            task = asyncio.get_running_loop().create_task(service.remove_blob_if_unused(db, store, orphan))
            _pending.add(task)
            task.add_done_callback(_pending.discard)

        after_commit(session, remove_blob)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{file_id}/analyze",
    summary="A circuit document: counts, voltage levels, problems (and a study on request); else the model's summary",
    responses={
        **PROVIDER_RESPONSES,
        422: {"description": "a study asked for without a project_id, or of a document that is not valid"},
    },
)
async def analyze(
    file_id: uuid.UUID,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    body: FileAnalyzeRequest | None = None,
) -> FileAnalysis:
    body = body or FileAnalyzeRequest()
    row = await service.get_for_company(session, principal, file_id)
    state = request.app.state
    context = AnalysisContext(
        store=state.file_store,
        providers=state.providers,
        catalog=state.model_catalog,
        settings=settings,
        metrics=metrics,
        bearer=request.headers.get("authorization", ""),
        transport=getattr(state, "tool_transport", None),
    )
    return await analyze_file(
        context,
        session,
        principal,
        row,
        body,
        before_model=lambda: enforce_budget(session, principal, settings, metrics),
    )
