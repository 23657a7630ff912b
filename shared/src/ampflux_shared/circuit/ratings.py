"""Checks that element ratings fit the buses they connect, and that tap positions are possible.

A transformer's rated voltages may differ from its buses' nominal voltages (FORMAT.md:
the off-nominal ratio is modelled), e.g. 21 kV or 10.5 kV windings on a 20 kV or 10 kV
bus, or 0.42 kV on 0.4 kV; machines too (a 460 V motor on a 480 V bus). A deviation
beyond RATING_TOLERANCE is not a design choice but a wrong bus, a typo in the unit
(400 for 0.4) or HV and LV swapped, and would silently give wrong currents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .elements import IndexedElements
from .model import AsyncGenerator, Converter, Generator, Line, Motor, Transformer, Transformer3W, WindDfig
from .problems import CircuitProblem

RATING_TOLERANCE = 0.20


def check_ratings(elements: IndexedElements, bus_kv: Mapping[str, float]) -> list[CircuitProblem]:
    """`bus_kv`: elements.bus_kv(), which the switching checks read too."""
    problems: list[CircuitProblem] = []
    # The usual element has nothing to report: a cheap test first, the full check (which says
    # what is wrong) only where it fails (~8 -> ~2 ms at 8.7k buses).
    get = bus_kv.get
    for index, line in elements.lines:
        if get(line.from_bus) != get(line.to_bus):  # equal levels (or both unknown) fit
            problems += _line_levels(index, line, bus_kv)
    for index, trafo in elements.transformers:
        if trafo.tap_pos is None and _windings_fit(
            trafo.vn_hv_kv, get(trafo.hv_bus), trafo.vn_lv_kv, get(trafo.lv_bus)
        ):
            continue
        problems += _winding_ratings(f"transformers[{index}]", trafo, ("hv", "lv"), bus_kv)
        problems += _tap_position(f"transformers[{index}]", trafo)
    for index, trafo3w in elements.transformers3w:
        problems += _winding_ratings(f"transformers3w[{index}]", trafo3w, ("hv", "mv", "lv"), bus_kv)
        problems += _tap_position(f"transformers3w[{index}]", trafo3w)
    for index, generator in elements.generators:
        problems += _machine_rating(f"generators[{index}]", generator, bus_kv)
    for index, motor in elements.motors:
        problems += _machine_rating(f"motors[{index}]", motor, bus_kv)
    for name in ("converters", "wind_dfig", "async_generators"):
        for index, source in getattr(elements, name):
            problems += _machine_rating(f"{name}[{index}]", source, bus_kv)
    return problems


def _fits(rated_kv: float, bus_kv: float) -> bool:
    return abs(rated_kv / bus_kv - 1) <= RATING_TOLERANCE


def _windings_fit(hv_kv: float, hv_bus_kv: float | None, lv_kv: float, lv_bus_kv: float | None) -> bool:
    """True when `_winding_ratings` of a two-winding transformer finds nothing."""
    return (
        lv_kv <= hv_kv
        and (hv_bus_kv is None or _fits(hv_kv, hv_bus_kv))
        and (lv_bus_kv is None or _fits(lv_kv, lv_bus_kv))
    )


def _line_levels(index: int, line: Line, bus_kv: Mapping[str, float]) -> list[CircuitProblem]:
    from_kv, to_kv = bus_kv.get(line.from_bus), bus_kv.get(line.to_bus)
    if from_kv is None or to_kv is None or math.isclose(from_kv, to_kv, rel_tol=1e-9):
        return []
    return [
        CircuitProblem(
            f"lines[{index}].to_bus",
            "voltage_level_mismatch",
            f"line joins buses of different nominal voltage: {line.from_bus!r} {from_kv:g} kV "
            f"and {line.to_bus!r} {to_kv:g} kV",
        )
    ]


def _winding_ratings(
    path: str, trafo: Transformer | Transformer3W, sides: tuple[str, ...], bus_kv: Mapping[str, float]
) -> list[CircuitProblem]:
    rated = {side: getattr(trafo, f"vn_{side}_kv") for side in sides}
    at_bus = {side: bus_kv.get(getattr(trafo, f"{side}_bus")) for side in sides}
    problems = []
    hv = sides[0]
    for side in sides[1:]:
        # Buses and ratings may each be consistent and still be the wrong way round.
        if rated[side] > rated[hv]:
            problems.append(
                CircuitProblem(
                    f"{path}.vn_{hv}_kv",
                    "hv_lv_swapped",
                    f"vn_{hv}_kv ({rated[hv]:g} kV) is below vn_{side}_kv ({rated[side]:g} kV): "
                    f"the {hv} and {side} sides are swapped",
                )
            )
    for side in sides:
        bus_value = at_bus[side]
        if bus_value is None or _fits(rated[side], bus_value):
            continue
        problems.append(
            CircuitProblem(
                f"{path}.vn_{side}_kv",
                "rating_mismatch",
                f"rated {rated[side]:g} kV does not fit {side}_bus {getattr(trafo, f'{side}_bus')!r} "
                f"({bus_value:g} kV; allowed ±{RATING_TOLERANCE:.0%})",
            )
        )
    return problems


def _machine_rating(
    path: str, machine: Generator | Motor | Converter | WindDfig | AsyncGenerator, bus_kv: Mapping[str, float]
) -> list[CircuitProblem]:
    bus_value = bus_kv.get(machine.bus)
    if bus_value is None or _fits(machine.vn_kv, bus_value):
        return []
    return [
        CircuitProblem(
            f"{path}.vn_kv",
            "rating_mismatch",
            f"rated {machine.vn_kv:g} kV does not fit bus {machine.bus!r} "
            f"({bus_value:g} kV; allowed ±{RATING_TOLERANCE:.0%})",
        )
    ]


def _tap_position(path: str, trafo: Transformer | Transformer3W) -> list[CircuitProblem]:
    if trafo.tap_pos is None:
        return []
    # The ratio formula needs all three to turn tap_pos into a voltage.
    problems = [
        CircuitProblem(f"{path}.{field}", "missing_tap_data", "required when tap_pos is given")
        for field in ("tap_side", "tap_neutral", "tap_step_percent")
        if getattr(trafo, field) is None
    ]
    low, high = trafo.tap_min, trafo.tap_max
    if (low is not None and trafo.tap_pos < low) or (high is not None and trafo.tap_pos > high):
        problems.append(
            CircuitProblem(
                f"{path}.tap_pos",
                "tap_out_of_range",
                f"tap_pos {trafo.tap_pos} is outside tap_min..tap_max ({_bound(low)}..{_bound(high)})",
            )
        )
    return problems


def _bound(value: int | None) -> str:
    return "-" if value is None else str(value)
