"""Pipeline templates: `{{inputs.<name>}}` and `{{steps.<name>.output}}` (optionally with a
path into a structured output, `{{steps.study.output.run_id}}`).

Text fields get the value as text (JSON for anything but a string). In a tool's arguments, a
string that is nothing but one placeholder takes the value itself, so a number or an object
stays one (`"version": "{{inputs.version}}"` passes the integer).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
SYNTAX = "use {{inputs.<name>}} or {{steps.<name>.output}}"


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Reference:
    root: str  # "inputs" | "steps"
    name: str
    path: tuple[str, ...] = ()  # keys inside a step's output


def parse_reference(expression: str) -> Reference:
    parts = expression.split(".")
    if parts[0] == "inputs" and len(parts) == 2 and _NAME.match(parts[1]):
        return Reference("inputs", parts[1])
    if parts[0] == "steps" and len(parts) >= 3 and _NAME.match(parts[1]) and parts[2] == "output" and all(parts[3:]):
        return Reference("steps", parts[1], tuple(parts[3:]))
    raise TemplateError(f"unknown placeholder {{{{{expression}}}}}: {SYNTAX}")


def references(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path of the field, expression) for every placeholder in a string or JSON value."""
    if isinstance(value, str):
        for match in PLACEHOLDER.finditer(value):
            yield path, match.group(1)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from references(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from references(item, f"{path}[{index}]")


@dataclass(frozen=True)
class Context:
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]  # step name -> its stored output

    def lookup(self, expression: str) -> Any:
        ref = parse_reference(expression)
        if ref.root == "inputs":
            if ref.name not in self.inputs:
                raise TemplateError(f"no input named {ref.name!r} was given")
            return self.inputs[ref.name]
        if ref.name not in self.outputs:
            raise TemplateError(f"step {ref.name!r} has no output yet")
        value = self.outputs[ref.name]
        for key in ref.path:
            if isinstance(value, Mapping) and key in value:
                value = value[key]
            elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
                value = value[int(key)]
            else:
                raise TemplateError(f"the output of step {ref.name!r} has no {'.'.join(ref.path)!r}")
        return value


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)


def render_text(template: str, context: Context) -> str:
    return PLACEHOLDER.sub(lambda m: as_text(context.lookup(m.group(1))), template)


def render_value(value: Any, context: Context) -> Any:
    """A JSON value with every placeholder filled (a lone placeholder keeps its value's type)."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value.strip())
        if whole is not None:
            return context.lookup(whole.group(1))
        return render_text(value, context)
    if isinstance(value, Mapping):
        return {key: render_value(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render_value(item, context) for item in value]
    return value
