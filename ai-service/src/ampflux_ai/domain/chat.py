"""One assistant reply: the bounded model/tool loop, streamed into a sink as it is written.

The loop calls the model; when it asks for tools, runs them (errors go back to the model as
the tool's result, never up to the user) and calls it again, at most `max_rounds` times.
Everything written so far lives in the `Draft`, so a failure midway still leaves the text and
tool calls that were produced, for the caller to store as a failed message.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from openai import AsyncOpenAI, OpenAIError

from ..metrics import AIMetrics
from .context_fit import CHARS_PER_TOKEN
from .generation import TOOL_OFFSET
from .provider import outcome_of
from .provider_stream import chat_chunks


class ToolRunner(Protocol):
    def specs(self) -> list[dict[str, Any]]: ...

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[bool, Any]: ...


Sink = Callable[[str, dict[str, Any]], Awaitable[None]]


class StreamBroken(Exception):
    """The provider's stream ended without saying it was finished."""


@dataclass
class Draft:
    model: str
    text: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    tokens_in: int = 0
    tokens_out: int = 0
    finish_reason: str | None = None
    started: float = field(default_factory=time.perf_counter)
    first_token_s: float | None = None

    def usage(self) -> dict[str, int]:
        return {
            "prompt_tokens": self.tokens_in,
            "completion_tokens": self.tokens_out,
            "total_tokens": self.tokens_in + self.tokens_out,
        }


def estimate_tokens(text: str) -> int:
    # Servers that send no usage still spend tokens: about four characters each.
    return max(1, len(text) // CHARS_PER_TOKEN) if text else 0


def estimate_prompt_tokens(conversation: Iterable[dict[str, Any]]) -> int:
    """The estimate for a request of these messages (their content)."""
    return sum(estimate_tokens(str(m.get("content") or "")) for m in conversation)


async def run_reply(
    client: AsyncOpenAI,
    draft: Draft,
    messages: list[dict[str, Any]],
    sink: Sink,
    metrics: AIMetrics,
    *,
    tools: ToolRunner | None = None,
    max_rounds: int = 6,
) -> Draft:
    """Stream the reply to `messages` into `sink` and `draft`; raises the provider's error."""
    conversation = list(messages)
    for round_no in range(max_rounds):
        # The last round offers no tools, so the model has to answer in words.
        offered = tools.specs() if tools is not None and round_no < max_rounds - 1 else []
        calls = await _one_call(client, draft, conversation, sink, metrics, offered)
        if not calls:
            return draft
        assert tools is not None
        conversation.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["raw"]}}
                    for c in calls
                ],
            }
        )
        for call in calls:
            await sink("tool_call", {"id": call["id"], "name": call["name"], "arguments": call["arguments"]})
            if call["arguments"] is None:
                ok, result = False, {"error": "arguments are not a JSON object"}
            else:
                try:
                    ok, result = await tools.call(call["name"], call["arguments"])
                except Exception as exc:  # a tool's own bug is still the model's to read, not a 500
                    ok, result = False, {"error": f"{type(exc).__name__}: {exc}"}
            metrics.tool_calls.labels(call["name"], "ok" if ok else "error").inc()
            record = {
                "id": call["id"],
                "name": call["name"],
                "arguments": call["arguments"] or {},
                "ok": ok,
                "result": result,
                # Where it came in the text: a stored reply's events in their order, with their ids.
                TOOL_OFFSET: len(draft.text),
            }
            draft.tool_calls.append(record)
            await sink("tool_result", {"id": call["id"], "name": call["name"], "ok": ok, "result": result})
            conversation.append(
                {"role": "tool", "tool_call_id": call["id"], "content": json.dumps(result, default=str)}
            )
    return draft


async def _one_call(
    client: AsyncOpenAI,
    draft: Draft,
    conversation: list[dict[str, Any]],
    sink: Sink,
    metrics: AIMetrics,
    tools: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """One streamed model call; the tool calls it asked for (none when it answered)."""
    started = time.perf_counter()
    error: BaseException | None = None
    pending: dict[int, dict[str, Any]] = {}
    text_before = len(draft.text)
    usage_seen = False
    try:
        params: dict[str, Any] = {
            "model": draft.model,
            "messages": conversation,
            # Servers that know it send the usage in a last chunk; others are estimated.
            "stream_options": {"include_usage": True},
        }
        if tools:
            params["tools"] = tools
        finish: str | None = None
        async for chunk in chat_chunks(client, params):
            usage = chunk.get("usage")
            if usage:
                usage_seen = True
                draft.tokens_in += usage.get("prompt_tokens") or 0
                draft.tokens_out += usage.get("completion_tokens") or 0
            for choice in chunk.get("choices") or ():
                delta = choice.get("delta") or {}
                content = delta.get("content")
                if content:
                    if draft.first_token_s is None:
                        draft.first_token_s = time.perf_counter() - draft.started
                        metrics.ttft.labels(draft.model).observe(draft.first_token_s)
                    draft.text += content
                    await sink("token", {"text": content})
                for tc in delta.get("tool_calls") or ():
                    slot = pending.setdefault(tc.get("index", 0), {"id": "", "name": "", "raw": ""})
                    if tc.get("id"):
                        slot["id"] = tc["id"]
                    function = tc.get("function")
                    if function:
                        slot["name"] += function.get("name") or ""
                        slot["raw"] += function.get("arguments") or ""
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
        if finish is None:
            raise StreamBroken("the provider's stream ended before the answer was finished")
        draft.finish_reason = finish
    except (OpenAIError, StreamBroken) as exc:
        error = exc
        raise
    except Exception as exc:
        # The SDK's transport raised midway (a connection dropped mid-stream): a broken stream.
        error = StreamBroken(f"{type(exc).__name__}: {exc}")
        raise error from exc
    finally:
        outcome = "broken" if isinstance(error, StreamBroken) else outcome_of(error)
        elapsed = time.perf_counter() - started
        metrics.provider_calls.labels(draft.model, outcome).inc()
        metrics.provider_latency.labels(draft.model, outcome).observe(elapsed)
        if not usage_seen:
            draft.tokens_in += estimate_prompt_tokens(conversation)
            draft.tokens_out += estimate_tokens(draft.text[text_before:])
    calls = []
    for index in sorted(pending):
        slot = pending[index]
        try:
            arguments = json.loads(slot["raw"] or "{}")
        except json.JSONDecodeError:
            arguments = None
        if not isinstance(arguments, dict):
            arguments = None
        calls.append(
            {
                "id": slot["id"] or f"call_{index}",
                "name": slot["name"],
                "raw": slot["raw"] or "{}",
                "arguments": arguments,
            }
        )
    return calls
