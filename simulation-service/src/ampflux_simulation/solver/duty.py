"""Equipment duty: each rated device's short-circuit duty against its rating, per fault and case.

The current a device carries (README "Equipment duty" gives the rules and their sources):

* a breaker at bus B on element E: the worse of a fault at B (it carries E's partial
  current into B) and a fault on E just past it (it carries the fault current minus E's
  partial current, as sequence phasors); a bus coupler: the whole fault current at its bus;
* a cable: the same two positions at both of its ends, shared by its `parallel` circuits;
  a line split by faults along it: every end of its segments (and of its healthy parallel
  circuits), and a breaker at its end carries the rows of that line there, as phasors;
* a busbar: the fault current at the bus;
* a transformer: its partial current on the rated side for faults at either terminal bus
  (a through fault; a fault inside it is not); a three-winding one per rated winding, each
  on its own side, for faults at its three buses.

Rated devices none of whose buses were solved (a study restricted with `buses`) are listed
by `device_duty` too, with the reason.

The peak and thermal currents of a device: where its partial current comes through
non-meshed branches (IEC 60909-0 §8.1.2), those branches' own κ, and m from it, n from their
own I″k/Ik (duty_factors.py; `kappa_method` "branch"); elsewhere the fault bus's factors: a
device carrying I″k,d of a bus whose fault current is I″k sees ip·I″k,d/I″k (the bus's κ,
method B or C) and Ith·I″k,d/I″k (√(m + n)). A breaker's Ib is I″k,d less its share of the
bus's decay I″k − Ib, split by machine (duty_decay.py), at the breaker's own tmin; Ib,asym
adds i_DC·I″k,d/I″k.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from ampflux_shared.circuit.duty_ratings import rescaled_withstand_ka

from .contributions import EndCurrents, phases
from .duty_decay import DecayTerms
from .duty_factors import BranchTable
from .elements import Network
from .faults import FaultCurrents

if TYPE_CHECKING:
    from ampflux_shared.circuit import BreakerRatings, CircuitDocument, Switch

# Which list a switch's `element` names, in the order validation resolves a shared id.
_ROW_KINDS = (("lines", "line"), ("transformers", "trafo"), ("transformers3w", "trafo3w"))

BusValues = Mapping[str, Mapping[str, float | str]]


@dataclass
class FaultPartials:
    """Branch-end currents for a fault at one bus, kA (the largest phase), keyed by (row kind,
    element id, end name): `fed` for ends at the fault bus (the element's partial current
    into the fault), `past` for the same ends (a fault on the element just past that end:
    the fault current minus `fed`, as phasors), `at_end` for every end of every row; `decay`
    for ends at the fault bus of a 3ph fault near machines: the share of the bus's decay
    (I″k − Ib) in `fed` and in `past` (duty_decay.py)."""

    fed: dict[tuple[str, str, str], float]
    past: dict[tuple[str, str, str], float]
    at_end: EndMagnitudes
    # sequence currents (I0, I1, I2) into each row at the fault bus and the fault's own, per
    # unit, and the fault bus's kA per unit: to combine several rows (`combined`)
    seq: dict[tuple[str, str, str], tuple[complex, complex, complex]] = field(default_factory=dict)
    fault_seq: tuple[complex, complex, complex] = (0j, 0j, 0j)
    ibase_ka: float = 0.0
    decay: DecayTerms | None = None
    # κ and I″k/Ik of the branches at the fault bus (non-meshed ones: their own, duty_factors.py)
    factors: BranchTable | None = None

    def combined(self, keys: list[tuple[str, str, str]]) -> tuple[float, float]:
        """(fed, past) of several rows at the fault bus taken together (a faulted circuit's
        segment and the healthy parallel circuits of the same line), as phasors."""
        if len(keys) == 1:
            return self.fed.get(keys[0], 0.0), self.past.get(keys[0], 0.0)
        s0 = sum((self.seq[k][0] for k in keys if k in self.seq), 0j)
        s1 = sum((self.seq[k][1] for k in keys if k in self.seq), 0j)
        s2 = sum((self.seq[k][2] for k in keys if k in self.seq), 0j)
        f0, f1, f2 = self.fault_seq
        fed = max(abs(complex(p[0])) for p in phases(np.array([s0]), np.array([s1]), np.array([s2])))
        beyond = phases(np.array([f0 + s0]), np.array([f1 + s1]), np.array([f2 + s2]))
        past = max(abs(complex(p[0])) for p in beyond)
        return float(fed * self.ibase_ka), float(past * self.ibase_ka)


@dataclass(frozen=True)
class RowEndKeys:
    """Per side (from, to): the rows with a named end there and their (row kind, element,
    end) keys, and where each key is; once per network, so each fault bus's partials are
    built without a Python loop over every row."""

    sides: tuple[tuple[NDArray[np.int64], list[tuple[str, str, str]]], ...]
    where: dict[tuple[str, str, str], tuple[int, int]]


def row_end_keys(net: Network) -> RowEndKeys:
    sides = []
    where: dict[tuple[str, str, str], tuple[int, int]] = {}
    for position in (0, 1):
        rows = [r for r, ends in enumerate(net.row_ends) if ends[position] is not None]
        keys = [(net.row_kind[r], net.row_element[r], str(net.row_ends[r][position])) for r in rows]
        sides.append((np.array(rows, dtype=np.int64), keys))
        where.update((key, (position, j)) for j, key in enumerate(keys))
    return RowEndKeys(tuple(sides), where)


@dataclass(frozen=True)
class EndMagnitudes:
    """The largest phase current (kA) at every named end of every row, looked up by key."""

    keys: RowEndKeys
    magnitudes: tuple[NDArray[np.float64], ...]

    def get(self, key: tuple[str, str, str], default: float = 0.0) -> float:
        found = self.keys.where.get(key)
        return default if found is None else float(self.magnitudes[found[0]][found[1]])


def fault_partials(
    net: Network, fault_bus: int, seq: FaultCurrents, ends: EndCurrents, keys: RowEndKeys | None = None
) -> FaultPartials:
    """Sequence currents into a row at the fault bus are −(its contribution); the fault draws
    (I1, I2, I0) out of the bus, so a fault just past that end draws I_s + i_s,end through it.
    `keys`: row_end_keys(net), when the caller keeps them."""
    ibase = net.sn_mva / (np.sqrt(3.0) * net.base_kv)
    fault = (complex(seq.i1[0]), complex(seq.i2[0]), complex(seq.i0[0]))
    fed: dict[tuple[str, str, str], float] = {}
    past: dict[tuple[str, str, str], float] = {}
    magnitudes: list[NDArray[np.float64]] = []
    end_seq: dict[tuple[str, str, str], tuple[complex, complex, complex]] = {}
    sides = ((net.f, ends.f1, ends.f2, ends.f0), (net.t, ends.t1, ends.t2, ends.t0))
    keys = keys or row_end_keys(net)
    for (buses, s1, s2, s0), (rows, row_keys) in zip(sides, keys.sides, strict=True):
        magnitude = np.abs(np.vstack(phases(s0[rows], s1[rows], s2[rows]))).max(axis=0) * ibase[buses[rows]]
        magnitudes.append(magnitude)
        for j in np.flatnonzero(buses[rows] == fault_bus).tolist():
            r, key = int(rows[j]), row_keys[j]
            fed[key] = float(magnitude[j])
            end_seq[key] = (complex(s0[r]), complex(s1[r]), complex(s2[r]))
            beyond = phases(np.array([fault[2] + s0[r]]), np.array([fault[0] + s1[r]]), np.array([fault[1] + s2[r]]))
            past[key] = float(max(abs(complex(p[0])) for p in beyond) * ibase[fault_bus])
    return FaultPartials(
        fed,
        past,
        EndMagnitudes(keys, tuple(magnitudes)),
        seq=end_seq,
        fault_seq=(fault[2], fault[0], fault[1]),
        ibase_ka=float(ibase[fault_bus]),
    )


@dataclass
class DutyInputs:
    """What the duty needs from the solve of one (fault, case): bus results by the original
    bus ids, the energised document (switching state applied: elements left out, buses merged
    into nodes) and each bus's node in it, the partials of a fault at a node, and bus results
    at another tmin."""

    fault: str
    case: str
    buses: BusValues
    energised: CircuitDocument
    node_of: Mapping[str, str]
    partials: Callable[[str], FaultPartials]
    at_tmin: Callable[[float, list[str]], BusValues]
    trail: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    # line segment id -> the line it is part of (faults along lines split a line into segments)
    segments: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PeakHeat:
    """A device's ip and Ith, and the κ and method they came from."""

    ip_ka: float | None
    ith_ka: float | None
    kappa: float | None
    kappa_method: str | None


