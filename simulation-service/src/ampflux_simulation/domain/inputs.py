"""Turn a circuit document plus study options into the exact input a run will solve."""

from __future__ import annotations

import copy
import gzip
from dataclasses import dataclass
from typing import Any

from ampflux_shared.circuit import canonical_json, document_sha256, validate_circuit
from ampflux_shared.circuit.rules import rules_digest
from ampflux_shared.errors import field_error, validation_failed

from ..schemas import StudyOptions


@dataclass(frozen=True)
class StudyInput:
    document: dict[str, Any]
    document_id: str
    bus_count: int
    sha256: str
    # The options the solver is called with (faults, cases, buses, branches_for); the
    # document-level ones (ip_method, tk_s, duty) are already written into `document["study"]`.
    solve_options: dict[str, Any]
    # The rules the document was validated under (stored with it for the solve).
    validated_rules: str = ""


def prepare_input(document: Any, options: StudyOptions, *, path_prefix: str = "") -> StudyInput:
    """The validated input, or a 422 problem listing every defect with its path.

    `path_prefix` places the document's paths in the request (`document.` for an inline
    document) so each error points at what the caller sent.
    """
    if not isinstance(document, dict):
        raise validation_failed([field_error(path_prefix.rstrip("."), "a circuit document must be a JSON object")])
    document = copy.deepcopy(document)
    study = document.get("study")
    if isinstance(study, dict):
        # Options that change the calculation are written into the document snapshot, so
        # the stored input alone reproduces the run.
        if options.ip_method is not None:
            study["kappa_method"] = options.ip_method
        if options.tk_s is not None:
            study["tk_s"] = options.tk_s
        if options.duty is not None:
            study["duty"] = options.duty
    # the switching state and faults along lines too, once checked against the document (the
    # errors then name the option the caller sent, not a path of the document)
    option_errors = _switching_option_errors(document, options)
    if isinstance(study, dict) and not option_errors:
        if options.scenario is not None:
            study["scenario"] = options.scenario
        if options.line_faults is not None:
            study["line_faults"] = [fault.model_dump() for fault in options.line_faults]

    problems = validate_circuit(document, faults=options.faults, cases=options.cases)
    errors = [field_error(_join(path_prefix, p.path), p.message, p.code) for p in problems] + option_errors
    bus_ids = [b.get("id") for b in document.get("buses") or [] if isinstance(b, dict)]
    known = set(bus_ids)
    for i, bus in enumerate(options.buses or []):
        if bus not in known:
            errors.append(field_error(f"options.buses[{i}]", f"unknown bus {bus!r}", "unknown_bus"))
    if options.branches_for is not None and options.branches_for not in known:
        errors.append(field_error("options.branches_for", f"unknown bus {options.branches_for!r}", "unknown_bus"))
    if errors:
        raise validation_failed(errors, detail=f"the study has {len(errors)} problem(s); nothing was queued")

    solve_options = {
        "faults": options.faults,
        "cases": options.cases,
        "buses": list(dict.fromkeys(options.buses)) if options.buses else None,
        "branches_for": options.branches_for,
        # already written into the document's study; kept here so the run shows what was asked
        "scenario": options.scenario,
        "line_faults": [fault.model_dump() for fault in options.line_faults] if options.line_faults else None,
    }
    line_faults = study.get("line_faults") if isinstance(study, dict) else None
    return StudyInput(
        document=document,
        document_id=str(document.get("id")),
        # faults along lines are reported like buses
        bus_count=len(solve_options["buses"] or bus_ids) + len(line_faults or ()),
        sha256=document_sha256(document),
        solve_options=solve_options,
        validated_rules=rules_digest(),
    )


def _switching_option_errors(document: dict[str, Any], options: StudyOptions) -> list[dict[str, str]]:
    errors = []
    if options.scenario is not None:
        scenarios = document.get("scenarios")
        known = {s.get("id") for s in scenarios if isinstance(s, dict)} if isinstance(scenarios, list) else set()
        if options.scenario not in known:
            errors.append(field_error("options.scenario", f"unknown scenario {options.scenario!r}", "unknown_scenario"))
    lines = document.get("lines")
    line_ids = {ln.get("id") for ln in lines if isinstance(ln, dict)} if isinstance(lines, list) else set()
    for i, fault in enumerate(options.line_faults or ()):
        if fault.line not in line_ids:
            errors.append(field_error(f"options.line_faults[{i}].line", f"unknown line {fault.line!r}", "unknown_line"))
    return errors


def compress_document(document: dict[str, Any]) -> bytes:
    return gzip.compress(canonical_json(document), compresslevel=6)


def _join(prefix: str, path: str) -> str:
    if not prefix:
        return path
    if not path:
        return prefix.rstrip(".")
    return prefix + path
