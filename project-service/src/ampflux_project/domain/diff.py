"""Compare two circuit documents: elements added, removed and changed, field by field.

Element lists (FORMAT.md: buses, ext_grids, lines, ...) are matched by element `id`, so
reordering a list is not a change. Everything else (study, title, expected results...) is
compared as nested fields. Lists inside fields are compared as whole values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ampflux_shared.circuit.model import ELEMENT_MODELS

ELEMENT_LISTS: tuple[str, ...] = tuple(ELEMENT_MODELS)
_MISSING = object()


@dataclass(frozen=True)
class FieldChange:
    path: str
    old: Any = None
    new: Any = None


@dataclass(frozen=True)
class ElementChange:
    id: str
    changes: list[FieldChange]


@dataclass
class ElementListDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[ElementChange] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


@dataclass
class CircuitDiff:
    document: list[FieldChange]
    elements: dict[str, ElementListDiff]

    @property
    def identical(self) -> bool:
        return not self.document and not self.elements


def diff_documents(old: dict[str, Any], new: dict[str, Any]) -> CircuitDiff:
    other_keys = sorted((set(old) | set(new)) - set(ELEMENT_LISTS))
    document = _diff_fields({k: old[k] for k in other_keys if k in old}, {k: new[k] for k in other_keys if k in new})
    elements = {}
    for name in ELEMENT_LISTS:
        list_diff = _diff_elements(old.get(name) or [], new.get(name) or [])
        if not list_diff.empty:
            elements[name] = list_diff
    return CircuitDiff(document=document, elements=elements)


def _diff_elements(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> ElementListDiff:
    old_by_id = {str(e.get("id")): e for e in old}
    new_by_id = {str(e.get("id")): e for e in new}
    result = ElementListDiff(
        added=[i for i in new_by_id if i not in old_by_id],
        removed=[i for i in old_by_id if i not in new_by_id],
    )
    for element_id, before in old_by_id.items():
        after = new_by_id.get(element_id)
        if after is not None and (changes := _diff_fields(before, after)):
            result.changed.append(ElementChange(element_id, changes))
    return result


def _diff_fields(old: Any, new: Any, prefix: str = "") -> list[FieldChange]:
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[FieldChange] = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            before, after = old.get(key, _MISSING), new.get(key, _MISSING)
            if before is _MISSING:
                changes.append(FieldChange(path, None, after))
            elif after is _MISSING:
                changes.append(FieldChange(path, before, None))
            else:
                changes.extend(_diff_fields(before, after, path))
        return changes
    if _same(old, new):
        return []
    return [FieldChange(prefix, old, new)]


def _same(a: Any, b: Any) -> bool:
    # JSON does not tell 20 from 20.0, and neither does this comparison; True is not 1.
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b