class _Table:
    """The duty rows of one (fault, case) as they are found, and what every check reads."""

    def __init__(self, doc: CircuitDocument, inputs: DutyInputs) -> None:
        self.doc = doc
        self.inputs = inputs
        self.tk = doc.study.tk_s
        self.rows: list[dict[str, Any]] = []
        self._partials: dict[str, FaultPartials] = {}
        self.present = {name: {item.id: item for item in getattr(inputs.energised, name)} for name, _ in _ROW_KINDS}
        # each line's energised circuits: itself, or the segments a fault along it made of it
        # (and its healthy parallel circuits, still under its id)
        self.circuits: dict[str, list[Any]] = {}
        for line in inputs.energised.lines:
            self.circuits.setdefault(inputs.segments.get(line.id, line.id), []).append(line)

    def partials(self, bus_id: str) -> FaultPartials:
        """The partial currents of a fault at the node `bus_id` is solved at (computed once)."""
        node = self.inputs.node_of[bus_id]
        if node not in self._partials:
            self._partials[node] = self.inputs.partials(node)
        return self._partials[node]

    def add(
        self,
        device: str,
        kind: str,
        check: str,
        where: tuple[str, str],
        required: float,
        rated: float,
        time_s: float | None,
        factors: PeakHeat | None = None,
    ) -> None:
        """One check; `where` is (the fault bus, "bus" or "element": which side of the device
        the governing fault is on). Margin is the unused share of the rating. The keys are the
        duty table's columns (domain/export.DUTY_COLUMNS), in that order."""
        self.rows.append(
            {
                "fault": self.inputs.fault,
                "case": self.inputs.case,
                "id": device,
                "kind": kind,
                "check": check,
                "location": where[0],
                "fault_position": where[1],
                "required_ka": required,
                "rated_ka": rated,
                "margin_percent": (rated - required) / rated * 100.0,
                "pass": bool(required <= rated),
                "time_s": time_s,
                "kappa": factors.kappa if factors is not None else None,
                "kappa_method": factors.kappa_method if factors is not None else None,
            }
        )

    def withstand(self, rated_ka: float, rated_s: float) -> float:
        return rescaled_withstand_ka(rated_ka, rated_s, self.tk)

    def peak_heat(self, bus_id: str, keys: list[tuple[str, str, str]], position: str, current: float) -> PeakHeat:
        """ip and Ith of a partial current `current` (kA) for a fault at `bus_id`, the device at
        `position` ("bus": it carries the element's partial current; "element": the rest) on
        the row ends `keys`: the non-meshed branches' own κ, m and n where known, otherwise the
        bus's ip and Ith in proportion (its κ and method)."""
        values = self.inputs.buses[bus_id]
        table = self.partials(bus_id).factors if keys else None
        own = table.factors(keys)[0 if position == "bus" else 1] if table is not None else None
        want_ip, want_ith = "ip_ka" in values, "ith_ka" in values
        if own is not None:
            f_hz = float(self.doc.study.frequency_hz)
            ip = float(own.kappa * math.sqrt(2.0) * current) if want_ip else None
            ith = float(current * math.sqrt(own.m(f_hz, self.tk) + own.n(self.tk))) if want_ith else None
            return PeakHeat(ip, ith, own.kappa, "branch")
        ikss = _num(values["ikss_ka"])
        share = current / ikss if ikss > 0 else 0.0
        trail = self.inputs.trail.get(bus_id, {})
        kappa = trail.get("kappa")
        return PeakHeat(
            _num(values["ip_ka"]) * share if want_ip else None,
            _num(values["ith_ka"]) * share if want_ith else None,
            float(kappa) if kappa is not None else None,
            trail.get("kappa_method"),
        )


