"""Checks on ids and on how elements connect: duplicates, dangling references, islands.

These checks read only ids and bus references, so they run on every element, including
ones whose numbers failed validation: a cable with a negative length still connects its
buses, and dropping it would report a false island.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .problems import CircuitProblem

# The fields of each element list that name a bus.
BUS_FIELDS: dict[str, tuple[str, ...]] = {
    "ext_grids": ("bus",),
    "lines": ("from_bus", "to_bus"),
    "transformers": ("hv_bus", "lv_bus"),
    "transformers3w": ("hv_bus", "mv_bus", "lv_bus"),
    "generators": ("bus",),
    "motors": ("bus",),
    "converters": ("bus",),
    "wind_dfig": ("bus",),
    "async_generators": ("bus",),
    "switches": ("bus", "to_bus"),
}
# Impedance sources only: a full converter is a current source, which cannot feed an island on its own.
SOURCE_LISTS = ("ext_grids", "generators", "motors", "wind_dfig", "async_generators")
BRANCH_LISTS = ("lines", "transformers", "transformers3w")
# What joins buses physically: branches and bus couplers (switches with a to_bus). Switch
# states and in_service do not count here: they are a study's switching state, and a bus cut
# off by one is reported by the solver, not a defect of the document.
JOINING_LISTS = (*BRANCH_LISTS, "switches")

# A list name to its entries, each a raw JSON object or a model.
Entries = Mapping[str, Sequence[object]]


def text_field(entry: object, name: str) -> str | None:
    """An id-like field of a raw dict or a model, or None when absent, empty or not a string."""
    # A plain dict first: the raw document's entries are dicts, and the ABC check of
    # isinstance(entry, Mapping) was a large share of validating a 10k-bus document.
    if type(entry) is dict or isinstance(entry, Mapping):
        value = entry.get(name)
    else:
        value = getattr(entry, name, None)
    return value if isinstance(value, str) and value else None


def check_topology(entries: Entries) -> list[CircuitProblem]:
    problems = _duplicate_ids(entries)
    bus_ids = {bus_id for entry in entries.get("buses", ()) if (bus_id := text_field(entry, "id")) is not None}
    problems += _unknown_buses(entries, bus_ids)
    problems += _unit_transformers(entries)
    problems += _unsupplied_buses(entries, bus_ids)
    return problems


def _duplicate_ids(entries: Entries) -> list[CircuitProblem]:
    problems = []
    for list_name, items in entries.items():
        first_seen: dict[str, int] = {}
        for index, entry in enumerate(items):
            element_id = text_field(entry, "id")
            if element_id is None:
                continue
            if element_id in first_seen:
                problems.append(
                    CircuitProblem(
                        f"{list_name}[{index}].id",
                        "duplicate_id",
                        f"id {element_id!r} is already used by {list_name}[{first_seen[element_id]}]",
                    )
                )
            else:
                first_seen[element_id] = index
    return problems


def _unknown_buses(entries: Entries, bus_ids: set[str]) -> list[CircuitProblem]:
    return [
        CircuitProblem(f"{list_name}[{index}].{field}", "unknown_bus", f"unknown bus {bus_id!r}")
        for list_name, fields in BUS_FIELDS.items()
        for index, entry in enumerate(entries.get(list_name, ()))
        for field in fields
        if (bus_id := text_field(entry, field)) is not None and bus_id not in bus_ids
    ]


def _unit_transformers(entries: Entries) -> list[CircuitProblem]:
    """A generator's power_station_trafo must name a transformer attached to the generator's bus."""
    transformer_buses = {
        trafo_id: {text_field(entry, "hv_bus"), text_field(entry, "lv_bus")}
        for entry in entries.get("transformers", ())
        if (trafo_id := text_field(entry, "id")) is not None
    }
    problems = []
    for index, entry in enumerate(entries.get("generators", ())):
        trafo_id, bus_id = text_field(entry, "power_station_trafo"), text_field(entry, "bus")
        if trafo_id is None:
            continue
        path = f"generators[{index}].power_station_trafo"
        if trafo_id not in transformer_buses:
            problems.append(CircuitProblem(path, "unknown_transformer", f"unknown transformer {trafo_id!r}"))
        elif bus_id is not None and bus_id not in transformer_buses[trafo_id]:
            problems.append(
                CircuitProblem(
                    path,
                    "unit_transformer_elsewhere",
                    f"transformer {trafo_id!r} is not connected to the generator's bus {bus_id!r}",
                )
            )
    return problems


def _unsupplied_buses(entries: Entries, bus_ids: set[str]) -> list[CircuitProblem]:
    """Every bus needs a path through lines and transformers to a source, else its fault current is zero."""
    sources = {
        bus_id
        for list_name in SOURCE_LISTS
        for entry in entries.get(list_name, ())
        if (bus_id := text_field(entry, "bus")) in bus_ids
    }
    if not sources:
        return [
            CircuitProblem(
                "ext_grids", "no_source", "the circuit has no source: add an ext_grid, a generator or a motor"
            )
        ]

    islands = _UnionFind(bus_ids)
    for list_name in JOINING_LISTS:
        for entry in entries.get(list_name, ()):
            ends = [bus for field in BUS_FIELDS[list_name] if (bus := text_field(entry, field)) in bus_ids]
            for end in ends[1:]:
                islands.join(ends[0], end)
    supplied = {islands.root(bus_id) for bus_id in sources}

    problems = []
    reported: set[str] = set()
    for index, entry in enumerate(entries.get("buses", ())):
        bus_id = text_field(entry, "id")
        if bus_id is None or bus_id in reported or islands.root(bus_id) in supplied:
            continue
        reported.add(bus_id)
        problems.append(
            CircuitProblem(
                f"buses[{index}]",
                "no_source",
                f"bus {bus_id!r} has no path to a source (ext_grid, generator or motor)",
            )
        )
    return problems


class _UnionFind:
    def __init__(self, items: set[str]) -> None:
        self._parent = {item: item for item in items}

    def root(self, item: str) -> str:
        parent = self._parent
        while parent[item] != item:
            parent[item] = parent[parent[item]]  # path halving keeps later lookups short
            item = parent[item]
        return item

    def join(self, a: str, b: str) -> None:
        self._parent[self.root(a)] = self.root(b)
