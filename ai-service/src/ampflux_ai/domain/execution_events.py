"""The events of an execution's stream, derived from its stored state.

Each event has a fixed id: step `p` started is `2p+1`, finished `2p+2`, the execution's end
`2n+1` (n steps). A stream sends every event whose id is above the last one it sent (or the
client's `Last-Event-ID`), so a client that connects late, or reconnects, still gets every
step's start and finish, each once, in order. A step started again after its worker died
keeps its one `step_started` (its `attempts` says how often it ran).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..models import PipelineExecution, PipelineStepRun
from .executions import TERMINAL

FINISHED_STEP = frozenset({"succeeded", "failed", "cancelled", "skipped"})


@dataclass(frozen=True)
class ExecutionEvent:
    id: int
    type: str  # step_started | step_finished | execution_finished
    data: dict[str, Any]


def _step(step: PipelineStepRun) -> dict[str, Any]:
    return {"position": step.position, "name": step.name, "kind": step.kind}


def events_of(execution: PipelineExecution, steps: list[PipelineStepRun]) -> list[ExecutionEvent]:
    out: list[ExecutionEvent] = []
    for step in steps:
        if step.started_at is not None:
            out.append(
                ExecutionEvent(
                    2 * step.position + 1,
                    "step_started",
                    {**_step(step), "started_at": step.started_at.isoformat(), "attempt": step.attempts},
                )
            )
        if step.status in FINISHED_STEP:
            out.append(
                ExecutionEvent(
                    2 * step.position + 2,
                    "step_finished",
                    {
                        **_step(step),
                        "status": step.status,
                        "output": step.output,
                        "error": step.error,
                        "model": step.model,
                        "tokens_in": step.tokens_in,
                        "tokens_out": step.tokens_out,
                        "duration_ms": step.duration_ms,
                        "attempts": step.attempts,
                    },
                )
            )
    if execution.status in TERMINAL:
        out.append(
            ExecutionEvent(
                2 * len(steps) + 1,
                "execution_finished",
                {
                    "id": str(execution.id),
                    "status": execution.status,
                    "error": execution.error,
                    "output": steps[-1].output if execution.status == "succeeded" and steps else None,
                    "tokens_in": execution.tokens_in,
                    "tokens_out": execution.tokens_out,
                },
            )
        )
    return out
