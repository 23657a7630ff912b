"""What makes a pipeline definition valid, checked on save with a path per problem.

Steps run in their order, so a step may only use the outputs of steps before it: a reference
to itself or to a later step is refused (as a cycle when the later step, directly or not,
refers back). Unknown kinds, unknown tools, fields that do not belong to the kind, undeclared
inputs and duplicate names are refused too; every problem is listed at once.
"""

from __future__ import annotations

from typing import Any

from ampflux_shared.errors import field_error, validation_failed

from ..schemas import PipelineCreate, PipelineStep
from .templates import Reference, TemplateError, parse_reference, references
from .tools import SPECS

KINDS = ("prompt", "tool", "study")
TOOL_NAMES = tuple(sorted(spec["function"]["name"] for spec in SPECS))
# Which optional fields each kind uses; any other one set is a mistake worth naming.
_FIELDS = {"prompt": {"prompt", "system"}, "tool": {"tool", "arguments"}, "study": {"study"}}
_REQUIRED = {"prompt": "prompt", "tool": "tool", "study": "study"}


def templated_fields(step: PipelineStep, at: str) -> list[tuple[str, Any]]:
    """(path, value) of every field of `step` that may hold templates."""
    fields: list[tuple[str, Any]] = []
    if step.prompt is not None:
        fields.append((f"{at}.prompt", step.prompt))
    if step.system is not None:
        fields.append((f"{at}.system", step.system))
    if step.arguments is not None:
        fields.append((f"{at}.arguments", step.arguments))
    if step.study is not None:
        fields.append((f"{at}.study", step.study.model_dump()))
    return fields


def check_definition(definition: PipelineCreate) -> None:
    """Raise a 422 problem listing every problem of `definition`, each with its path."""
    errors: list[dict[str, str]] = []
    input_names: set[str] = set()
    for i, item in enumerate(definition.inputs):
        if item.name in input_names:
            errors.append(field_error(f"inputs[{i}].name", f"another input is named {item.name!r}", "duplicate"))
        input_names.add(item.name)

    positions: dict[str, int] = {}
    for i, step in enumerate(definition.steps):
        if step.name in positions:
            errors.append(
                field_error(
                    f"steps[{i}].name",
                    f"steps[{positions[step.name]}] is already named {step.name!r}; step names are unique",
                    "duplicate",
                )
            )
        else:
            positions[step.name] = i

    # Every step's references, for the order and cycle checks below.
    refs: dict[int, list[tuple[str, Reference]]] = {}
    for i, step in enumerate(definition.steps):
        at = f"steps[{i}]"
        errors.extend(_check_kind(step, at))
        found: list[tuple[str, Reference]] = []
        for path, value in templated_fields(step, at):
            for where, expression in references(value, path):
                try:
                    ref = parse_reference(expression)
                except TemplateError as exc:
                    errors.append(field_error(where, str(exc), "bad_template"))
                    continue
                if ref.root == "inputs" and ref.name not in input_names:
                    errors.append(
                        field_error(where, f"no input named {ref.name!r} is declared in `inputs`", "unknown_input")
                    )
                elif ref.root == "steps" and ref.name not in positions:
                    errors.append(field_error(where, f"no step is named {ref.name!r}", "unknown_step"))
                elif ref.root == "steps":
                    found.append((where, ref))
        refs[i] = found

    graph = {i: {positions[r.name] for _, r in found} for i, found in refs.items()}
    for i, found in refs.items():
        for where, ref in found:
            j = positions[ref.name]
            if j == i:
                errors.append(field_error(where, f"step {ref.name!r} refers to its own output (a cycle)", "cycle"))
            elif j > i:
                loop = _path(graph, j, i)
                if loop is not None:
                    names = " → ".join(definition.steps[k].name for k in [i, *loop])
                    errors.append(field_error(where, f"steps {names} form a cycle", "cycle"))
                else:
                    errors.append(
                        field_error(
                            where,
                            f"step {ref.name!r} (steps[{j}]) runs after this one; "
                            "a step may only use the outputs of earlier steps",
                            "later_step",
                        )
                    )
    if errors:
        raise validation_failed(errors, f"the pipeline definition has {len(errors)} problem(s)")


def _check_kind(step: PipelineStep, at: str) -> list[dict[str, str]]:
    if step.kind not in KINDS:
        return [
            field_error(f"{at}.kind", f"unknown step kind {step.kind!r}; kinds: {', '.join(KINDS)}", "unknown_kind")
        ]
    errors = []
    required = _REQUIRED[step.kind]
    value = getattr(step, required)
    if value is None or (isinstance(value, str) and not value.strip()):
        errors.append(field_error(f"{at}.{required}", f"a {step.kind} step needs `{required}`", "missing"))
    for other in ("prompt", "system", "tool", "arguments", "study"):
        if other not in _FIELDS[step.kind] and getattr(step, other) is not None:
            errors.append(field_error(f"{at}.{other}", f"a {step.kind} step has no `{other}`", "not_allowed"))
    if step.kind == "tool" and step.tool is not None and step.tool not in TOOL_NAMES:
        errors.append(
            field_error(f"{at}.tool", f"unknown tool {step.tool!r}; tools: {', '.join(TOOL_NAMES)}", "unknown_tool")
        )
    return errors


def _path(graph: dict[int, set[int]], start: int, goal: int) -> list[int] | None:
    """Step indices from `start` to `goal` along references (depth first), or None."""
    stack: list[tuple[int, list[int]]] = [(start, [start])]
    seen = {start}
    while stack:
        node, trail = stack.pop()
        if node == goal:
            return trail
        for nxt in sorted(graph.get(node, ())):
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*trail, nxt]))
    return None


def resolve_inputs(definition_inputs: list[dict[str, Any]], given: dict[str, Any]) -> dict[str, Any]:
    """The inputs an execution runs with (defaults filled); 422 naming what is missing or unknown."""
    declared = {item["name"]: item for item in definition_inputs}
    errors = [
        field_error(f"inputs.{name}", f"the pipeline declares no input {name!r}", "unknown_input")
        for name in given
        if name not in declared
    ]
    values: dict[str, Any] = {}
    for name, item in declared.items():
        if name in given:
            values[name] = given[name]
        elif item.get("default") is not None:
            values[name] = item["default"]
        else:
            errors.append(field_error(f"inputs.{name}", "this input is required (it has no default)", "missing"))
    if errors:
        raise validation_failed(errors)
    return values
