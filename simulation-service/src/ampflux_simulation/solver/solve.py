"""solve_study: all fault types and cases of a study at the chosen buses."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from . import breaking, factors, peak, sources, thermal
from .contributions import branch_contributions
from .elements import ASYNCHRONOUS, Network, build_network
from .errors import SolverError
from .faults import FAULTS, earth_current_pu, fault_current_pu, sequence_currents
from .result import BASE_QUANTITIES, NO_ZERO_PATH, ResultSet, StudyResult
from .sequences import CaseNetworks
from .switching import configure, report
from .topology import earthed, multiply_fed, path_keys

if TYPE_CHECKING:
    from ampflux_shared.circuit import CircuitDocument, LineFault

SQRT3 = math.sqrt(3.0)
CASES = ("max", "min")
# Where only motors feed a fault its steady-state current is zero; I″k/Ik is capped here.
MAX_IK_RATIO = 100.0
# Machine columns per block: n × block complex values (~32 MB).
MAX_COLUMNS_ENTRIES = 2**21


# A machine enters a bus's trail when it feeds more than this share of the voltage drop.
TRAIL_MIN_DROP = 0.05


@dataclass
class _Machines:
    """What the decaying machines do to faults at the chosen buses (3ph), summed per bus."""

    ib_reduction_pu: NDArray[np.float64]  # Σ_i ΔU″_i/(c·Un/√3)·(1 − μ_i·q_i)·I″k_i
    trail: list[dict[str, dict[str, float]]]  # per bus: machine id -> μ, q, I″k/Ir, ΔU″ share
    # single-fed buses (one machine is the only source of the fault's island): eq. 70 / 73
    ib_single_pu: NDArray[np.float64]  # μ·q·I″k, NaN where not single-fed
    ik_single_pu: NDArray[np.float64]  # λ·I_rG (generator) or 0 (motor), NaN where not single-fed


def solve_study(
    doc: CircuitDocument,
    *,
    faults: Sequence[str] | None = None,
    cases: Sequence[str] | None = None,
    buses: Sequence[str] | None = None,
    branches_for: str | None = None,
    scenario: str | None = None,
    line_faults: Sequence[LineFault] | None = None,
    duty: bool | None = None,
) -> StudyResult:
    """Solve the study of `doc` (or the given faults / cases) at every bus (or `buses`).

    `branches_for` adds branch contributions and post-fault voltages for a fault at that bus.
    `scenario` names a switching state of the document; `line_faults` (default: the study's)
    adds faults along lines, reported as `<line>@<fraction>` (see switching.py).
    `duty` (default: `study.duty`) adds the equipment duty of every rated device (duty.py)."""
    study = doc.study
    rated = doc
    faults = list(faults) if faults else list(study.faults)
    cases = list(cases) if cases else list(study.cases)
    for f in faults:
        if f not in FAULTS:
            raise SolverError(f"unknown fault type {f!r}; expected one of {', '.join(FAULTS)}")
    for c in cases:
        if c not in CASES:
            raise SolverError(f"unknown case {c!r}; expected 'max' or 'min'")
    # the switching state per case: in the min case motors keep no island supplied
    configs = {case: configure(doc, scenario=scenario, line_faults=line_faults, case=case) for case in cases}
    config = configs[cases[0]]
    known = {b.id for b in doc.buses} | set(config.points)
    requested = list(buses) if buses is not None else [b.id for b in doc.buses]
    requested = list(dict.fromkeys([*requested, *config.points]))  # faults along lines are always asked for
    unknown = [b for b in requested if b not in known]
    if unknown:
        raise SolverError(f"unknown bus id(s): {', '.join(unknown)}")
    if branches_for is not None and branches_for not in known:
        raise SolverError(f"unknown bus id for branch contributions: {branches_for}")
    if branches_for is not None and all(branches_for not in c.node_of for c in configs.values()):
        raise SolverError(f"branch contributions for {branches_for}: {config.unsupplied[branches_for]}")

    by_case: dict[str, dict[str, ResultSet]] = {}
    for case, cfg in configs.items():
        branch_node = cfg.node_of.get(branches_for) if branches_for is not None else None
        fault_ids = cfg.fault_nodes(requested)
        if fault_ids:
            by_case[case] = _solve_case(cfg.doc, case, faults, fault_ids, branch_node)
        else:  # every asked-for bus is cut off from its sources: nothing to solve, only reasons
            by_case[case] = {f: ResultSet(fault=f, case=case, quantities=[], buses={}, trail={}) for f in faults}
        if cfg.changed:
            by_case[case] = {f: report(rs, cfg, requested, branches_for) for f, rs in by_case[case].items()}
    sets = [by_case[case][fault] for fault in faults for case in cases]
    if study.duty if duty is None else duty:
        from .duty_study import attach_duty  # it calls solve_study back (a breaker's own tmin)

        attach_duty(
            rated,
            config.doc,
            config.node_of,
            sets,
            scenario=scenario,
            line_faults=line_faults,
            segments=config.segments,
        )
    return StudyResult(sets)


def _kappa(
    doc: CircuitDocument, nets: CaseNetworks, buses: NDArray[np.int64], zf: NDArray[Any]
) -> tuple[NDArray[np.float64], NDArray[np.float64], str]:
    """κ, the R/X it came from, and the method name, for faults at `buses`."""
    study = doc.study
    net = nets.net
    f_hz = float(study.frequency_hz)
    if study.topology != "radial" and study.kappa_method == "C":
        scale = peak.EQUIVALENT_FREQUENCY_HZ[int(f_hz)] / f_hz
        zc = nets.method_c.diagonal(buses) + (zf.real + 1j * zf.imag * scale)
        rx = peak.method_c_ratio(zc, f_hz)
        return peak.kappa(rx), rx, "C"
    z = nets.peak.diagonal(buses) + zf
    rx = z.real / z.imag
    if study.topology == "radial":
        return peak.kappa(rx), rx, "radial"
    if study.topology == "meshed":
        meshed = np.ones(len(buses), dtype=bool)
    else:
        f_edges, t_edges = _distinct_paths(net)
        meshed = multiply_fed(net.n_bus, f_edges, t_edges, net.sh_bus)[buses]
    # "R/X < 0.3 in all branches" counts the sources too (grids, generators with R_Gf, motors)
    r_all = np.concatenate([net.r1, net.sh_z_peak.real])
    x_all = np.concatenate([net.x1, net.sh_z_peak.imag])
    with np.errstate(divide="ignore", invalid="ignore"):
        low = bool(np.all(np.where(x_all > 0, r_all / x_all, np.inf) < peak.METHOD_B_RX_LIMIT))
    lv = net.base_kv[buses] <= factors.LV_LIMIT_KV
    return peak.method_b_kappa(rx, meshed, lv, low), rx, "B"


def _distinct_paths(net: Network) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Branch rows as topology edges for κ method B: identical parallel circuits (one row
    with parallel = n, or rows joining the same two buses with the same R/X) are one path,
    since they share the fault current in one ratio and cannot raise κ; parallel circuits
    with different R/X stay separate paths (a mesh)."""
    _, first = np.unique(path_keys(net), axis=0, return_index=True)
    return net.f[first], net.t[first]


def _machines(
    nets: CaseNetworks,
    buses: NDArray[np.int64],
    i_k: NDArray[Any],
    c: NDArray[np.float64],
    tmin_s: float,
    case: str,
) -> _Machines:
    """Partial currents of every machine for 3ph faults at `buses`, aggregated per bus.

    The machine's terminal voltage changes by ΔV = Z[m, k]·I_k (Y is symmetric, so the
    column of its bus serves every fault bus); its partial current is ΔV/Z_machine.
    Columns are taken a block at a time so memory stays n × block."""
    net = nets.net
    nb = len(buses)
    reduction = np.zeros(nb)
    trail: list[dict[str, dict[str, float]]] = [{} for _ in range(nb)]
    ib_single = np.full(nb, np.nan)
    ik_single = np.full(nb, np.nan)
    if not net.machines:
        return _Machines(reduction, trail, ib_single, ik_single)
    only = _only_source(net)[buses]
    mbus = np.unique([m.bus for m in net.machines])
    by_bus: dict[int, list[int]] = {}
    for i, m in enumerate(net.machines):
        by_bus.setdefault(m.bus, []).append(i)
    block = max(1, MAX_COLUMNS_ENTRIES // max(net.n_bus, 1))
    for start in range(0, len(mbus), block):
        cols = nets.pos.columns(mbus[start : start + block])
        for j, bus in enumerate(mbus[start : start + block]):
            dv = cols[buses, j] * i_k  # voltage change at this machine bus, per fault bus
            drop = np.abs(dv) / c
            ibase_m = net.sn_mva / (SQRT3 * net.base_kv[bus])
            for i in by_bus[int(bus)]:
                m = net.machines[i]
                i_pu = np.abs(dv / net.sh_z[m.shunt])
                ratio = i_pu * ibase_m / m.ir_ka
                mu = breaking.mu_factor(ratio, tmin_s)
                q = breaking.q_factor(m.power_per_pole_pair_mw, tmin_s) if m.kind in ASYNCHRONOUS else 1.0
                reduction += drop * (1.0 - mu * q) * i_pu
                alone = only == m.shunt
                if alone.any():
                    # fed by this machine alone: Ib = μ·I″kG (eq. 70) or μ·q·I″kM (eq. 73), and
                    # Ik = λ·I_rG (steady state), or 0 for an asynchronous motor
                    ib_single[alone] = (mu * q * i_pu)[alone]
                    if m.kind == "generator":
                        lam = thermal.steady_state_lambda(
                            ratio[alone],
                            xdss_pu=m.xdss_pu,
                            xdsat_pu=m.xdsat_pu,
                            sin_phi=m.sin_phi,
                            e_f_pu=m.e_fmax_pu if case == "max" else 1.0,
                        )
                        ik_single[alone] = lam * m.ir_ka / ibase_m
                    else:
                        ik_single[alone] = 0.0
                for b in np.flatnonzero(drop > TRAIL_MIN_DROP):
                    trail[b][m.element] = {
                        "mu": float(mu[b]),
                        "q": float(q),
                        "ik_over_ir": float(ratio[b]),
                        "voltage_drop": float(drop[b]),
                    }
    return _Machines(reduction, trail, ib_single, ik_single)


def _dc_ratio(
    doc: CircuitDocument, nets: CaseNetworks, buses: NDArray[np.int64], zf: NDArray[Any]
) -> NDArray[np.float64]:
    """R/X for the DC component at t = tmin_s, with the real generator resistance: method C
    (meshed, κ method C) from the network at fc = (fc/f)·f chosen by f·t, R/X = (Rc/Xc)·(fc/f);
    otherwise R/X of the impedance at the fault."""
    study = doc.study
    f_hz = float(study.frequency_hz)
    if study.topology != "radial" and study.kappa_method == "C":
        scale = peak.dc_equivalent_ratio(f_hz, study.tmin_s)
        zc = nets.dc_network(scale).diagonal(buses) + (zf.real + 1j * zf.imag * scale)
        return np.asarray(zc.real / zc.imag * scale, dtype=float)
    z = nets.pos.diagonal(buses) + zf
    return np.asarray(z.real / z.imag, dtype=float)


def _only_source(net: Network) -> NDArray[np.int64]:
    """Per bus: the shunt index of the single source of its island, −1 where it has several."""
    labels = net.bus_islands
    count = np.bincount(labels[net.sh_bus], minlength=int(labels.max()) + 1)
    owner = np.full(count.size, -1, dtype=np.int64)
    single = count[labels[net.sh_bus]] == 1
    owner[labels[net.sh_bus[single]]] = np.flatnonzero(single)
    return owner[labels]


def _without_motors(nets: CaseNetworks, buses: NDArray[np.int64]) -> NDArray[np.complex128]:
    """Z1 at `buses` with the motors left out (for I″kM, IEC 60909-0:2016 steady state in meshed networks); islands fed
    by motors alone keep them (their Ik is 0 anyway, set by the caller)."""
    net = nets.net
    motor = np.array([k in ASYNCHRONOUS for k in net.sh_kind], dtype=bool)
    if not motor.any():
        return nets.pos.diagonal(buses)
    labels = net.bus_islands
    other_fed = np.zeros(int(labels.max()) + 1, dtype=bool)
    other_fed[labels[net.sh_bus[~motor]]] = True
    keep = ~motor | ~other_fed[labels[net.sh_bus]]
    reduced = replace(
        net,
        sh_bus=net.sh_bus[keep],
        sh_z=net.sh_z[keep],
        sh_z_peak=net.sh_z_peak[keep],
        sh_z2=net.sh_z2[keep],
        sh_kind=[k for k, ok in zip(net.sh_kind, keep, strict=True) if ok],
        sh_element=[e for e, ok in zip(net.sh_element, keep, strict=True) if ok],
        machines=[],
    )
    z = CaseNetworks(reduced, nets.f_hz, nets.has_generators).pos.diagonal(buses)
    return np.where(other_fed[labels[buses]], z, np.inf)


def _solve_case(
    doc: CircuitDocument, case: str, faults: list[str], fault_ids: list[str], branches_for: str | None
) -> dict[str, ResultSet]:
    study = doc.study
    f_hz = float(study.frequency_hz)
    need_zero = any(f in ("1ph", "2phg") for f in faults)
    net = build_network(doc, case, zero=need_zero)
    nets = CaseNetworks(net, f_hz, has_generators=bool(doc.generators))
    index = {b: i for i, b in enumerate(net.bus_ids)}
    k = np.array([index[b] for b in fault_ids], dtype=np.int64)

    zb = net.z_base()[k]
    c = net.c[k]
    c_factor = c.copy()  # the voltage factor; c below becomes the source per unit (c·U_rG/Un at unit terminals)
    source_kv = np.full(len(k), np.nan)  # U_rG where a unit's generator terminals are faulted
    un = net.base_kv[k]
    ibase = net.sn_mva / (SQRT3 * un)
    zf = complex(study.r_fault_ohm, study.x_fault_ohm) / zb

    z1 = nets.pos.diagonal(k)
    neg = nets.negative if any(f != "3ph" for f in faults) else None
    z2 = neg.diagonal(k) if neg is not None else None
    z0 = nets.zero.diagonal(k) if need_zero else None
    # earth faults in unearthed (isolated or compensated) parts drive only the capacitive
    # current: that is not an I″k1 of IEC 60909-0, so those buses report no earth path
    z0_fault, unearthed = z0, np.zeros(len(k), dtype=bool)
    if z0 is not None:
        unearthed = ~_earthed(net)[k]
        z0_fault = np.where(unearthed, np.inf, z0)
    want_kappa = study.ip or study.ith
    kap, rx, method = _kappa(doc, nets, k, zf) if want_kappa else (None, None, "")
    methods = [method] * len(k)
    dc_rx = _dc_ratio(doc, nets, k, zf) if study.ib_asym else None
    i_k3 = c / (z1 + zf)
    mach = _machines(nets, k, i_k3, c, study.tmin_s, case) if "3ph" in faults else None
    # I″k without motors (I″kM) for the steady state of meshed / multiply fed faults
    ikm_share = None
    if mach is not None and net.machines and (study.ith or study.ik_steady):
        ikm_share = np.abs((c / (_without_motors(nets, k) + zf)) / i_k3)

    # faults at a power-station generator's terminals see K_G,S and K_T,S (own network) and
    # the source c·U_rG/√3 of IEC 60909-0 §6.7, whatever the bus's nominal voltage
    unit_nets: dict[int, CaseNetworks] = {}
    # full converters: Σ_j |Z_ij|·I_skPF,j added to the source voltage (sources.py)
    cs = sources.current_source_voltage(nets.pos, net.current_sources, k)
    for gen in doc.generators:
        if not gen.power_station_trafo:
            continue
        g = index[gen.bus]
        pos = np.flatnonzero(k == g)
        if pos.size == 0:
            continue
        inside = CaseNetworks(build_network(doc, case, zero=False, inside_unit=gen.id), f_hz, True)
        unit_nets[g] = inside
        cs_unit = sources.current_source_voltage(inside.pos, inside.net.current_sources, np.array([g]))
        cs.voltage_pu[pos] = cs_unit.voltage_pu[0]
        for p_ in pos:
            cs.shares[p_] = cs_unit.shares[0]
        c[pos] = c[pos] * gen.vn_kv / un[pos]
        source_kv[pos] = gen.vn_kv
        gb = np.array([g])
        z1[pos] = inside.pos.diagonal(gb)[0]
        if z2 is not None:
            z2[pos] = (inside.negative or inside.pos).diagonal(gb)[0]
        if want_kappa:
            kk, rr, _ = _kappa(doc, inside, gb, zf[pos[:1]])
            kap[pos], rx[pos] = kk[0], rr[0]  # type: ignore[index]
        if dc_rx is not None:
            dc_rx[pos] = _dc_ratio(doc, inside, gb, zf[pos[:1]])[0]
        if mach is not None:
            m2 = _machines(inside, gb, c[pos[:1]] / (z1[pos[:1]] + zf[pos[:1]]), c[pos[:1]], study.tmin_s, case)
            mach.ib_reduction_pu[pos] = m2.ib_reduction_pu[0]
            mach.ib_single_pu[pos] = m2.ib_single_pu[0]
            mach.ik_single_pu[pos] = m2.ik_single_pu[0]
            for p_ in pos:
                mach.trail[p_] = m2.trail[0]
        i_k3[pos] = c[pos] / (z1[pos] + zf[pos])

    out: dict[str, ResultSet] = {}
    # What every fault of the case shares (Z1, Z0, κ, m): computed and turned into Python
    # floats once, so the result sets share those float objects instead of making their own.
    z1_ohm = z1 * zb
    z0_ohm = np.where(np.isfinite(z0), np.where(np.isfinite(z0), z0, 0) * zb, np.inf) if z0 is not None else None
    # m takes κ of the R/X behind the fault, never method B's 1.15·κ (capped): that factor
    # covers the peak's uncertainty in meshes, not a longer-lasting DC component
    m_fac = thermal.m_factor(peak.kappa(rx), f_hz, study.tk_s) if rx is not None else None
    shared = _TrailColumns.of(c_factor, z1_ohm, z0_ohm, kap, rx, m_fac)
    for fault in faults:
        seq = sequence_currents(fault, c, z1, z0_fault, zf, z2)
        capacitive = None
        if fault in ("1ph", "2phg") and unearthed.any():
            assert z0 is not None
            capacitive = fault_current_pu("1ph", sequence_currents("1ph", c, z1, z0, zf, z2)) * ibase
        ikss = fault_current_pu(fault, seq) * ibase  # the equivalent voltage source's part
        # the converters' part: the same fault formula with c → Σ|Z_ij|·I_skPF (magnitudes added)
        ikss_pf = ikss * cs.voltage_pu / c
        ikss_all = ikss + ikss_pf
        quantities = [
            q
            for q in BASE_QUANTITIES[fault]
            if not (q == "ip_ka" and not study.ip) and not (q == "ith_ka" and not study.ith)
        ]
        if dc_rx is not None:
            at = quantities.index("ib_ka") + 1
            quantities[at:at] = ["idc_ka", "ib_asym_ka"]
        if study.ik_steady and fault == "3ph":
            quantities.insert(quantities.index("ib_ka") + (3 if dc_rx is not None else 1), "ik_ka")
        n = np.ones(len(k))
        ib = ikss.copy()
        ik_steady = ikss  # far from machines the AC component does not decay
        if fault == "3ph" and mach is not None and net.machines:
            single = np.isfinite(mach.ib_single_pu)
            # several sources: eq. 75; one machine alone: eq. 70 (generator) / 73 (motor)
            ib = np.where(single, mach.ib_single_pu * ibase, ikss - mach.ib_reduction_pu * ibase)
            if ikm_share is not None:
                # Ik: one generator alone λ·I_rG, one motor alone 0; several sources
                # Ik = I″kM, the current without motors (IEC 60909-0) — generators are not decayed
                ik_steady = np.where(single, mach.ik_single_pu * ibase, ikss * ikm_share)
                with np.errstate(divide="ignore", invalid="ignore"):
                    x = np.where(ik_steady + ikss_pf > 0, ikss_all / (ik_steady + ikss_pf), MAX_IK_RATIO)
                n = thermal.n_factor(np.minimum(x, MAX_IK_RATIO), study.tk_s)

        # a converter's share does not decay and has no DC component: Ib = Ik = I″k, ip = √2·I″k
        ib, ik_steady = ib + ikss_pf, ik_steady + ikss_pf
        values: dict[str, NDArray[np.float64]] = {"ikss_ka": ikss_all, "ib_ka": ib}
        if fault == "3ph":
            values["skss_mw"] = SQRT3 * un * ikss_all
        if fault == "2phg":
            values["ikss_e_ka"] = earth_current_pu(seq) * ibase * (1.0 + cs.voltage_pu / c)
        if kap is not None:
            values["ip_ka"] = peak.peak_current(kap, ikss) + sources.SQRT2 * ikss_pf
            # m applies to the whole I″k (also the converters' share): on the safe side
            values["ith_ka"] = thermal.thermal_current(ikss_all, m_fac, n)  # type: ignore[arg-type]
        if fault == "3ph":
            values["ik_ka"] = ik_steady
        if dc_rx is not None:
            # at the breaker's minimum time delay: Ib,asym = √(Ib² + i_DC²)
            values["idc_ka"] = peak.dc_component(ikss, dc_rx, f_hz, study.tmin_s)
            values["ib_asym_ka"] = np.hypot(ib, values["idc_ka"])
        values["rk_ohm"], values["xk_ohm"] = z1_ohm.real, z1_ohm.imag
        for q, arr in values.items():
            bad = np.flatnonzero(~np.isfinite(arr))
            if bad.size:
                raise SolverError(
                    f"{fault}/{case}: {q} at bus {fault_ids[int(bad[0])]} is not finite; "
                    "the network is numerically degenerate"
                )

        # Per-bus rows from Python lists: indexing numpy arrays one element at a time cost
        # more than the arithmetic on thousands of buses.
        columns: dict[str, list[float] | list[float | str]] = {"rk_ohm": shared.r1, "xk_ohm": shared.x1}
        columns |= {q: values[q].tolist() for q in quantities if q not in ("rk_ohm", "xk_ohm", "rk0_ohm", "xk0_ohm")}
        if shared.r0 is not None and shared.x0 is not None:
            for q, part in (("rk0_ohm", shared.r0), ("xk0_ohm", shared.x0)):
                if q in quantities:
                    columns[q] = part
        ordered = [columns[q] for q in quantities]
        bus_values: dict[str, dict[str, float | str]] = {
            bus_id: dict(zip(quantities, row, strict=True))
            for bus_id, row in zip(fault_ids, zip(*ordered, strict=True), strict=True)
        }
        rows = _trails(fault, shared, n.tolist(), methods, mach)
        # the few buses with more to say, found column-wise (a numpy scalar per bus cost more than the rows)
        for j in np.flatnonzero(cs.voltage_pu > 0).tolist():
            rows[j]["current_sources"] = {
                "voltage_pu": float(cs.voltage_pu[j]),
                "ikss_ka": float(ikss_pf[j]),
                "shares": cs.shares[j],
            }
        for j in np.flatnonzero(np.isfinite(source_kv)).tolist():
            rows[j]["source_kv"] = float(source_kv[j])  # c·U_rG/√3 at a unit's terminals (§6.7)
        if capacitive is not None:
            for j in np.flatnonzero(unearthed).tolist():
                rows[j]["earth_fault"] = {
                    "earthing": "unearthed",
                    "reason": "no earthed star point or source in this bus's zero-sequence network: an earth "
                    "fault drives only the capacitive earth-fault current, which is not an IEC 60909-0 "
                    "I″k1; reported as no earth path",
                    "capacitive_current_ka": float(capacitive[j]),
                }
        trail = dict(zip(fault_ids, rows, strict=True))

        rs = ResultSet(fault=fault, case=case, quantities=quantities, buses=bus_values, trail=trail)
        if branches_for is not None:
            branch_currents, bus_voltages = _branches(doc, nets, unit_nets, net, index[branches_for], fault)
            rs.branches = {branches_for: branch_currents}
            rs.voltages = {branches_for: bus_voltages}
        out[fault] = rs
    return out


def _earthed(net: Network) -> NDArray[np.bool_]:
    """Per bus: its zero-sequence network reaches earth (see topology.earthed)."""
    assert net.y0 is not None and net.row_earth is not None and net.sh0_bus is not None
    earth_nodes = np.concatenate([net.sh0_bus, net.f[net.row_earth[:, 0]], net.t[net.row_earth[:, 1]]])
    return earthed(net.n_bus, net.f, net.t, net.y0[:, 1] != 0, earth_nodes.astype(np.int64))


@dataclass
class _TrailColumns:
    """The per-bus values a trail reads, as Python objects (see the row loop in _solve_case).
    Built once per case: the result sets of its faults share these floats and the small
    `{"r", "x"}` dicts (nothing downstream changes a trail in place; merged buses already
    share theirs, switching.report)."""

    c: list[float]
    r1: list[float]
    x1: list[float]
    z1: list[dict[str, float]]
    z0: list[dict[str, float] | str] | None  # NO_ZERO_PATH where Z0 is infinite
    r0: list[float | str] | None  # rk0_ohm / xk0_ohm columns, NO_ZERO_PATH where infinite
    x0: list[float | str] | None
    kappa: list[float] | None
    rx: list[float] | None
    m: list[float] | None

    @classmethod
    def of(
        cls,
        c: NDArray[np.float64],
        z1_ohm: NDArray[np.complex128],
        z0_ohm: NDArray[np.complex128] | None,
        kap: NDArray[np.float64] | None,
        rx: NDArray[np.float64] | None,
        m_fac: NDArray[np.float64] | None,
    ) -> _TrailColumns:
        z0: list[dict[str, float] | str] | None = None
        r0: list[float | str] | None = None
        x0: list[float | str] | None = None
        if z0_ohm is not None:
            finite = np.isfinite(z0_ohm).tolist()
            re0, im0 = z0_ohm.real.tolist(), z0_ohm.imag.tolist()
            r0 = [v if ok else NO_ZERO_PATH for v, ok in zip(re0, finite, strict=True)]
            x0 = [v if ok else NO_ZERO_PATH for v, ok in zip(im0, finite, strict=True)]
            z0 = [{"r": r, "x": x} if ok else NO_ZERO_PATH for r, x, ok in zip(re0, im0, finite, strict=True)]
        with_kappa = kap is not None and rx is not None and m_fac is not None
        r1, x1 = z1_ohm.real.tolist(), z1_ohm.imag.tolist()
        return cls(
            c=c.tolist(),
            r1=r1,
            x1=x1,
            z1=[{"r": r, "x": x} for r, x in zip(r1, x1, strict=True)],
            z0=z0,
            r0=r0,
            x0=x0,
            kappa=kap.tolist() if with_kappa and kap is not None else None,
            rx=rx.tolist() if with_kappa and rx is not None else None,
            m=m_fac.tolist() if with_kappa and m_fac is not None else None,
        )


_TRAIL_METHOD = "IEC 60909-0 equivalent voltage source at the fault"


def _trails(
    fault: str, cols: _TrailColumns, n: list[float], methods: list[str], mach: _Machines | None
) -> list[dict[str, Any]]:
    """The intermediate values behind each bus's numbers, one dict per bus (built a column
    at a time: a call per bus was a third of the rows' time at 8.7k buses); `n` is the fault's
    own, the rest the case's shared columns."""
    z1 = cols.z1
    z0 = cols.z0 if fault in ("1ph", "2phg") else None
    m = _TRAIL_METHOD
    rows: list[dict[str, Any]]
    if cols.kappa is not None and cols.rx is not None and cols.m is not None:
        kappa = zip(cols.kappa, methods, cols.rx, cols.m, n, strict=True)
        if z0 is None:
            rows = [
                {"method": m, "c": c, "z1_ohm": a, "kappa": k, "kappa_method": km, "r_over_x_for_kappa": r,
                 "m": mf, "n": nf}
                for c, a, (k, km, r, mf, nf) in zip(cols.c, z1, kappa, strict=True)
            ]  # fmt: skip
        else:
            rows = [
                {"method": m, "c": c, "z1_ohm": a, "z0_ohm": b, "kappa": k, "kappa_method": km,
                 "r_over_x_for_kappa": r, "m": mf, "n": nf}
                for c, a, b, (k, km, r, mf, nf) in zip(cols.c, z1, z0, kappa, strict=True)
            ]  # fmt: skip
    elif z0 is None:
        rows = [{"method": m, "c": c, "z1_ohm": a, "n": nf} for c, a, nf in zip(cols.c, z1, n, strict=True)]
    else:
        rows = [
            {"method": m, "c": c, "z1_ohm": a, "z0_ohm": b, "n": nf}
            for c, a, b, nf in zip(cols.c, z1, z0, n, strict=True)
        ]
    if fault == "3ph" and mach is not None:
        for t, machines in zip(rows, mach.trail, strict=True):
            if machines:
                # μ (and q for motors) of every machine that carries a noticeable share of the fault
                t["machines"] = machines
                t["mu"] = {name: v["mu"] for name, v in machines.items()}
                t["mu_q"] = {name: v["mu"] * v["q"] for name, v in machines.items()}
    return rows


def _branches(
    doc: CircuitDocument,
    nets: CaseNetworks,
    unit_nets: dict[int, CaseNetworks],
    net: Network,
    bus: int,
    fault: str,
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]]:
    """Branch currents and voltages for a fault at `bus`: one column per sequence."""
    study = doc.study
    use = unit_nets.get(bus, nets)
    zf = complex(study.r_fault_ohm, study.x_fault_ohm) / float(use.net.z_base()[bus])
    z1_col = use.pos.columns(np.array([bus]))[:, 0]
    z0_col = None
    z0_kk = None
    if fault in ("1ph", "2phg"):
        z0_col = nets.zero.column(bus, net.n_bus)
        z0_kk = nets.zero.diagonal(np.array([bus]))
        if not _earthed(net)[bus]:
            z0_kk = np.array([np.inf + 0j])  # unearthed: no I″k1 (as at the bus, see _solve_case)
    cvec = np.array([use.net.c[bus]])
    unit_gen = next((g for g in doc.generators if g.power_station_trafo and g.bus == net.bus_ids[bus]), None)
    if bus in unit_nets and unit_gen is not None:
        cvec = cvec * unit_gen.vn_kv / float(net.base_kv[bus])  # c·U_rG/√3 at the terminals
    neg = use.negative if fault != "3ph" else None
    z2_col = neg.columns(np.array([bus]))[:, 0] if neg is not None else None
    z2_kk = np.array([z2_col[bus]]) if z2_col is not None else None
    # full converters: their injections, with the fault's source voltage c + Σ|Z_kj|·I_skPF
    s_cs, dv_cs = sources.fault_injection(use.pos, use.net.current_sources, z1_col)
    seq = sequence_currents(fault, cvec + s_cs, np.array([z1_col[bus]]), z0_kk, zf, z2_kk)
    return branch_contributions(use.net, bus, seq, z1_col, z0_col, nets.net.y0, z2_col, dv_cs)
