"""Validate a circuit document and report every problem at once.

Validation runs in two layers and always both, so a user fixes a document in one round:

1. structure: the pydantic models (types, required fields, physical ranges), errors
   converted to `CircuitProblem`s with document paths;
2. meaning: ids and references, islands without a source (`topology.py`), ratings that
   do not fit their buses and impossible tap positions (`ratings.py`), what switches,
   scenarios and faults along lines name (`switching.py`), and data the study's faults
   and cases need (`study_data.py`).

When the structure is invalid, layer 2 still runs on what can be read: references and
connectivity on every entry, the data checks on the entries that are valid on their own.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, get_args

from pydantic import ValidationError

from .elements import IndexedElements
from .model import ELEMENT_MODELS, Case, CircuitDocument, Fault, Study
from .problems import CircuitProblem, CircuitValidationError, problems_from_validation_error
from .ratings import check_ratings
from .rules import rules_digest
from .study_data import check_study_data
from .switching import check_switching
from .topology import check_topology

FAULTS: tuple[str, ...] = get_args(Fault)
CASES: tuple[str, ...] = get_args(Case)


def validate_circuit(
    data: Mapping[str, Any] | CircuitDocument,
    *,
    faults: Sequence[str] | None = None,
    cases: Sequence[str] | None = None,
) -> list[CircuitProblem]:
    """Every problem of the document, in document order; empty when it is valid.

    `faults` and `cases` replace the document's `study.faults` / `study.cases` (as the
    CLI flags do), which changes what data is required.
    """
    return _check(data, faults, cases)[1]


def parse_circuit(
    data: Mapping[str, Any] | CircuitDocument,
    *,
    faults: Sequence[str] | None = None,
    cases: Sequence[str] | None = None,
) -> CircuitDocument:
    """The validated document; raises `CircuitValidationError` carrying every problem."""
    doc, problems = _check(data, faults, cases)
    if problems or doc is None:
        raise CircuitValidationError(problems)
    return doc


def parse_validated_circuit(
    data: Mapping[str, Any],
    validated_rules: str | None,
    *,
    faults: Sequence[str] | None = None,
    cases: Sequence[str] | None = None,
) -> CircuitDocument:
    """`parse_circuit` for a document that passed validation before, under the rules whose
    digest (`rules_digest()` then) is `validated_rules`: when those are the rules this process
    runs, only the models are built (structure, types, ranges) and the meaning checks are not
    repeated; otherwise, or should building fail, it is checked in full."""
    if validated_rules and validated_rules == rules_digest():
        try:
            return CircuitDocument.model_validate(data)
        except ValidationError:
            pass
    return parse_circuit(data, faults=faults, cases=cases)


def _check(
    data: Mapping[str, Any] | CircuitDocument, faults: Sequence[str] | None, cases: Sequence[str] | None
) -> tuple[CircuitDocument | None, list[CircuitProblem]]:
    _require_known("faults", faults, FAULTS)
    _require_known("cases", cases, CASES)
    if isinstance(data, CircuitDocument):
        doc = data
    elif isinstance(data, Mapping):
        try:
            doc = CircuitDocument.model_validate(data)
        except ValidationError as error:
            problems = problems_from_validation_error(error)
            raw = {name: entries for name in ELEMENT_MODELS if isinstance(entries := data.get(name), list)}
            problems += _check_meaning(raw, IndexedElements.salvage(data), _valid_study(data), faults, cases)
            return None, _in_document_order(problems)
    else:
        return None, [CircuitProblem("", "not_an_object", "a circuit document must be a JSON object")]

    entries = {name: getattr(doc, name) for name in ELEMENT_MODELS}
    problems = _check_meaning(entries, IndexedElements.of_document(doc), doc.study, faults, cases)
    return doc, _in_document_order(problems)


def _check_meaning(
    entries: Mapping[str, Sequence[object]],
    elements: IndexedElements,
    study: Study | None,
    faults: Sequence[str] | None,
    cases: Sequence[str] | None,
) -> list[CircuitProblem]:
    bus_kv = elements.bus_kv()
    problems = check_topology(entries) + check_ratings(elements, bus_kv) + check_switching(entries, bus_kv, study)
    wanted_faults = faults if faults is not None else (study.faults if study else None)
    wanted_cases = cases if cases is not None else (study.cases if study else None)
    # Without a readable study (and no override) the required data is unknown; the study's own error is reported.
    if wanted_faults is not None and wanted_cases is not None:
        problems += check_study_data(elements, wanted_faults, wanted_cases)
    return problems


_SECTIONS = {name: position for position, name in enumerate(CircuitDocument.model_fields)}
_ELEMENT = re.compile(r"^([a-z0-9_]+)(?:\[(\d+)\])?")


def _in_document_order(problems: list[CircuitProblem]) -> list[CircuitProblem]:
    """Sorted by section (FORMAT.md order) and element index, so lines[2] comes before lines[10].

    Within one element the sort is stable: problems keep the order the checks found them.
    """

    def element_position(problem: CircuitProblem) -> tuple[int, int]:
        match = _ELEMENT.match(problem.path)
        if match is None:
            return (-1, -1)
        return (_SECTIONS.get(match[1], len(_SECTIONS)), int(match[2] or -1))

    return sorted(problems, key=element_position)


def _valid_study(data: Mapping[str, Any]) -> Study | None:
    try:
        return Study.model_validate(data.get("study"))
    except ValidationError:
        return None


def _require_known(name: str, given: Sequence[str] | None, known: Collection[str]) -> None:
    # A bad override is the caller's bug, not a defect of the document.
    if given is None:
        return
    if isinstance(given, str):
        raise TypeError(f"{name} must be a sequence of names, not a string")
    unknown = [value for value in given if value not in known]
    if unknown or not given:
        raise ValueError(f"{name} must be a non-empty selection of {', '.join(known)}; got {list(given)}")
