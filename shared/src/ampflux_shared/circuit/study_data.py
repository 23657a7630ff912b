"""Checks that the document carries the data its study needs: the R(1ph) and R(min) fields of FORMAT.md.

Earth faults (1ph, and 2phg which also involves the zero-sequence network) need the
zero-sequence data; the min case needs the min-case source data and conductor end
temperatures.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from pydantic import BaseModel

from .elements import IndexedElements
from .problems import CircuitProblem

EARTH_FAULTS = ("1ph", "2phg")

# Groups with no zero-sequence path through the transformer need no zero-sequence impedance.
_NO_ZERO_SEQUENCE_PATH = {"Yy", "Yd", "Dy", "Dd"}
# Groups whose zero-sequence path runs through the magnetising impedance.
_NEEDS_MAGNETISING = {"Yyn", "YNyn", "YNy", "Yzn"}

_WINDING_PAIRS = ("hv", "mv", "lv")


def check_study_data(
    elements: IndexedElements, faults: Collection[str], cases: Collection[str]
) -> list[CircuitProblem]:
    earth = [fault for fault in EARTH_FAULTS if fault in faults]
    minimum = "min" in cases
    problems: list[CircuitProblem] = []
    if earth:
        problems += _zero_sequence(elements, because=f"needed for {'/'.join(earth)} faults", minimum=minimum)
    if minimum:
        problems += _min_case(elements)
    return problems


def _missing(path: str, element: BaseModel, fields: Iterable[str], code: str, because: str) -> list[CircuitProblem]:
    return [
        CircuitProblem(f"{path}.{name}", code, f"missing: {because}")
        for name in fields
        if getattr(element, name) is None
    ]


def _zero_sequence(elements: IndexedElements, *, because: str, minimum: bool) -> list[CircuitProblem]:
    code = "missing_zero_sequence"
    problems: list[CircuitProblem] = []
    grid_fields = ("x0x_max", "r0x0_max", "x0x_min", "r0x0_min") if minimum else ("x0x_max", "r0x0_max")
    for index, grid in elements.ext_grids:
        problems += _missing(f"ext_grids[{index}]", grid, grid_fields, code, because)
        for name in ("x0x_max", "x0x_min") if minimum else ("x0x_max",):
            # X0 = 0 would be a zero zero-sequence impedance (a singular network), not "unearthed"
            if getattr(grid, name) == 0:
                problems.append(
                    CircuitProblem(
                        f"ext_grids[{index}].{name}",
                        "zero_impedance",
                        f"X0/X = 0 is a zero zero-sequence impedance; give the grid's X0/X (> 0), {because}",
                    )
                )
    for index, line in elements.lines:
        r0, x0 = line.r0_ohm_per_km, line.x0_ohm_per_km
        if r0 is not None and x0 is not None and line.c0_nf_per_km is not None and (r0 != 0 or x0 != 0):
            continue  # the usual line: complete and not zero (a cheap test before the full one)
        problems += _missing(f"lines[{index}]", line, ("r0_ohm_per_km", "x0_ohm_per_km", "c0_nf_per_km"), code, because)
        if line.r0_ohm_per_km == 0 and line.x0_ohm_per_km == 0:
            problems.append(
                CircuitProblem(
                    f"lines[{index}].x0_ohm_per_km",
                    "zero_impedance",
                    f"zero-sequence impedance is zero (r0 = x0 = 0); give the line's R0 and X0, {because}",
                )
            )
    for index, trafo in elements.transformers:
        group = trafo.vector_group
        if (
            group is not None
            and group not in _NEEDS_MAGNETISING
            and (group in _NO_ZERO_SEQUENCE_PATH or (trafo.vk0_percent is not None and trafo.vkr0_percent is not None))
        ):
            continue  # nothing missing (a cheap test before the full one)
        path = f"transformers[{index}]"
        if group is None:
            # What else is needed depends on the group, so that is all we can say yet.
            problems += _missing(path, trafo, ("vector_group",), code, because)
            continue
        if group not in _NO_ZERO_SEQUENCE_PATH:
            problems += _missing(path, trafo, ("vk0_percent", "vkr0_percent"), code, f"{because} with {group}")
        if group in _NEEDS_MAGNETISING:
            problems += _missing(
                path, trafo, ("mag0_percent", "mag0_rx", "si0_hv_partial"), code, f"{because} with {group}"
            )
    for index, trafo3w in elements.transformers3w:
        fields = ["vector_group"]
        fields += [f"vk0_{pair}_percent" for pair in _WINDING_PAIRS]
        fields += [f"vkr0_{pair}_percent" for pair in _WINDING_PAIRS]
        problems += _missing(f"transformers3w[{index}]", trafo3w, fields, code, because)
    return problems


def _min_case(elements: IndexedElements) -> list[CircuitProblem]:
    code, because = "missing_min_case", "needed for the min case"
    problems: list[CircuitProblem] = []
    for index, grid in elements.ext_grids:
        problems += _missing(f"ext_grids[{index}]", grid, ("s_sc_min_mva", "rx_min"), code, because)
    for index, line in elements.lines:
        problems += _missing(f"lines[{index}]", line, ("endtemp_degree",), code, because)
    return problems
