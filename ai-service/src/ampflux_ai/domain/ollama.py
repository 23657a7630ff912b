"""Ollama's native API (not its OpenAI-style /v1): list, describe, pull, load and unload models.

https://github.com/ollama/ollama/blob/main/docs/api.md — `/api/tags` (models on disk),
`/api/ps` (models in memory), `/api/show` (context length, capabilities), `/api/pull`
(streamed NDJSON progress), `/api/generate` with no prompt (loads; `keep_alive: 0` unloads).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx


class OllamaError(Exception):
    """Ollama answered with an error or could not be reached."""


def native_url(base_url: str, explicit: str = "") -> str:
    """The native API's root: the explicit setting, else the OpenAI-style URL without `/v1`."""
    url = (explicit or base_url).rstrip("/")
    return url.removesuffix("/v1")


@dataclass(frozen=True)
class PullProgress:
    status: str
    # Bytes over every layer seen so far (Ollama reports each layer by its digest).
    completed: int
    total: int

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.completed / self.total, 1) if self.total else None


class OllamaClient:
    def __init__(self, url: str, *, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url
        self._timeout = timeout_s
        self._transport = transport

    def _client(self, timeout: float | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, timeout=self._timeout if timeout is None else timeout, transport=self._transport
        )

    async def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        try:
            async with self._client() as client:
                response = await client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise OllamaError(f"Ollama at {self.url} is unreachable: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise OllamaError(f"Ollama {method} {path} answered {response.status_code}: {_error_of(response.text)}")
        return response.json()

    async def tags(self) -> list[dict[str, Any]]:
        return list((await self._json("GET", "/api/tags")).get("models") or [])

    async def running(self) -> list[dict[str, Any]]:
        return list((await self._json("GET", "/api/ps")).get("models") or [])

    async def show(self, model: str) -> dict[str, Any]:
        return dict(await self._json("POST", "/api/show", {"model": model}))

    async def load(self, model: str, keep_alive: str) -> None:
        # No prompt: Ollama loads the model and keeps it for `keep_alive`.
        await self._json("POST", "/api/generate", {"model": model, "keep_alive": keep_alive, "stream": False})

    async def unload(self, model: str) -> None:
        await self._json("POST", "/api/generate", {"model": model, "keep_alive": 0, "stream": False})

    async def pull(self, model: str) -> AsyncIterator[PullProgress]:
        """Pull `model`, yielding the progress as Ollama streams it; raises OllamaError on failure."""
        layers: dict[str, tuple[int, int]] = {}
        try:
            # No read timeout: a large model takes minutes, and progress lines keep coming.
            async with (
                self._client(timeout=None) as client,
                client.stream("POST", "/api/pull", json={"model": model, "stream": True}) as response,
            ):
                if response.status_code >= 400:
                    raise OllamaError(f"Ollama pull of {model} answered {response.status_code}")
                async for line in response.aiter_lines():
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    if event.get("error"):
                        raise OllamaError(f"Ollama could not pull {model}: {event['error']}")
                    if event.get("digest") and event.get("total"):
                        layers[event["digest"]] = (int(event.get("completed") or 0), int(event["total"]))
                    yield PullProgress(
                        status=str(event.get("status") or ""),
                        completed=sum(c for c, _ in layers.values()),
                        total=sum(t for _, t in layers.values()),
                    )
        except httpx.HTTPError as exc:
            raise OllamaError(f"Ollama at {self.url} broke off the pull: {type(exc).__name__}") from exc
        except json.JSONDecodeError as exc:
            raise OllamaError(f"Ollama sent a progress line that is not JSON: {exc}") from exc


def context_length_of(show: dict[str, Any]) -> int | None:
    """`model_info` names it per architecture (`llama.context_length`, `qwen2.context_length`...)."""
    for key, value in (show.get("model_info") or {}).items():
        if key.endswith(".context_length") and isinstance(value, int):
            return value
    return None


def _error_of(text: str) -> str:
    try:
        return str(json.loads(text).get("error") or text[:300])
    except (ValueError, AttributeError):
        return text[:300]
