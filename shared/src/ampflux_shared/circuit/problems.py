"""What validation reports: one `CircuitProblem` per defect, addressed by a document path."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError


@dataclass(frozen=True, slots=True)
class CircuitProblem:
    """One defect in a circuit document.

    `path` addresses the offending value the way a person reads the JSON
    (`transformers[2].vn_lv_kv`, `study.faults[0]`; empty for the document itself),
    `code` is a stable machine-readable kind, `message` says what is wrong.
    """

    path: str
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class CircuitValidationError(ValueError):
    """Raised by `parse_circuit` with every problem found, not just the first."""

    def __init__(self, problems: Sequence[CircuitProblem]) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        super().__init__(f"circuit document has {len(self.problems)} problem(s):\n{lines}")


def format_path(loc: Iterable[str | int]) -> str:
    """('lines', 5, 'to_bus') -> 'lines[5].to_bus'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path


# pydantic's wording where it speaks Python ("... or instance of Bus") rather than JSON.
_JSON_WORDING = {"model_type": "Input should be a JSON object"}


def problems_from_validation_error(error: ValidationError) -> list[CircuitProblem]:
    return [
        CircuitProblem(format_path(item["loc"]), item["type"], _JSON_WORDING.get(item["type"], item["msg"]))
        for item in error.errors()
    ]
