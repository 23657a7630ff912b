"""The duty section of a study: branch partial currents per fault bus, and the duty rows per result set.

`solve_study(..., duty=True)` (or `study.duty`) calls `attach_duty` once its result sets are
final. The partial currents come from the energised document's own networks (one positive-
and, for earth faults, one zero-sequence factorization per case), one column per fault bus.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from . import sources
from .contributions import end_currents
from .duty import (
    BusValues,
    DutyInputs,
    FaultPartials,
    RowEndKeys,
    device_duty,
    fault_partials,
    row_end_keys,
)
from .duty_decay import MachineColumns, decay_shares
from .duty_factors import BridgeTopology, branch_factors
from .elements import build_network
from .faults import sequence_currents
from .result import ResultSet
from .sequences import CaseNetworks

# The solve's own helpers: earthed parts, and a whole solve at another tmin. This module is
# imported by solve_study when it runs, so the import is not circular at load time.
from .solve import _earthed, solve_study

if TYPE_CHECKING:
    from ampflux_shared.circuit import CircuitDocument, LineFault


class _CaseNetworks:
    """The energised document's networks of one case, built once, and the inside networks of
    power-station units whose generator terminals are faulted (IEC 60909-0 §6.7)."""

    def __init__(self, doc: CircuitDocument, case: str, zero: bool) -> None:
        self.doc = doc
        self.case = case
        f_hz = float(doc.study.frequency_hz)
        self.nets = CaseNetworks(build_network(doc, case, zero=zero), f_hz, has_generators=bool(doc.generators))
        self.index = {b: i for i, b in enumerate(self.nets.net.bus_ids)}
        self.units = {g.bus: g for g in doc.generators if g.power_station_trafo}
        self._inside: dict[str, CaseNetworks] = {}
        self._machine_columns: dict[int, MachineColumns] = {}
        self._topology: dict[int, BridgeTopology] = {}
        self._row_keys: dict[int, RowEndKeys] = {}

    def partials(self, node: str, fault: str) -> FaultPartials:
        """Branch-end currents for a fault at `node` (as solve.py's branch contributions)."""
        doc, nets = self.doc, self.nets
        net = nets.net
        bus = self.index[node]
        use = nets
        c = float(net.c[bus])
        unit = self.units.get(node)
        if unit is not None:
            if node not in self._inside:
                inside = build_network(doc, self.case, zero=False, inside_unit=unit.id)
                self._inside[node] = CaseNetworks(inside, nets.f_hz, True)
            use = self._inside[node]
            c = float(use.net.c[bus]) * unit.vn_kv / float(net.base_kv[bus])  # c·U_rG/√3 at the terminals
        zf = complex(doc.study.r_fault_ohm, doc.study.x_fault_ohm) / float(use.net.z_base()[bus])
        z1_col = use.pos.columns(np.array([bus]))[:, 0]
        z0_col = z0_kk = None
        if fault in ("1ph", "2phg"):
            z0_col = nets.zero.column(bus, net.n_bus)
            z0_kk = nets.zero.diagonal(np.array([bus]))
            if not _earthed(net)[bus]:
                z0_kk = np.array([np.inf + 0j])  # unearthed: no I″k1, as at the bus
        neg = use.negative if fault != "3ph" else None
        z2_col = neg.columns(np.array([bus]))[:, 0] if neg is not None else None
        z2_kk = np.array([z2_col[bus]]) if z2_col is not None else None
        # full converters: their injections, with the fault's source voltage c + Σ|Z_kj|·I_skPF
        s_cs, dv_cs = sources.fault_injection(use.pos, use.net.current_sources, z1_col)
        seq = sequence_currents(fault, np.array([c + s_cs]), np.array([z1_col[bus]]), z0_kk, zf, z2_kk)
        ends, (_, dv1, _, _) = end_currents(use.net, bus, seq, z1_col, z0_col, net.y0, z2_col, dv_cs)
        if id(use) not in self._row_keys:
            self._row_keys[id(use)] = row_end_keys(use.net)
        partials = fault_partials(use.net, bus, seq, ends, self._row_keys[id(use)])
        # κ, m and n of the partial currents that come through non-meshed branches (§8.1.2)
        if id(use) not in self._topology:
            self._topology[id(use)] = BridgeTopology(use.net)
        partials.factors = branch_factors(use, self._topology[id(use)], bus, dv1, fault, self.case)
        if fault == "3ph" and use.net.machines:
            # which machines' decay each breaker position carries (Ib of the device)
            if id(use) not in self._machine_columns:
                self._machine_columns[id(use)] = MachineColumns(use.net, use.pos)
            columns = self._machine_columns[id(use)]
            partials.decay = decay_shares(use.net, columns, bus, z1_col, c, doc.study.tmin_s)
        return partials


def attach_duty(
    doc: CircuitDocument,
    energised: CircuitDocument,
    node_of: Mapping[str, str],
    sets: Sequence[ResultSet],
    *,
    scenario: str | None = None,
    line_faults: Sequence[LineFault] | None = None,
    segments: Mapping[str, str] | None = None,
) -> None:
    """Fill `duty` on every result set: `doc` has the ratings, `energised` is what was solved."""
    # built on the first device that needs partial currents: a study without rated switches,
    # cables or transformers (busbars only, or no ratings at all) factorizes nothing more
    networks: dict[tuple[str, bool], _CaseNetworks] = {}

    def case_networks(case: str, zero: bool) -> _CaseNetworks:
        if (case, zero) not in networks:
            networks[(case, zero)] = _CaseNetworks(energised, case, zero)
        return networks[(case, zero)]

    for rs in sets:

        def partials(node: str, case: str = rs.case, fault: str = rs.fault) -> FaultPartials:
            return case_networks(case, fault in ("1ph", "2phg")).partials(node, fault)

        def at_tmin(tmin: float, buses: list[str], rs: ResultSet = rs) -> BusValues:
            # the whole study again at the breaker's own minimum time delay, at its buses only
            study = doc.study.model_copy(update={"tmin_s": tmin, "duty": False})
            again = solve_study(
                doc.model_copy(update={"study": study}),
                faults=[rs.fault],
                cases=[rs.case],
                buses=buses,
                scenario=scenario,
                line_faults=line_faults,
                duty=False,
            )
            values: dict[str, Any] = again.get(rs.fault, rs.case).buses
            return values

        inputs = DutyInputs(
            rs.fault, rs.case, rs.buses, energised, node_of, partials, at_tmin, rs.trail, dict(segments or {})
        )
        rs.duty, rs.duty_not_checked = device_duty(doc, inputs)
