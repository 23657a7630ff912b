"""Checks on switches, scenarios and faults along lines: what they name must exist and fit.

Like `topology.py` these read ids and references only, so they run on raw entries of an
invalid document too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from .model import Study
from .problems import CircuitProblem
from .topology import BRANCH_LISTS, BUS_FIELDS, Entries, text_values

# Lists whose entries a scenario may take out of service (everything but buses and the
# switching data itself; element lists added later join automatically).
NOT_EQUIPMENT = ("buses", "switches", "scenarios")


def check_switching(entries: Entries, bus_kv: Mapping[str, float], study: Study | None) -> list[CircuitProblem]:
    problems = _switch_targets(entries, bus_kv)
    problems += _scenario_references(entries)
    if study is not None:
        problems += _study_references(entries, study)
    return problems


def _ids(items: Sequence[object]) -> set[str]:
    return {element_id for element_id in text_values(items, "id") if element_id is not None}


def _branch_buses(entries: Entries) -> dict[str, set[str | None]]:
    """Branch id -> the buses it connects (a line and a transformer may share an id: both count)."""
    branch_buses: dict[str, set[str | None]] = {}
    for list_name in BRANCH_LISTS:
        items = entries.get(list_name, ())
        columns = [text_values(items, field) for field in ("id", *BUS_FIELDS[list_name])] if items else []
        for element_id, *ends in zip(*columns, strict=True):
            if element_id is not None:
                branch_buses.setdefault(element_id, set()).update(ends)
    return branch_buses


def _switch_targets(entries: Entries, bus_kv: Mapping[str, float]) -> list[CircuitProblem]:
    switches = entries.get("switches", ())
    if not switches:
        return []
    problems = []
    columns = zip(*(text_values(switches, field) for field in ("bus", "element", "to_bus")), strict=True)
    branch_buses = _branch_buses(entries)
    for index, (bus, element, to_bus) in enumerate(columns):
        path = f"switches[{index}]"
        if element is not None:
            if element not in branch_buses:
                problems.append(
                    CircuitProblem(
                        f"{path}.element",
                        "unknown_element",
                        f"unknown line or transformer {element!r} (a switch opens a line or transformer end)",
                    )
                )
            elif bus is not None and bus not in branch_buses[element]:
                problems.append(
                    CircuitProblem(
                        f"{path}.element",
                        "element_elsewhere",
                        f"{element!r} is not connected to the switch's bus {bus!r}",
                    )
                )
        if to_bus is not None and bus is not None:
            kv_from, kv_to = bus_kv.get(bus), bus_kv.get(to_bus)
            # a closed coupler makes one node of both buses: they must be one voltage level
            if kv_from is not None and kv_to is not None and not math.isclose(kv_from, kv_to, rel_tol=1e-9):
                problems.append(
                    CircuitProblem(
                        f"{path}.to_bus",
                        "voltage_level_mismatch",
                        f"bus coupler joins buses of different nominal voltage: {bus!r} {kv_from:g} kV "
                        f"and {to_bus!r} {kv_to:g} kV",
                    )
                )
    return problems


def _scenario_references(entries: Entries) -> list[CircuitProblem]:
    if not entries.get("scenarios"):
        return []
    switch_ids = _ids(entries.get("switches", ()))
    equipment = {
        element_id
        for list_name, items in entries.items()
        if list_name not in NOT_EQUIPMENT
        for element_id in _ids(items)
    }
    problems = []
    for index, entry in enumerate(entries.get("scenarios", ())):
        states = entry.get("switches") if isinstance(entry, Mapping) else getattr(entry, "switches", None)
        if isinstance(states, Mapping):
            problems += [
                CircuitProblem(f"scenarios[{index}].switches.{name}", "unknown_switch", f"unknown switch {name!r}")
                for name in states
                if name not in switch_ids
            ]
        out = entry.get("out_of_service") if isinstance(entry, Mapping) else getattr(entry, "out_of_service", None)
        if isinstance(out, list):
            problems += [
                CircuitProblem(
                    f"scenarios[{index}].out_of_service[{position}]",
                    "unknown_element",
                    f"unknown element {name!r} (name a line, transformer, source or machine; not a bus or switch)",
                )
                for position, name in enumerate(out)
                if isinstance(name, str) and name not in equipment
            ]
    return problems


def _study_references(entries: Entries, study: Study) -> list[CircuitProblem]:
    line_ids = _ids(entries.get("lines", ()))
    problems = [
        CircuitProblem(f"study.line_faults[{index}].line", "unknown_line", f"unknown line {fault.line!r}")
        for index, fault in enumerate(study.line_faults)
        if fault.line not in line_ids
    ]
    if study.scenario is not None and study.scenario not in _ids(entries.get("scenarios", ())):
        problems.append(CircuitProblem("study.scenario", "unknown_scenario", f"unknown scenario {study.scenario!r}"))
    return problems
