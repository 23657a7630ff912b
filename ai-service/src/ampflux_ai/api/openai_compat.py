"""OpenAI-compatible `POST /ai/v1/chat/completions` (stream or not) and `GET /ai/v1/models`.

Any OpenAI SDK or tool pointed at `<gateway>/ai/v1` with a platform API key as its key
(`Authorization: Bearer afx_...`, which the gateway exchanges) gets the platform's assistant:
its system prompt, the company's provider, quotas and tools. Nothing is stored as a
conversation; usage is counted like every other call.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from openai import OpenAIError
from pydantic import BaseModel, ConfigDict, Field

from ampflux_shared.errors import field_error, validation_failed
from ampflux_shared.security import CurrentPrincipal, Principal, scoped

from ..domain import usage
from ..domain.chat import Draft, StreamBroken, run_reply
from ..domain.generation import Generation
from ..domain.provider import failed_reply_problem, provider_problem
from ..domain.tools import Toolbox
from .deps import PROVIDER_RESPONSES, MetricsDep, ProvidersDep, SessionDep, SettingsDep, enforce_budget

router = APIRouter(prefix="/ai/v1", tags=["openai-compatible"], dependencies=[scoped("ai")])


class ToolCallFunction(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    # The arguments as the model wrote them: a JSON text (not parsed here).
    arguments: str = Field(default="", max_length=1_000_000)


class ToolCall(BaseModel):
    id: str = Field(min_length=1, max_length=200)
    type: Literal["function"] = "function"
    function: ToolCallFunction


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None
    # An assistant turn that asked for tools, and the tool results that answer it (by id):
    # passed on to the model as they came, so a client's own tool loop keeps its history.
    tool_calls: list[ToolCall] | None = Field(default=None, max_length=128)
    tool_call_id: str | None = Field(default=None, max_length=200)
    name: str | None = Field(default=None, max_length=200)


class ChatRequest(BaseModel):
    # Unknown OpenAI parameters (temperature, top_p...) are accepted and not passed on.
    model_config = ConfigDict(extra="allow")

    model: str | None = Field(default=None, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False


@router.get(
    "/models",
    summary="The model this platform answers with (OpenAI list format)",
    responses={503: PROVIDER_RESPONSES[503]},
)
async def list_models(principal: CurrentPrincipal, session: SessionDep, providers: ProvidersDep) -> dict[str, Any]:
    config = await providers.for_company(session, principal.company_id)
    return {"object": "list", "data": [{"id": config.model, "object": "model", "created": 0, "owned_by": "ampflux"}]}


def _text(content: str | list[dict[str, Any]] | None) -> str:
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content or ""


def _for_model(history: list[ChatMessage]) -> list[dict[str, Any]]:
    """The request's messages as the provider gets them, tool calls and results included. A tool
    result must answer a tool call an earlier assistant message made (providers refuse the
    request otherwise, which would come back as a 502): a 422 naming the message instead."""
    out: list[dict[str, Any]] = []
    asked: set[str] = set()
    errors = []
    for index, m in enumerate(history):
        message: dict[str, Any] = {"role": "system" if m.role == "developer" else m.role, "content": _text(m.content)}
        if m.role == "assistant" and m.tool_calls:
            message["tool_calls"] = [call.model_dump() for call in m.tool_calls]
            message["content"] = message["content"] or None
            asked.update(call.id for call in m.tool_calls)
        if m.role == "tool":
            if not m.tool_call_id:
                errors.append(field_error(f"messages[{index}].tool_call_id", "a tool result needs the call's id"))
            elif m.tool_call_id not in asked:
                errors.append(
                    field_error(
                        f"messages[{index}].tool_call_id",
                        "answers no tool call of an earlier assistant message",
                        "unknown_tool_call",
                    )
                )
            message["tool_call_id"] = m.tool_call_id
        if m.name:
            message["name"] = m.name
        out.append(message)
    if errors:
        raise validation_failed(errors)
    return out


@router.post(
    "/chat/completions",
    summary="OpenAI-compatible chat completion (stream or not), with the platform's tools",
    # `stream: true` answers Server-Sent Events: chat.completion.chunk objects, then `[DONE]`.
    responses={
        200: {"content": {"application/json": {}, "text/event-stream": {}}},
        **PROVIDER_RESPONSES,
    },
)
async def chat_completions(
    body: ChatRequest,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    providers: ProvidersDep,
    metrics: MetricsDep,
):
    await enforce_budget(session, principal, settings, metrics)
    config = await providers.for_company(session, principal.company_id)
    if all(m.role == "tool" for m in body.messages):  # only tool results: there is nothing to answer
        raise validation_failed(
            [field_error("messages", "needs at least one message that is not a tool result", "no_prompt")]
        )
    messages = _for_model(body.messages)
    if messages[0]["role"] != "system":
        messages.insert(0, {"role": "system", "content": settings.system_prompt})
    tools = Toolbox(
        bearer=request.headers.get("authorization", ""),
        project_url=settings.project_url,
        simulation_url=settings.simulation_url,
        timeout_s=settings.tool_timeout_s,
        study_wait_s=settings.study_wait_s,
        transport=getattr(request.app.state, "tool_transport", None),
    )
    draft = Draft(model=config.model)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    generation = Generation(uuid.uuid4())
    db = request.app.state.db

    async def work() -> None:
        try:
            await run_reply(
                providers.client(config),
                draft,
                messages,
                generation.emit,
                metrics,
                tools=tools,
                max_rounds=settings.max_tool_rounds,
            )
        except OpenAIError as exc:
            problem = provider_problem(exc)
            await generation.emit("error", {"status": problem.status, "message": problem.detail})
        except StreamBroken as exc:
            await generation.emit("error", {"status": 502, "message": str(exc)})
        else:
            await generation.emit("complete", {})
        finally:
            await _count(db, principal, draft, metrics)

    task = asyncio.create_task(work())
    if body.stream:
        return StreamingResponse(
            _chunks(generation, task, completion_id, created, config.model), media_type="text/event-stream"
        )
    await task
    last = generation.events[-1]
    if last.type == "error":
        raise failed_reply_problem(int(last.data["status"]), str(last.data["message"]))
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": config.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": draft.text},
                "finish_reason": draft.finish_reason or "stop",
            }
        ],
        "usage": draft.usage(),
    }


async def _count(db: Any, principal: Principal, draft: Draft, metrics: Any) -> None:
    if not (draft.tokens_in or draft.tokens_out):
        return
    async with db.session() as session:
        await usage.record(
            session,
            company_id=principal.company_id,
            user_id=principal.user_id,
            model=draft.model,
            tokens_in=draft.tokens_in,
            tokens_out=draft.tokens_out,
        )
    metrics.tokens.labels("in", draft.model).inc(draft.tokens_in)
    metrics.tokens.labels("out", draft.model).inc(draft.tokens_out)


async def _chunks(
    generation: Generation, task: asyncio.Task[None], completion_id: str, created: int, model: str
) -> AsyncIterator[str]:
    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    async for event in generation.follow():
        if event.type == "token":
            yield chunk({"content": event.data["text"]})
        elif event.type == "error":
            yield f"data: {json.dumps({'error': {'message': event.data['message'], 'code': event.data['status']}})}\n\n"
        elif event.type == "complete":
            yield chunk({}, "stop")
    yield "data: [DONE]\n\n"
    await task
