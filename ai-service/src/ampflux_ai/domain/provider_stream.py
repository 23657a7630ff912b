"""A streamed chat completion as plain dicts, through the openai SDK's own request machinery.

`client.post` (the SDK's documented way to any endpoint) keeps what the SDK is for: base URL,
key, timeout, retries with backoff before the first byte, and its errors (`APIStatusError`,
`APITimeoutError`, `APIConnectionError`) for a failed status. What it skips is the typed layer:
`chat.completions.create` walks every message of the request through its parameter transform
and builds a pydantic object for every chunk, which cost more CPU than the rest of the reply
together (profiled: a third of the service's time under 50 concurrent streams, all of it before
or between tokens). Chunks here are the JSON objects the server sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx2
from openai import APIError, AsyncOpenAI

# The SDK's request header that asks it to hand back the unread streamed response.
_RAW_STREAM = {"X-Stainless-Raw-Response": "stream"}


async def chat_chunks(client: AsyncOpenAI, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
    """The chunks of a streamed `POST /chat/completions`, until `[DONE]` or the end of the
    body; an `error` the server sends mid-stream raises `APIError`, as the SDK's stream does."""
    response = await client.post(
        "/chat/completions",
        cast_to=httpx2.Response,
        body={**params, "stream": True},
        options={"headers": _RAW_STREAM},
    )
    try:
        data: list[str] = []
        event = ""
        async for line in response.aiter_lines():
            if line:
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "data":
                    data.append(value)
                elif field == "event":
                    event = value
                continue
            if not data:  # a blank line after comments or nothing
                continue
            payload = "\n".join(data)
            data, kind, event = [], event, ""
            if payload.startswith("[DONE]"):
                return
            chunk = json.loads(payload)
            if isinstance(chunk, dict) and (chunk.get("error") or kind == "error"):
                error = chunk.get("error") or chunk
                message = error.get("message") if isinstance(error, dict) else None
                raise APIError(str(message or error), response.request, body=error)
            yield chunk
    finally:
        await response.aclose()
