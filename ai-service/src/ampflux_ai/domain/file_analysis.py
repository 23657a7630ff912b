"""Analysing an uploaded file. A circuit document (JSON, JSON.gz, or CSV tables) gets a real
analysis without the model — validation problems, element counts, voltage levels — and, on
request, a short-circuit study; any other file with text gets the model's summary.

The study runs on the simulation service (`POST /simulations` with the document inline, in a
project the caller names, with the caller's own token), the way the assistant's tools start
studies: the AI service never imports the solver (services share only `shared/`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from openai import OpenAIError
from sqlalchemy.ext.asyncio import AsyncSession

from ampflux_shared.circuit import MAX_DOCUMENT_BYTES
from ampflux_shared.circuit.io import CircuitFileError, load_circuit_bytes
from ampflux_shared.errors import field_error, unprocessable, validation_failed
from ampflux_shared.security import Principal

from ..models import StoredFile
from ..schemas import FileAnalysis, FileAnalyzeRequest, Usage
from . import usage
from .circuit_csv import csv_tables_to_document, looks_like_circuit_tables
from .context_fit import CHARS_PER_TOKEN, FileText, budget_chars, fit
from .provider import outcome_of, provider_problem
from .tools import Toolbox, ToolError, summarise_document

SUMMARY_PROMPT = (
    "Summarise the file below for an electrical engineer: what it is, its main content and "
    "figures, and anything that looks wrong or incomplete. Be brief. If a note says part of the "
    "file was cut, say that the summary covers only the part shown."
)
SUMMARY_RESERVE_TOKENS = 1024


async def read_blob(store: Any, sha256: str, max_bytes: int) -> bytes | None:
    """The blob's bytes when it is at most `max_bytes` long, else None."""
    out = bytearray()
    async for chunk in store.read(sha256):
        out += chunk
        if len(out) > max_bytes:
            return None
    return bytes(out)


async def circuit_document_of(row: StoredFile, store: Any) -> dict[str, Any] | None:
    """The file's circuit document, or None when it is not one."""
    if row.media_type not in ("application/json", "application/gzip", "text/csv"):
        return None
    if row.media_type == "text/csv":
        if not row.text or not looks_like_circuit_tables(row.text):
            return None
        return await asyncio.to_thread(csv_tables_to_document, row.text)
    raw = await read_blob(store, row.sha256, MAX_DOCUMENT_BYTES)
    if raw is None:
        return None
    try:
        data = await asyncio.to_thread(load_circuit_bytes, raw, max_bytes=MAX_DOCUMENT_BYTES, name=row.name)
    except CircuitFileError:
        return None
    return data if data.get("format") == "circuit-document" else None


class DocumentStudy(Toolbox):
    """A study of an inline document on the simulation service, waited for like the tool's."""

    async def study_document(self, project_id: str, document: dict[str, Any], options: dict[str, Any]) -> Any:
        run = await self._request(
            "POST",
            f"{self._simulation}/simulations",
            json={"project_id": project_id, "document": document, "options": options},
        )
        out = await self.wait_for_run(run)
        if out["status"] == "succeeded":
            out.update(await self.read_results({"run_id": out["run_id"]}))
        return out


@dataclasses.dataclass
class AnalysisContext:
    store: Any
    providers: Any
    catalog: Any
    settings: Any
    metrics: Any
    bearer: str
    transport: Any = None


async def analyze_file(
    ctx: AnalysisContext,
    session: AsyncSession,
    principal: Principal,
    row: StoredFile,
    body: FileAnalyzeRequest,
    *,
    before_model: Callable[[], Awaitable[None]],
) -> FileAnalysis:
    document = await circuit_document_of(row, ctx.store)
    if document is not None:
        ctx.metrics.file_analyses.labels("circuit").inc()
        return await _analyze_circuit(ctx, row, document, body)
    if body.study:
        raise validation_failed([field_error("study", "the file is not a circuit document", "not_a_circuit")])
    ctx.metrics.file_analyses.labels("model").inc()
    return await _summarise(ctx, session, principal, row, before_model)


async def _analyze_circuit(
    ctx: AnalysisContext, row: StoredFile, document: dict[str, Any], body: FileAnalyzeRequest
) -> FileAnalysis:
    summary = await asyncio.to_thread(summarise_document, document)
    summary["bus_count"] = len(document.get("buses") or [])
    study = None
    if body.study:
        if body.project_id is None:
            raise validation_failed(
                [field_error("project_id", "a study runs in a project: name one you may edit", "missing")]
            )
        if summary["problems"]:
            raise unprocessable(
                f"{row.name} is not a valid circuit document ({len(summary['problems'])} problems); fix them first",
                slug="circuit-invalid",
                problems=summary["problems"],
            )
        s = ctx.settings
        runner = DocumentStudy(
            bearer=ctx.bearer,
            project_url=s.project_url,
            simulation_url=s.simulation_url,
            timeout_s=s.tool_timeout_s,
            study_wait_s=s.study_wait_s,
            transport=ctx.transport,
        )
        try:
            study = await runner.study_document(str(body.project_id), document, body.options)
        except ToolError as exc:  # the simulation service refused (its answer is in the message)
            study = {"status": "failed", "error": str(exc)}
        except httpx.HTTPError as exc:
            study = {"status": "failed", "error": f"the simulation service did not answer: {type(exc).__name__}"}
    return FileAnalysis(file_id=row.id, kind="circuit", circuit=summary, study=study)


async def _summarise(
    ctx: AnalysisContext,
    session: AsyncSession,
    principal: Principal,
    row: StoredFile,
    before_model: Callable[[], Awaitable[None]],
) -> FileAnalysis:
    if not row.text:
        raise unprocessable(f"{row.name} has no text to summarise ({row.media_type})", slug="file-has-no-text")
    await before_model()
    config = await ctx.providers.for_company(session, principal.company_id)
    model = await ctx.catalog.default_model(session, config, principal.company_id)
    window = await ctx.catalog.context_tokens(config, model)
    budget = budget_chars(window, len(SUMMARY_PROMPT), SUMMARY_RESERVE_TOKENS)
    fitted = fit([FileText(row.name, row.text, row.text_chars)], budget)[0]
    started = time.perf_counter()
    error: BaseException | None = None
    try:
        answer = await ctx.providers.client(config).chat.completions.create(
            model=model,
            messages=[
                {"role": "system", "content": SUMMARY_PROMPT},
                {"role": "user", "content": fitted.content},
            ],
        )
    except OpenAIError as exc:
        error = exc
        raise provider_problem(exc) from None
    finally:
        outcome = outcome_of(error)
        ctx.metrics.provider_calls.labels(model, outcome).inc()
        ctx.metrics.provider_latency.labels(model, outcome).observe(time.perf_counter() - started)
    tokens_in = answer.usage.prompt_tokens if answer.usage else len(fitted.content) // CHARS_PER_TOKEN
    tokens_out = answer.usage.completion_tokens if answer.usage else 0
    await usage.record(
        session,
        company_id=principal.company_id,
        user_id=principal.user_id,
        model=model,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
    )
    ctx.metrics.tokens.labels("in", model).inc(tokens_in)
    ctx.metrics.tokens.labels("out", model).inc(tokens_out)
    note = None
    if fitted.cut:
        note = f"the summary covers characters 1–{fitted.used_chars} of {fitted.total_chars} (the model's window)"
    return FileAnalysis(
        file_id=row.id,
        kind="summary",
        summary=answer.choices[0].message.content or "",
        model=model,
        note=note,
        usage=Usage(prompt_tokens=tokens_in, completion_tokens=tokens_out, total_tokens=tokens_in + tokens_out),
    )