def device_duty(doc: CircuitDocument, inputs: DutyInputs) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The duty rows of every rated device whose buses were solved, in document order:
    busbars, switches, cables, transformers, and the devices left unchecked
    (`_unchecked_devices`), from one table. Ratings come from `doc`; what is energised, and
    where, from `inputs.energised`."""
    table = _Table(doc, inputs)
    _busbars(table)
    _switches(table)
    _cables(table)
    _transformers(table)
    _transformers3w(table)
    return table.rows, _unchecked_devices(table)


def _unchecked_devices(table: _Table) -> list[dict[str, str]]:
    """Rated, energised devices none of whose buses were solved (a study restricted with
    `buses`): `{id, kind, reason}` each, so they are reported, not silently left out. Devices
    of buses cut off from every source are not listed (the result set's `unsupplied` says why)."""
    doc, inputs = table.doc, table.inputs
    energised = {b.id for b in inputs.energised.buses}
    out: list[dict[str, str]] = []

    def check(device: str, kind: str, buses: list[str], live: bool) -> None:
        if not live or any(b in inputs.buses for b in buses):
            return
        left_out = [b for b in dict.fromkeys(buses) if inputs.node_of.get(b) in energised]
        if left_out:
            reason = f"not solved: the study is restricted to other buses ({', '.join(left_out)} left out)"
            out.append({"id": device, "kind": kind, "reason": reason})

    for bus in doc.buses:
        check(bus.id, "busbar", [bus.id], bus.ratings is not None)
    for switch in doc.switches:
        if switch.ratings is None:
            continue
        node = inputs.node_of.get(switch.bus)
        if switch.element is not None:
            live = node is not None and bool(_switch_row_keys(table, node, switch.element))
        else:  # a coupler: closed, its buses one node
            live = switch.to_bus is not None and node is not None and inputs.node_of.get(switch.to_bus) == node
        check(switch.id, switch.kind, [switch.bus], live)
    for line in doc.lines:
        check(line.id, "cable", [line.from_bus, line.to_bus], line.ratings is not None and line.id in table.circuits)
    for trafo in doc.transformers:
        live = trafo.ratings is not None and trafo.id in table.present["transformers"]
        check(trafo.id, "transformer", [trafo.hv_bus, trafo.lv_bus], live)
    for t3 in doc.transformers3w:
        live = t3.ratings is not None and (
            t3.id in table.present["transformers3w"] or t3.id in table.present["transformers"]
        )
        check(t3.id, "transformer", [t3.hv_bus, t3.mv_bus, t3.lv_bus], live)
    return out


def _busbars(table: _Table) -> None:
    for bus in table.doc.buses:
        ratings, values = bus.ratings, table.inputs.buses.get(bus.id)
        if ratings is None or values is None:
            continue
        where = (bus.id, "bus")
        own = table.peak_heat(bus.id, [], "bus", _num(values["ikss_ka"]))  # the bus's own factors
        if ratings.peak_withstand_ka is not None and "ip_ka" in values:
            peak = _num(values["ip_ka"])
            table.add(bus.id, "busbar", "peak", where, peak, ratings.peak_withstand_ka, None, own)
        if ratings.short_time_ka is not None and "ith_ka" in values:
            rated = table.withstand(ratings.short_time_ka, ratings.short_time_s)
            table.add(bus.id, "busbar", "thermal", where, _num(values["ith_ka"]), rated, table.tk, own)


def _switches(table: _Table) -> None:
    inputs, study = table.inputs, table.doc.study
    at_delays = _breaker_tmin_values(table.doc, inputs)
    for switch in table.doc.switches:
        ratings, values = switch.ratings, inputs.buses.get(switch.bus)
        if ratings is None or values is None:
            continue
        ikss = _num(values["ikss_ka"])
        # (position, current, its share of the bus's decay)
        positions: list[tuple[str, float, float]]
        keys: list[tuple[str, str, str]] = []
        if switch.element is not None:
            # open (or its element out of service): the element is not energised, no current
            keys = _switch_row_keys(table, inputs.node_of[switch.bus], switch.element)
            if not keys:
                continue
            at = table.partials(switch.bus)
            fed, past = at.combined(keys)
            shares = at.decay.shares(keys) if at.decay is not None else None
            share_fed, share_past = shares or ((fed / ikss, past / ikss) if ikss > 0 else (0.0, 0.0))
            positions = [("bus", fed, share_fed), ("element", past, share_past)]
        elif switch.to_bus is not None and inputs.node_of.get(switch.to_bus) == inputs.node_of[switch.bus]:
            positions = [("bus", ikss, 1.0)]  # a closed coupler: at most the whole fault current at its bus
        else:
            continue  # an open coupler keeps its buses apart and carries nothing
        name, kind = switch.id, switch.kind
        # making and thermal: the worse position for each (their κ may differ)
        options = [
            (table.peak_heat(switch.bus, keys, position, current), position) for position, current, _ in positions
        ]
        if ratings.making_ka is not None and "ip_ka" in values:
            own, position = max(options, key=lambda option: option[0].ip_ka or 0.0)
            required = own.ip_ka or 0.0
            table.add(name, kind, "making", (switch.bus, position), required, ratings.making_ka, None, own)
        if ratings.short_time_ka is not None and "ith_ka" in values:
            rated = table.withstand(ratings.short_time_ka, ratings.short_time_s)
            own, position = max(options, key=lambda option: option[0].ith_ka or 0.0)
            table.add(name, kind, "thermal", (switch.bus, position), own.ith_ka or 0.0, rated, table.tk, own)
        tmin = ratings.tmin_s if ratings.tmin_s is not None else study.tmin_s
        _breaking(table, switch, ratings, positions, at_delays.get((tmin, switch.bus), values), tmin)


def _breaking(
    table: _Table,
    switch: Switch,
    ratings: BreakerRatings,
    positions: list[tuple[str, float, float]],
    values: Mapping[str, float | str],
    tmin: float,
) -> None:
    """Breaking at the breaker's tmin: Ib,d = I″k,d − (I″k − Ib)·(its share of the decay),
    the worse position; Ib,asym,d with the DC component i_DC·I″k,d/I″k of that position."""
    if "ib_ka" not in values:
        return
    ikss, decay = _num(values["ikss_ka"]), _num(values["ikss_ka"]) - _num(values["ib_ka"])
    idc = _num(values["idc_ka"]) if "idc_ka" in values else 0.0
    options = []
    for position, current, share in positions:
        ib = min(max(current - decay * share, 0.0), current)
        dc = idc * current / ikss if ikss > 0 else 0.0
        options.append((ib, math.hypot(ib, dc), position))
    if ratings.breaking_ka is not None:
        ib, _, position = max(options)
        table.add(switch.id, switch.kind, "breaking", (switch.bus, position), ib, ratings.breaking_ka, tmin)
    asym_rating = ratings.asymmetrical_breaking_ka(tmin)
    if table.doc.study.ib_asym and asym_rating is not None and "ib_asym_ka" in values:
        _, asym, position = max(options, key=lambda option: option[1])
        table.add(switch.id, switch.kind, "breaking_asym", (switch.bus, position), asym, asym_rating, tmin)


def _cables(table: _Table) -> None:
    for line in table.doc.lines:
        cable = line.ratings
        if cable is None or not table.circuits.get(line.id):
            continue
        node_of = table.inputs.node_of
        worst: tuple[float, str, str, PeakHeat] | None = None
        for circuit in table.circuits[line.id]:
            # each end of each circuit (a segment ends at a line end or at a fault point along it)
            for at_bus, end in ((circuit.from_bus, "from"), (circuit.to_bus, "to")):
                bus_id = next((b for b in (line.from_bus, line.to_bus) if node_of.get(b) == at_bus), at_bus)
                values = table.inputs.buses.get(bus_id)
                if values is None or "ith_ka" not in values:
                    continue
                at = table.partials(bus_id)
                key = ("line", circuit.id, end)
                for position, current in (("bus", at.fed.get(key, 0.0)), ("element", at.past.get(key, 0.0))):
                    own = table.peak_heat(bus_id, [key], position, current)
                    # identical parallel circuits share the current equally
                    required = (own.ith_ka or 0.0) / circuit.parallel
                    if worst is None or required > worst[0]:
                        worst = (required, bus_id, position, own)
        if worst is not None:
            required, bus_id, position, own = worst
            rated = cable.withstand_ka(table.tk)
            table.add(line.id, "cable", "thermal", (bus_id, position), required, rated, table.tk, own)


def _transformers(table: _Table) -> None:
    for trafo in table.doc.transformers:
        limits = trafo.ratings
        if limits is None or trafo.id not in table.present["transformers"]:
            continue
        side = limits.through_fault_side
        rated_kv = trafo.vn_hv_kv if side == "hv" else trafo.vn_lv_kv
        limit = table.withstand(limits.limit_ka(trafo.sn_mva * trafo.parallel, rated_kv), limits.through_fault_s)
        worst: tuple[float, str, PeakHeat] | None = None
        for bus_id, end in ((trafo.hv_bus, "hv"), (trafo.lv_bus, "lv")):
            values = table.inputs.buses.get(bus_id)
            if values is None or "ith_ka" not in values:
                continue
            # a through fault: the transformer's own partial current on the rated side, with
            # the factors of its partial current into the fault
            through = table.partials(bus_id).at_end.get(("trafo", trafo.id, side), 0.0)
            own = table.peak_heat(bus_id, [("trafo", trafo.id, end)], "bus", through)
            if worst is None or (own.ith_ka or 0.0) > worst[0]:
                worst = (own.ith_ka or 0.0, bus_id, own)
        if worst is not None:
            required, bus_id, own = worst
            table.add(trafo.id, "transformer", "thermal", (bus_id, "bus"), required, limit, table.tk, own)


def _transformers3w(table: _Table) -> None:
    """Each rated winding of a three-winding transformer against its own current, rated on its
    own side, for faults at any of the transformer's buses (rows `<id>:<winding>`)."""
    for t3 in table.doc.transformers3w:
        limits = t3.ratings
        if limits is None:
            continue
        # energised whole, or one winding open: the two-winding remainder (hv = its higher winding)
        whole = table.present["transformers3w"].get(t3.id)
        remainder = table.present["transformers"].get(t3.id) if whole is None else None
        if whole is not None:
            ends = {w: ("trafo3w", w) for w in ("hv", "mv", "lv")}
        elif remainder is not None:
            node_of = table.inputs.node_of
            by_bus = {node_of.get(getattr(t3, f"{w}_bus")): w for w in ("hv", "mv", "lv")}
            ends = {by_bus[remainder.hv_bus]: ("trafo", "hv"), by_bus[remainder.lv_bus]: ("trafo", "lv")}
        else:
            continue
        buses = [(getattr(t3, f"{w}_bus"), w) for w in ("hv", "mv", "lv") if w in ends]
        for winding, limit in limits.windings():
            if winding not in ends:
                continue  # its winding is open: it carries nothing
            sn, vn = getattr(t3, f"sn_{winding}_mva"), getattr(t3, f"vn_{winding}_kv")
            rated = table.withstand(limit.limit_ka(sn, vn), limit.through_fault_s)
            kind, end = ends[winding]
            worst: tuple[float, str, PeakHeat] | None = None
            for bus_id, at_winding in buses:
                values = table.inputs.buses.get(bus_id)
                if values is None or "ith_ka" not in values:
                    continue
                # the winding's own current; κ, m, n of the transformer's partial current into the fault
                through = table.partials(bus_id).at_end.get((kind, t3.id, end), 0.0)
                own = table.peak_heat(bus_id, [(kind, t3.id, ends[at_winding][1])], "bus", through)
                if worst is None or (own.ith_ka or 0.0) > worst[0]:
                    worst = (own.ith_ka or 0.0, bus_id, own)
            if worst is not None:
                required, bus_id, own = worst
                name = f"{t3.id}:{winding}"
                table.add(name, "transformer", "thermal", (bus_id, "bus"), required, rated, table.tk, own)


def _breaker_tmin_values(doc: CircuitDocument, inputs: DutyInputs) -> dict[tuple[float, str], Mapping[str, Any]]:
    """Bus results at each breaker's own tmin where it differs from the study's."""
    wanted: dict[float, list[str]] = {}
    for switch in doc.switches:
        ratings = switch.ratings
        if ratings is None or ratings.tmin_s is None or ratings.tmin_s == doc.study.tmin_s:
            continue
        if switch.bus in inputs.buses:
            wanted.setdefault(ratings.tmin_s, [])
            if switch.bus not in wanted[ratings.tmin_s]:
                wanted[ratings.tmin_s].append(switch.bus)
    out: dict[tuple[float, str], Mapping[str, Any]] = {}
    for tmin, buses in wanted.items():
        for bus_id, values in inputs.at_tmin(tmin, buses).items():
            out[(tmin, bus_id)] = values
    return out


def _switch_row_keys(table: _Table, node: str, element: str) -> list[tuple[str, str, str]]:
    """(row kind, row element, end name) of the energised element's rows with an end at
    `node`: one, or for a line a fault along it split, its segment at `node` and its healthy
    parallel circuits; empty when the element is not energised."""
    present = table.present
    for list_name, kind in _ROW_KINDS:
        if list_name == "lines" and element in table.circuits:
            items = table.circuits[element]
        elif element in present[list_name]:
            items = [present[list_name][element]]
        else:
            continue
        keys = []
        for item in items:
            for attribute, end in _END_FIELDS[list_name]:
                if getattr(item, attribute) == node:
                    keys.append((kind, item.id, end))
        return keys
    return []


_END_FIELDS = {
    "lines": (("from_bus", "from"), ("to_bus", "to")),
    "transformers": (("hv_bus", "hv"), ("lv_bus", "lv")),
    "transformers3w": (("hv_bus", "hv"), ("mv_bus", "mv"), ("lv_bus", "lv")),
}


def _num(value: float | str) -> float:
    return float(value)
