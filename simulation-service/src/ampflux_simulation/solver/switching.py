"""The switching state a study solves: scenario, switches, elements out of service, faults along lines.

The solver's matrices are built from a circuit document, so a switching state is applied by
rewriting the document into the one that is energised, before anything is assembled:

- an element out of service (`in_service: false`, or named by the scenario's
  `out_of_service`) is left out;
- an open switch at a line or transformer end takes that element out (IEC 60909-0
  neglects line capacitances in the positive sequence, so a line open at one end carries no
  short-circuit current; a fault *along* such a line is still fed from its closed end, see
  below);
- a closed bus coupler makes one node of its two buses (merged, not joined by a small
  impedance, so the result is exact and the matrix stays well conditioned); both buses
  report the node's results;
- a fault along a line at fraction f inserts a bus that splits the line into lengths f·l and
  (1 − f)·l: every per-km quantity (R, X, R0, X0, C, C0) is split in proportion. The point is
  reported as `<line>@<f>`. When the line is open at one end, the segment on that side is left
  out, so the point is fed from the closed end only;
- buses whose part of the network keeps no source are left out of the solve and reported
  (`unsupplied`, with the open switches and elements out of service that cut them off).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from ampflux_shared.circuit.model import ELEMENT_MODELS
from ampflux_shared.circuit.topology import BRANCH_LISTS, BUS_FIELDS, SOURCE_LISTS

from .errors import SolverError
from .open_winding import remaining_two_winding
from .result import ResultSet

if TYPE_CHECKING:
    from ampflux_shared.circuit import CircuitDocument, Line, LineFault, Switch

# Sources that feed the max case only (elements.py leaves them out of the min case).
MAX_CASE_ONLY = ("motors", "wind_dfig", "async_generators")
# Lists that are not equipment: their entries are never switched or rewritten here.
_NOT_EQUIPMENT = ("buses", "switches", "scenarios")


def point_id(line: str, fraction: float) -> str:
    """`HV-AB@0.3`: the id under which a fault along a line is reported."""
    return f"{line}@{float(fraction)!r}"


@dataclass
class Configured:
    """The document as energised in one switching state, and how to report results of the original."""

    doc: CircuitDocument
    scenario: str | None = None
    # original bus id (and line fault point id) -> the bus of `doc` it is solved at
    node_of: dict[str, str] = field(default_factory=dict)
    # bus or point id -> why it has no source
    unsupplied: dict[str, str] = field(default_factory=dict)
    # point id -> line, fraction and the line's buses
    points: dict[str, dict[str, Any]] = field(default_factory=dict)
    # line segment id -> the line it is part of (branch results name segments)
    segments: dict[str, str] = field(default_factory=dict)
    # element ids left out: out of service or opened by a switch
    switched_out: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.scenario or self.unsupplied or self.points or self.switched_out or self.merged)

    @property
    def merged(self) -> dict[str, str]:
        """Buses merged by a closed coupler into another bus (original id -> the node's id)."""
        return {bus: node for bus, node in self.node_of.items() if bus != node and bus not in self.points}

    def fault_nodes(self, requested: Sequence[str]) -> list[str]:
        """The distinct buses of `doc` to solve for the requested bus and point ids."""
        return list(dict.fromkeys(self.node_of[b] for b in requested if b in self.node_of))


def configure(
    doc: CircuitDocument,
    *,
    scenario: str | None = None,
    line_faults: Sequence[LineFault] | None = None,
    case: str = "max",
) -> Configured:
    """`doc` in the switching state of `scenario` (None: the switches' own states), with
    buses inserted for `line_faults` (None: the study's). The study's own `scenario` is the default.

    In the min case the sources that feed the max case only (motors, doubly fed and
    asynchronous generators) do not keep a part of the network supplied."""
    scenario = doc.study.scenario if scenario is None else scenario
    faults = list(doc.study.line_faults if line_faults is None else line_faults)
    plain = (
        scenario is None
        and not faults
        and not doc.switches
        and all(getattr(e, "in_service", True) for name in _equipment_lists(doc) for e in getattr(doc, name))
        and (case == "max" or not any(getattr(doc, name, None) for name in MAX_CASE_ONLY))
    )
    if plain:
        # The common case costs nothing: every bus is itself and validation has seen them supplied.
        return Configured(doc, node_of={b.id: b.id for b in doc.buses})
    return _Configurator(doc, scenario, faults, case).run()


def _equipment_lists(doc: CircuitDocument) -> list[str]:
    return [name for name in ELEMENT_MODELS if name not in _NOT_EQUIPMENT and hasattr(doc, name)]


class _Configurator:
    def __init__(self, doc: CircuitDocument, scenario: str | None, faults: list[LineFault], case: str) -> None:
        self.sources = [name for name in SOURCE_LISTS if case == "max" or name not in MAX_CASE_ONLY]
        self.doc = doc
        self.scenario = scenario
        states: dict[str, str] = {}
        out: set[str] = set()
        if scenario is not None:
            found = next((s for s in doc.scenarios if s.id == scenario), None)
            if found is None:
                known = ", ".join(s.id for s in doc.scenarios) or "none"
                raise SolverError(f"unknown scenario {scenario!r}; the document has: {known}")
            states, out = dict(found.switches), set(found.out_of_service)
        self.closed = {s.id: states.get(s.id, "closed" if s.closed else "open") == "closed" for s in doc.switches}
        self.lists = _equipment_lists(doc)
        for name in self.lists:
            out.update(e.id for e in getattr(doc, name) if not getattr(e, "in_service", True))
        self.out = out
        # element id -> buses at which a switch opens it
        self.open_at: dict[str, set[str]] = {}
        for s in doc.switches:
            if s.element is not None and not self.closed[s.id]:
                self.open_at.setdefault(s.element, set()).add(s.bus)
        self.faults = faults
        self._suspects: dict[str, set[str]] | None = None

    def run(self) -> Configured:
        doc = self.doc
        node = self._merge_buses()
        result = Configured(doc, scenario=self.scenario)
        result.node_of = dict(node)
        kv = {b.id: b.vn_kv for b in doc.buses}
        buses = [b for b in doc.buses if node[b.id] == b.id]
        fractions: dict[str, list[float]] = {}
        for fault in self.faults:
            fractions.setdefault(fault.line, []).append(float(fault.fraction))

        lists: dict[str, list[Any]] = {name: [] for name in self.lists}
        removed: set[str] = set()
        for name in self.lists:
            for entry in getattr(doc, name):
                if entry.id in self.out:
                    removed.add(entry.id)
                    continue
                if name == "lines" and entry.id in fractions:
                    lists[name] += self._split(entry, fractions[entry.id], node, kv, buses, result)
                    if entry.id in self.open_at:
                        removed.add(entry.id)
                    continue
                kind = name
                if entry.id in self.open_at and name == "transformers3w":
                    # one winding open: the other two remain as a two-winding transformer
                    remainder = remaining_two_winding(entry, self.open_at[entry.id])
                    if remainder is None:
                        removed.add(entry.id)
                        continue
                    entry, kind = remainder, "transformers"
                elif entry.id in self.open_at and name in BRANCH_LISTS:
                    removed.add(entry.id)
                    continue
                ends = _ends(kind, entry)
                nodes = tuple(node[bus] for bus in ends)
                if nodes == ends:  # the common case: nothing merged here
                    lists[kind].append(entry)
                elif kind in BRANCH_LISTS and len(set(nodes)) < len(nodes):
                    # both ends on one node (a closed coupler bridges it): it carries no current
                    removed.add(entry.id)
                else:
                    lists[kind].append(entry.model_copy(update=dict(zip(BUS_FIELDS[kind], nodes, strict=True))))
        line_ids = {ln.id for ln in doc.lines}
        for fault in self.faults:
            if fault.line not in line_ids:
                raise SolverError(f"line fault on unknown line {fault.line!r}")
            if fault.line in self.out:
                pid = point_id(fault.line, fault.fraction)
                result.unsupplied[pid] = f"line {fault.line!r} is out of service in this switching state"
                result.points.setdefault(pid, {"line": fault.line, "fraction": float(fault.fraction)})
        self._drop_unit_links(lists, removed)
        result.switched_out = sorted(removed)

        buses, lists = self._drop_unsupplied(buses, lists, result)
        result.doc = doc.model_copy(update={"buses": buses, **lists})
        return result

    def _merge_buses(self) -> dict[str, str]:
        """Every bus -> the first bus (document order) of the group its closed couplers join."""
        parent = {b.id: b.id for b in self.doc.buses}

        def root(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        order = {b.id: i for i, b in enumerate(self.doc.buses)}
        for s in self.doc.switches:
            if s.to_bus is not None and self.closed[s.id]:
                a, b = root(s.bus), root(s.to_bus)
                if a != b:
                    first, second = (a, b) if order[a] < order[b] else (b, a)
                    parent[second] = first
        return {bus: root(bus) for bus in parent}

    def _split(
        self,
        line: Line,
        fractions: list[float],
        node: dict[str, str],
        kv: dict[str, float],
        buses: list[Any],
        result: Configured,
    ) -> list[Line]:
        """The line as segments between its ends and the fault points, each point a new bus; of
        parallel circuits only one is faulted."""
        from ampflux_shared.circuit import Bus

        cuts = sorted(set(fractions))
        ends = [node[line.from_bus]] + [point_id(line.id, f) for f in cuts] + [node[line.to_bus]]
        for f in cuts:
            pid = point_id(line.id, f)
            if pid in node:
                raise SolverError(f"the line fault point {pid!r} has the id of a bus; rename the bus")
            node[pid] = result.node_of[pid] = pid
            buses.append(Bus(id=pid, vn_kv=kv[line.from_bus], name=f"{line.id} at {f:.1%} from {line.from_bus}"))
            result.points[pid] = {
                "line": line.id,
                "fraction": f,
                "from_bus": line.from_bus,
                "to_bus": line.to_bus,
            }
        bounds = [0.0, *cuts, 1.0]
        opened = self.open_at.get(line.id, set())
        segments = []
        for i in range(len(bounds) - 1):
            # an open switch at an end leaves out the segment that reaches it
            if (i == 0 and line.from_bus in opened) or (i == len(bounds) - 2 and line.to_bus in opened):
                continue
            seg_id = f"{line.id}@{bounds[i]!r}-{bounds[i + 1]!r}"
            result.segments[seg_id] = line.id
            segments.append(
                line.model_copy(
                    update={
                        "id": seg_id,
                        "from_bus": ends[i],
                        "to_bus": ends[i + 1],
                        "length_km": line.length_km * (bounds[i + 1] - bounds[i]),
                        "parallel": 1,
                    }
                )
            )
        # a fault on one of n parallel circuits: the other n − 1 stay whole, between the line's
        # buses (under the line's id), unless a switch opened the line or a coupler bridged it
        if line.parallel > 1 and not opened and ends[0] != ends[-1]:
            segments.append(
                line.model_copy(update={"from_bus": ends[0], "to_bus": ends[-1], "parallel": line.parallel - 1})
            )
        return segments

    @staticmethod
    def _drop_unit_links(lists: dict[str, list[Any]], removed: set[str]) -> None:
        # a generator whose unit transformer is out is a generator on its own bus (K_G, not K_S)
        if "generators" in lists:
            lists["generators"] = [
                g.model_copy(update={"power_station_trafo": None}) if g.power_station_trafo in removed else g
                for g in lists["generators"]
            ]

    def _drop_unsupplied(
        self, buses: list[Any], lists: dict[str, list[Any]], result: Configured
    ) -> tuple[list[Any], dict[str, list[Any]]]:
        parent = {b.id: b.id for b in buses}

        def root(x: str) -> str:
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for name in BRANCH_LISTS:
            for entry in lists.get(name, ()):
                first, *others = _ends(name, entry)
                for end in others:
                    parent[root(end)] = root(first)
        fed = {root(entry.bus) for name in self.sources for entry in lists.get(name, ())}
        dead_nodes = {b.id for b in buses if root(b.id) not in fed}
        if not dead_nodes:
            return buses, lists
        # island root -> the original buses (and points) in it, in document order
        islands: dict[str, list[str]] = {}
        for bus, n in result.node_of.items():
            if n in dead_nodes:
                islands.setdefault(root(n), []).append(bus)
        for members in islands.values():
            reason = self._why(members, result)
            for bus in members:
                result.unsupplied[bus] = reason
                del result.node_of[bus]
        kept = {name: [e for e in entries if dead_nodes.isdisjoint(_ends(name, e))] for name, entries in lists.items()}
        return [b for b in buses if b.id not in dead_nodes], kept

    def _why(self, members: list[str], result: Configured) -> str:
        """What cut these buses off: open switches and elements out of service that touch them."""
        touching = set(members)
        for pid in touching & set(result.points):
            # a point on a line: what opened that line counts too
            touching.update({result.points[pid]["from_bus"], result.points[pid]["to_bus"]})
        doc = self.doc
        element_ends = self._suspect_ends()
        switches = sorted(
            s.id
            for s in doc.switches
            if not self.closed[s.id] and _touches(s, touching, element_ends.get(s.element or "", set()))
        )
        out = sorted(e for e in self.out if element_ends.get(e, set()) & touching)
        causes = []
        if switches:
            causes.append(f"open switch(es) {', '.join(switches)}")
        if out:
            causes.append(f"out of service: {', '.join(out)}")
        if len(self.sources) < len(SOURCE_LISTS):
            max_only = sorted(
                e.id
                for name in MAX_CASE_ONLY
                for e in getattr(doc, name, ())
                if getattr(e, "bus", None) in touching and e.id not in self.out
            )
            if max_only:
                causes.append(f"fed only by {', '.join(max_only)}, which feed the max case only")
        because = f" ({'; '.join(causes)})" if causes else ""
        return f"no source in this switching state: {', '.join(sorted(members))} cut off from every source{because}"

    def _suspect_ends(self) -> dict[str, set[str]]:
        """Buses of the elements that can cut a part off (opened by a switch, or out), once."""
        if self._suspects is None:
            wanted = set(self.open_at) | self.out
            self._suspects = {}
            for name in self.lists:
                if name in BUS_FIELDS:
                    for e in getattr(self.doc, name):
                        if e.id in wanted:
                            self._suspects.setdefault(e.id, set()).update(_ends(name, e))
        return self._suspects


def _ends(list_name: str, entry: Any) -> tuple[str, ...]:
    """The buses an element names (BUS_FIELDS order), as a tuple."""
    return _bus_getter(list_name)(entry)


@cache
def _bus_getter(list_name: str) -> Callable[[Any], tuple[str, ...]]:
    # attrgetter: this runs once per element of large networks, where getattr loops show
    fields = BUS_FIELDS.get(list_name, ())
    if not fields:
        return lambda entry: ()
    get: Callable[[Any], Any] = attrgetter(*fields)  # one field: the value, several: a tuple
    if len(fields) == 1:
        return lambda entry: (get(entry),)
    return get


def _touches(switch: Switch, buses: set[str], element_ends: Iterable[str]) -> bool:
    return switch.bus in buses or switch.to_bus in buses or bool(set(element_ends) & buses)


def report(rs: ResultSet, config: Configured, requested: Sequence[str], branches_for: str | None) -> ResultSet:
    """`rs` (solved on `config.doc`) under the ids of the original document: a merged bus
    reports its node's values, a bus without a source is listed in `unsupplied` instead."""
    group: dict[str, list[str]] = {}
    for merged_bus, merged_into in config.merged.items():
        group.setdefault(merged_into, [merged_into]).append(merged_bus)
    buses: dict[str, dict[str, float | str]] = {}
    trail: dict[str, dict[str, Any]] = {}
    for bus in requested:
        node = config.node_of.get(bus, "")
        if node not in rs.buses:
            continue
        buses[bus] = rs.buses[node]
        trail[bus] = rs.trail.get(node, {})
        if node in group:  # one node for the buses a closed coupler joins
            trail[bus] = {**trail[bus], "merged_buses": sorted(group[node])}
    out = replace(
        rs,
        buses=buses,
        trail=trail,
        scenario=config.scenario,
        unsupplied={b: config.unsupplied[b] for b in requested if b in config.unsupplied},
        line_faults=config.points,
    )
    if branches_for is not None and rs.branches is not None and rs.voltages is not None:
        node = config.node_of[branches_for]
        out.branches = {branches_for: rs.branches[node]}
        at_node = rs.voltages[node]
        # every bus of a merged node has the node's voltage
        out.voltages = {branches_for: {bus: at_node[n] for bus, n in config.node_of.items() if n in at_node}}
    return out
