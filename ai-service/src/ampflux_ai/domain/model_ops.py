"""Starting and stopping models on an Ollama server, and what state each model is in.

`start` runs in the background (a pull can take minutes): pull the model if the server does
not have it, then load it with the configured keep-alive. Its progress lives in this process
(one entry per server and model); a status asked of another replica still sees loaded /
unloaded / not-present from Ollama itself, only the pull percent is this replica's.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from ampflux_shared.errors import bad_gateway, conflict

from ..metrics import AIMetrics
from .ollama import OllamaClient, OllamaError
from .provider import ProviderConfig

log = logging.getLogger(__name__)


@dataclass
class Operation:
    state: str  # pulling | loading | failed | done
    percent: float | None = None
    detail: str = ""
    error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


def require_ollama(config: ProviderConfig) -> None:
    if config.kind != "ollama":
        raise conflict(
            "the AI provider is OpenAI-style: it cannot load or unload models (set AI_PROVIDER_KIND=ollama, or "
            "kind 'ollama' in the company's provider settings, for an Ollama server)",
            slug="ai-provider-cannot-manage-models",
        )


class ModelOperations:
    def __init__(self, metrics: AIMetrics, keep_alive: str) -> None:
        self.metrics = metrics
        self.keep_alive = keep_alive
        self._ops: dict[tuple[str, str], Operation] = {}

    async def start(self, client: OllamaClient, model: str) -> dict[str, Any]:
        key = (client.url, model)
        current = self._ops.get(key)
        if current is None or current.state in ("failed", "done"):
            op = Operation(state="loading")
            self._ops[key] = op
            op.task = asyncio.create_task(self._start(client, model, op), name=f"model-start:{model}")
        return await self.status(client, model)

    async def _start(self, client: OllamaClient, model: str, op: Operation) -> None:
        try:
            present = {str(t.get("model") or t.get("name")) for t in await client.tags()}
            if model not in present:
                op.state, op.percent = "pulling", 0.0
                async for progress in client.pull(model):
                    op.detail = progress.status
                    if progress.percent is not None:
                        op.percent = progress.percent
                op.percent = 100.0
                self.metrics.model_operations.labels("pull", "ok").inc()
            op.state = "loading"
            await client.load(model, self.keep_alive)
            op.state = "done"
            self.metrics.model_operations.labels("load", "ok").inc()
        except OllamaError as exc:
            op.state, op.error = "failed", str(exc)
            self.metrics.model_operations.labels("start", "error").inc()
            log.warning("starting model %s failed: %s", model, exc)

    async def stop(self, client: OllamaClient, model: str) -> dict[str, Any]:
        op = self._ops.pop((client.url, model), None)
        if op is not None and op.task is not None and not op.task.done():
            op.task.cancel()  # a pull in progress stops; Ollama keeps the layers it already has
        try:
            await client.unload(model)
        except OllamaError as exc:
            self.metrics.model_operations.labels("unload", "error").inc()
            raise bad_gateway(str(exc), slug="ai-provider-error") from None
        self.metrics.model_operations.labels("unload", "ok").inc()
        return await self.status(client, model)

    async def status(self, client: OllamaClient, model: str) -> dict[str, Any]:
        """not-present | pulling (percent) | loading | loaded | unloaded | failed (error)."""
        op = self._ops.get((client.url, model))
        if op is not None and op.state in ("pulling", "loading", "failed"):
            return {"id": model, "status": op.state, "percent": op.percent, "detail": op.detail, "error": op.error}
        try:
            loaded = {str(m.get("model") or m.get("name")): m for m in await client.running()}
            present = {str(t.get("model") or t.get("name")) for t in await client.tags()}
        except OllamaError as exc:
            raise bad_gateway(str(exc), slug="ai-provider-error") from None
        if model in loaded:
            return {"id": model, "status": "loaded", "expires_at": loaded[model].get("expires_at")}
        return {"id": model, "status": "unloaded" if model in present else "not-present"}

    async def close(self) -> None:
        tasks = [op.task for op in self._ops.values() if op.task is not None and not op.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
