"""Per-sequence models of every element, in per unit, for one case of a study.

Every line and transformer becomes one or more *branch rows*: a two-port between a
`from` and a `to` bus. In the positive sequence a row is a series impedance r + jx
(per unit on the `to` bus base) behind an ideal ratio n on the `from` side, so method C
can rescale X. In the zero sequence a row is a general two-port (yff, yft, ytf, ytt),
which also carries the element's own zero-sequence paths to earth (a Dyn transformer is
a row with only ytt), so branch contributions include them. Sources (external grids,
generators, motors) are shunts at their bus.

Per-unit bases: S_base = study.sn_mva, U_base = the bus's vn_kv (a three-winding star
point takes its HV bus's). Results do not depend on S_base.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from . import factors, sources
from .errors import SolverError
from .network import islands

if TYPE_CHECKING:
    from ampflux_shared.circuit import CircuitDocument, Generator, Transformer, Transformer3W

# Shunt kinds that decay like asynchronous machines (μ and q for Ib, no steady-state current).
ASYNCHRONOUS = ("motor", "async_generator")
# R_Gf / X″d replacing the stator resistance for ip (IEC 60909-0 §6.6.1).
RGF_HV_LARGE, RGF_HV_SMALL, RGF_LV = 0.05, 0.07, 0.15
# Steady-state defaults when a generator gives no data (IEC 60909-0:2016 steady state, Figs. 18/19):
# typical saturated reactances and the "series one" excitation ceilings U_fmax/U_fr.
XDSAT_CYLINDRICAL, XDSAT_SALIENT = 1.6, 1.2
UFMAX_CYLINDRICAL, UFMAX_SALIENT = 1.3, 1.6


@dataclass
class Machine:
    """A rotating machine whose partial current decays (for Ib and n)."""

    element: str
    kind: str  # "generator" | "motor" | "async_generator"
    bus: int
    shunt: int  # index into the positive-sequence shunts
    ir_ka: float  # rated current at its own rated voltage
    power_per_pole_pair_mw: float  # motors: m for q (one pole pair assumed when unknown)
    # generators: steady-state data for λ (see steady_state_lambda)
    xdss_pu: float = 0.0
    xdsat_pu: float = 0.0
    sin_phi: float = 0.0
    e_fmax_pu: float = 0.0  # excitation EMF at the ceiling, per unit of U_rG/√3


@dataclass
class Network:
    """Both sequence networks of one case, ready to assemble."""

    bus_ids: list[str]
    n_bus: int  # real buses + three-winding star points
    base_kv: NDArray[np.float64]
    c: NDArray[np.float64]  # voltage factor of the case, per bus (star points: their HV bus's)
    c_max: NDArray[np.float64]
    sn_mva: float
    # branch rows
    f: NDArray[np.int64]
    t: NDArray[np.int64]
    r1: NDArray[np.float64]
    x1: NDArray[np.float64]
    ratio: NDArray[np.float64]
    row_element: list[str]
    row_kind: list[str]
    row_parallel: NDArray[np.int64]  # identical circuits in one row (separate paths for κ method B)
    row_shift_deg: NDArray[np.float64]  # the `to` side lags the `from` side by this (positive sequence)
    row_ends: list[tuple[str | None, str | None]]
    # positive-sequence shunts (sources)
    sh_bus: NDArray[np.int64]
    sh_z: NDArray[np.complex128]
    sh_z_peak: NDArray[np.complex128]  # generators with R_Gf for ip
    sh_z2: NDArray[np.complex128]  # negative sequence: generators with X(2) = (X″d + X″q)/2
    sh_kind: list[str]
    sh_element: list[str]
    machines: list[Machine]
    # zero sequence (None when not built)
    y0: NDArray[np.complex128] | None = None  # rows × 4: yff, yft, ytf, ytt
    row_earth: NDArray[np.bool_] | None = None  # rows × 2: the row earths its from / to side (not capacitance)
    sh0_bus: NDArray[np.int64] | None = None
    sh0_y: NDArray[np.complex128] | None = None
    angles: NDArray[np.float64] | None = None  # positive-sequence bus angles from transformer shifts (lazy)
    # full converters: current sources in the positive sequence (not shunts)
    current_sources: sources.CurrentSources = field(default_factory=sources.CurrentSources)

    @property
    def n_real(self) -> int:
        return len(self.bus_ids)

    @functools.cached_property
    def bus_islands(self) -> NDArray[np.int64]:
        """Per bus: its island with every branch row closed. Asked by the source check, the
        single-source map and the motors' steady state of the same case: labelled once."""
        return islands(self.n_bus, self.f, self.t, np.ones(len(self.f), dtype=bool))

    def z_base(self) -> NDArray[np.float64]:
        return self.base_kv**2 / self.sn_mva


class _Builder:
    def __init__(self, doc: CircuitDocument, case: str, zero: bool, inside_unit: str | None) -> None:
        self.doc = doc
        self.case = case
        self.zero = zero
        self.inside_unit = inside_unit
        study = doc.study
        # IEC 60909-0 uses the main tap position; tap_pos only on the explicit non-IEC option
        self.actual_taps = study.tap_positions == "actual"
        self.sn = float(study.sn_mva)
        self.omega = 2.0 * math.pi * float(study.frequency_hz)
        self.index = {b.id: i for i, b in enumerate(doc.buses)}
        vn = np.array([b.vn_kv for b in doc.buses], dtype=float)
        c_max, c_min = factors.voltage_factors(vn, int(study.lv_tol_percent))
        self.vn = list(vn)
        self.c_max = list(c_max)
        self.c_case = list(c_max if case == "max" else c_min)
        self.f: list[int] = []
        self.t: list[int] = []
        self.r1: list[float] = []
        self.x1: list[float] = []
        self.ratio: list[float] = []
        self.y0: list[tuple[complex, complex, complex, complex]] = []
        self.row_earth: list[tuple[bool, bool]] = []
        self.row_element: list[str] = []
        self.row_kind: list[str] = []
        self.row_parallel: list[int] = []
        self.row_shift: list[float] = []
        self.row_ends: list[tuple[str | None, str | None]] = []
        self.sh_bus: list[int] = []
        self.sh_z: list[complex] = []
        self.sh_z_peak: list[complex] = []
        self.sh_z2: list[complex] = []
        self.sh_kind: list[str] = []
        self.sh_element: list[str] = []
        self.sh0_bus: list[int] = []
        self.sh0_y: list[complex] = []
        self.machines: list[Machine] = []
        # power station units: trafo id -> generator
        self.unit_of_trafo: dict[str, Generator] = {
            g.power_station_trafo: g for g in doc.generators if g.power_station_trafo
        }
        self.trafos = {t.id: t for t in doc.transformers}

    # --- helpers -------------------------------------------------------------------
    def zb(self, bus: int) -> float:
        return self.vn[bus] ** 2 / self.sn

    def add_bus(self, vn_kv: float, c_max: float, c_case: float) -> int:
        self.vn.append(vn_kv)
        self.c_max.append(c_max)
        self.c_case.append(c_case)
        return len(self.vn) - 1

    def add_row(
        self,
        element: str,
        kind: str,
        f: int,
        t: int,
        z1_pu: complex,
        ratio: float,
        y0: tuple[complex, complex, complex, complex],
        ends: tuple[str | None, str | None],
        parallel: int = 1,
        shift_deg: float = 0.0,
        earth: tuple[bool, bool] = (False, False),
    ) -> None:
        self.row_earth.append(earth)
        self.row_parallel.append(parallel)
        self.row_shift.append(shift_deg)
        self.f.append(f)
        self.t.append(t)
        self.r1.append(z1_pu.real)
        self.x1.append(z1_pu.imag)
        self.ratio.append(ratio)
        self.y0.append(y0)
        self.row_element.append(element)
        self.row_kind.append(kind)
        self.row_ends.append(ends)

    def add_shunt(
        self,
        element: str,
        kind: str,
        bus: int,
        z_pu: complex,
        z_peak_pu: complex | None = None,
        z2_pu: complex | None = None,
    ) -> int:
        self.sh_bus.append(bus)
        self.sh_z.append(z_pu)
        self.sh_z2.append(z_pu if z2_pu is None else z2_pu)
        self.sh_z_peak.append(z_pu if z_peak_pu is None else z_peak_pu)
        self.sh_kind.append(kind)
        self.sh_element.append(element)
        return len(self.sh_bus) - 1

    # --- elements --------------------------------------------------------------------
    def ext_grids(self) -> None:
        for eg in self.doc.ext_grids:
            bus = self.index[eg.bus]
            s_sc = eg.s_sc_max_mva if self.case == "max" else eg.s_sc_min_mva
            rx = eg.rx_max if self.case == "max" else eg.rx_min
            # S″kQ with the case's c of the grid's bus: Z = c·Un²/S″kQ, in per unit c·S_base/S″kQ
            z = self.c_case[bus] * self.sn / s_sc
            x = z / math.sqrt(1.0 + rx * rx)
            self.add_shunt(eg.id, "ext_grid", bus, complex(rx * x, x))
            if self.zero:
                x0x = eg.x0x_max if self.case == "max" else eg.x0x_min
                r0x0 = eg.r0x0_max if self.case == "max" else eg.r0x0_min
                if x0x == 0:
                    # X0 = 0 is not "no earth path" (that is a missing x0x): refuse it
                    raise SolverError(
                        f"external grid {eg.id}: X0/X = 0 (x0x_{self.case}) is a zero zero-sequence impedance; "
                        "give the grid's X0/X (> 0)"
                    )
                if x0x is not None and r0x0 is not None:
                    x0 = x0x * x
                    self.sh0_bus.append(bus)
                    self.sh0_y.append(1.0 / complex(r0x0 * x0, x0))

    def lines(self) -> None:
        """Every line as a row, computed a column at a time (per-line Python was a third of
        building an 8.7k-bus network); the same operations in the same order as one line at
        a time would do them, so the values are the same to the last bit."""
        lines = self.doc.lines
        if not lines:
            return
        ids, from_bus, to_bus, r, x, length, parallel, r0, x0, c0, endtemp = zip(*map(_LINE_FIELDS, lines), strict=True)
        f = [self.index[b] for b in from_bus]
        t = [self.index[b] for b in to_bus]
        zb = np.asarray(self.vn)[f] ** 2 / self.sn
        length_a, n = np.asarray(length, dtype=float), np.asarray(parallel, dtype=float)
        if self.case == "min":
            kr = np.array([factors.line_temperature_factor(e) for e in endtemp])
        else:
            kr = np.ones(len(lines))
        # complex(r·kr, x)·length/n/zb, part by part (a complex times or over a real is just that)
        r1 = np.asarray(r, dtype=float) * kr * length_a / n / zb
        x1 = np.asarray(x, dtype=float) * length_a / n / zb
        count = len(lines)
        y0: list[tuple[complex, complex, complex, complex]] = [(0j, 0j, 0j, 0j)] * count
        if self.zero:
            has0 = np.array([a is not None and b is not None for a, b in zip(r0, x0, strict=True)], dtype=bool)
            if has0.any():
                y0 = self._line_zero(ids, has0, r0, x0, c0, kr, length_a, n, zb, y0)
        self.f += f
        self.t += t
        self.r1 += r1.tolist()
        self.x1 += x1.tolist()
        self.ratio += [1.0] * count
        self.y0 += y0
        self.row_element += ids
        self.row_kind += ["line"] * count
        self.row_ends += [("from", "to")] * count
        self.row_parallel += parallel
        self.row_shift += [0.0] * count
        self.row_earth += [(False, False)] * count

    def _line_zero(
        self,
        ids: tuple[str, ...],
        has0: NDArray[np.bool_],
        r0: tuple[float | None, ...],
        x0: tuple[float | None, ...],
        c0: tuple[float | None, ...],
        kr: NDArray[np.float64],
        length: NDArray[np.float64],
        n: NDArray[np.float64],
        zb: NDArray[np.float64],
        y0: list[tuple[complex, complex, complex, complex]],
    ) -> list[tuple[complex, complex, complex, complex]]:
        """Zero-sequence stamps of the lines with r0 and x0 (pi model: the capacitance half at each end)."""
        r0a = np.array([v if v is not None else 0.0 for v in r0], dtype=float)
        x0a = np.array([v if v is not None else 0.0 for v in x0], dtype=float)
        z0_re = r0a * kr * length / n / zb
        z0_im = x0a * length / n / zb
        zero = has0 & (z0_re == 0) & (z0_im == 0)
        if zero.any():
            raise SolverError(
                f"line {ids[int(np.flatnonzero(zero)[0])]}: zero-sequence impedance r0 = x0 = 0; "
                "give its zero-sequence data (or merge its buses)"
            )
        b0 = self.omega * np.array([v or 0.0 for v in c0], dtype=float) * 1e-9 * length * n * zb
        with np.errstate(divide="ignore", invalid="ignore"):
            ys = _reciprocal(np.where(has0, z0_re, 1.0), np.where(has0, z0_im, 0.0))
        yss = (ys + 0.5j * b0).tolist()
        neg = (-ys).tolist()
        out = list(y0)
        for i in np.flatnonzero(has0).tolist():
            out[i] = (yss[i], neg[i], neg[i], yss[i])
        return out

    def _unit_factor(self, tr: Transformer) -> tuple[float, float, float, float] | None:
        """(gen factor, trafo factor) for a power station unit, else None."""
        gen = self.unit_of_trafo.get(tr.id)
        if gen is None:
            return None
        hv = self.index[tr.hv_bus]
        x_t = math.sqrt(max(tr.vk_percent**2 - tr.vkr_percent**2, 0.0)) / 100.0
        c_max = self.c_max[hv]
        if self.inside_unit == gen.id:
            c_g = self.c_max[self.index[gen.bus]]
            kg = factors.unit_generator_kgs(c_g, gen.xdss_pu, gen.cos_phi, gen.pg_percent, tr.oltc)
            kt = factors.unit_transformer_kts(c_g, x_t, gen.cos_phi, gen.pg_percent, tr.oltc)
            return kg, kt, x_t, c_max
        if tr.oltc:
            ks = factors.power_station_ks(
                un_q_kv=self.vn[hv],
                ur_g_kv=gen.vn_kv,
                ur_thv_kv=tr.vn_hv_kv,
                ur_tlv_kv=tr.vn_lv_kv,
                c_max=c_max,
                xdss_pu=gen.xdss_pu,
                x_t_pu=x_t,
                cos_phi=gen.cos_phi,
            )
        else:
            ks = factors.power_station_kso(
                un_q_kv=self.vn[hv],
                ur_g_kv=gen.vn_kv,
                ur_thv_kv=tr.vn_hv_kv,
                ur_tlv_kv=tr.vn_lv_kv,
                c_max=c_max,
                xdss_pu=gen.xdss_pu,
                cos_phi=gen.cos_phi,
                pg_percent=gen.pg_percent,
                pt_percent=tr.pt_percent or 0.0,
            )
        return ks, ks, x_t, c_max

    def transformers(self) -> None:
        """Every two-winding transformer as a row. The series impedance, the ratio and the Dyn
        zero-sequence stamp (the common group) are computed a column at a time, in the order
        of operations the per-transformer formulas use, so every bit is as before; correction
        factors and the other groups' stamps stay per transformer."""
        trafos = self.doc.transformers
        if not trafos:
            return
        count = len(trafos)
        hv = [self.index[tr.hv_bus] for tr in trafos]
        lv = [self.index[tr.lv_bus] for tr in trafos]
        if self.actual_taps:
            u_hv, u_lv = (list(u) for u in zip(*map(_tapped, trafos), strict=True))
        else:
            u_hv, u_lv = [tr.vn_hv_kv for tr in trafos], [tr.vn_lv_kv for tr in trafos]
        k = [self._transformer_k(tr, lv_bus) for tr, lv_bus in zip(trafos, lv, strict=True)]
        vn = np.asarray(self.vn)
        vn_hv, vn_lv = vn[hv], vn[lv]
        u_hv_a, u_lv_a, k_a = np.asarray(u_hv, dtype=float), np.asarray(u_lv, dtype=float), np.asarray(k, dtype=float)
        sn = np.array([tr.sn_mva for tr in trafos], dtype=float)
        parallel = [tr.parallel for tr in trafos]
        par = np.asarray(parallel, dtype=float)
        zb_lv = vn_lv**2 / self.sn
        # _percent_impedance(vk, vkr)·u_lv²/sn/parallel·k / zb(lv), part by part
        re, im = _percent_parts([tr.vk_percent for tr in trafos], [tr.vkr_percent for tr in trafos])
        r1, x1 = re * u_lv_a**2 / sn / par * k_a / zb_lv, im * u_lv_a**2 / sn / par * k_a / zb_lv
        ratio = (u_hv_a / u_lv_a) / (vn_hv / vn_lv)
        if self.zero:
            y0 = self._transformers_zero(trafos, hv, lv, u_hv, u_lv, k, sn, par, u_lv_a, k_a, zb_lv)
            earth = [_earthed_sides(tr) for tr in trafos]
        else:
            y0 = [(0j, 0j, 0j, 0j)] * count
            earth = [(False, False)] * count
        self.f += hv
        self.t += lv
        self.r1 += r1.tolist()
        self.x1 += x1.tolist()
        self.ratio += ratio.tolist()
        self.y0 += y0
        self.row_element += [tr.id for tr in trafos]
        self.row_kind += ["trafo"] * count
        self.row_ends += [("hv", "lv")] * count
        self.row_parallel += parallel
        self.row_shift += [tr.shift_degree or 0.0 for tr in trafos]
        self.row_earth += earth

    def _transformer_k(self, tr: Transformer, lv: int) -> float:
        """The impedance correction: K_G,S / K_T,S / K_S(O) of a power station unit, K_T in the
        max case, else 1."""
        if tr.id in self.unit_of_trafo:
            unit = self._unit_factor(tr)
            assert unit is not None
            return unit[1]
        if self.case == "max" and not tr.power_station_unit:
            return factors.transformer_kt(tr.vk_percent, tr.vkr_percent, self.c_max[lv])
        return 1.0

    def _transformers_zero(
        self,
        trafos: list[Transformer],
        hv: list[int],
        lv: list[int],
        u_hv: list[float],
        u_lv: list[float],
        k: list[float],
        sn: NDArray[np.float64],
        par: NDArray[np.float64],
        u_lv_a: NDArray[np.float64],
        k_a: NDArray[np.float64],
        zb_lv: NDArray[np.float64],
    ) -> list[tuple[complex, complex, complex, complex]]:
        """Zero-sequence stamps: Dyn transformers with vk0 a column at a time (1/((Z0 + 3·Zn)/Zb)
        on the LV side), every other one by `_transformer_zero`."""
        dyn = np.array(
            [(tr.vector_group or "").lower() == "dyn" and tr.vk0_percent is not None for tr in trafos], dtype=bool
        )
        out: list[tuple[complex, complex, complex, complex]] = [
            (0j, 0j, 0j, 0j) if is_dyn else self._transformer_zero(tr, h, lo, uh, ul, kk)
            for tr, h, lo, uh, ul, kk, is_dyn in zip(trafos, hv, lv, u_hv, u_lv, k, dyn.tolist(), strict=True)
        ]
        if dyn.any():
            at = np.flatnonzero(dyn)
            chosen = [trafos[i] for i in at.tolist()]
            re, im = _percent_parts([tr.vk0_percent for tr in chosen], [tr.vkr0_percent or 0.0 for tr in chosen])
            common = u_lv_a[at] ** 2
            z0_re = re * common / sn[at] / par[at] * k_a[at]
            z0_im = im * common / sn[at] / par[at] * k_a[at]
            rn = np.array([3.0 * (tr.rn_ohm or 0.0) for tr in chosen], dtype=float)
            xn = np.array([3.0 * (tr.xn_ohm or 0.0) for tr in chosen], dtype=float)
            y = _reciprocal((z0_re + rn) / zb_lv[at], (z0_im + xn) / zb_lv[at]).tolist()
            for i, y_lv in zip(at.tolist(), y, strict=True):
                out[i] = (0j, 0j, 0j, y_lv)
        return out

    def _transformer_zero(
        self, tr: Transformer, hv: int, lv: int, u_hv: float, u_lv: float, k: float
    ) -> tuple[complex, complex, complex, complex]:
        group = (tr.vector_group or "").lower()
        if group in ("", "yy", "yd", "dy", "dd") or tr.vk0_percent is None:
            return (0j, 0j, 0j, 0j)
        vkr0 = tr.vkr0_percent or 0.0
        zk0_mag = tr.vk0_percent / 100.0 * u_lv**2 / tr.sn_mva / tr.parallel
        z0 = _percent_impedance(tr.vk0_percent, vkr0) * u_lv**2 / tr.sn_mva / tr.parallel * k  # Ω, LV side
        zm: complex | None = None
        if tr.mag0_percent is not None:
            # Zm0 = mag0 % of |Zk0| (uncorrected), angle from its R/X
            zm_abs = tr.mag0_percent / 100.0 * zk0_mag
            rx = tr.mag0_rx or 0.0
            xm = zm_abs / math.sqrt(1.0 + rx * rx)
            zm = complex(rx * xm, xm)
        zn3 = 3.0 * complex(tr.rn_ohm or 0.0, tr.xn_ohm or 0.0)
        to_hv = (u_hv / u_lv) ** 2  # refers an LV-side Ω value to the HV winding
        zb_hv, zb_lv = self.zb(hv), self.zb(lv)
        si0 = 0.5 if tr.si0_hv_partial is None else tr.si0_hv_partial
        if group == "dyn":
            return (0j, 0j, 0j, 1.0 / ((z0 + zn3) / zb_lv))
        if group == "ynd":
            return (1.0 / ((z0 * to_hv + zn3) / zb_hv), 0j, 0j, 0j)
        if group == "yyn":
            return (0j, 0j, 0j, 0j) if zm is None else (0j, 0j, 0j, 1.0 / ((z0 + zm + zn3) / zb_lv))
        if group == "yny":
            return (0j, 0j, 0j, 0j) if zm is None else (1.0 / (((z0 + zm) * to_hv + zn3) / zb_hv), 0j, 0j, 0j)
        if group == "yzn":
            # the zigzag's zero-sequence fluxes cancel in each limb: no magnetising branch,
            # the LV neutral sees the measured zero-sequence impedance; the HV star is unearthed
            return (0j, 0j, 0j, 1.0 / ((z0 + zn3) / zb_lv))
        if group == "ynyn":
            ratio = (u_hv / u_lv) / (self.vn[hv] / self.vn[lv])
            z1 = (si0 * z0 + zn3 / to_hv) / zb_lv
            z2 = (1.0 - si0) * z0 / zb_lv
            if zm is None:
                y = 1.0 / (z1 + z2)
                return (y / ratio**2, -y / ratio, -y / ratio, y)
            z3 = zm / zb_lv
            d = z1 * z2 + z2 * z3 + z1 * z3
            yff, yft, ytt = (z2 + z3) / d, -z3 / d, (z1 + z3) / d
            return (yff / ratio**2, yft / ratio, yft / ratio, ytt)
        raise ValueError(f"transformer {tr.id}: vector group {tr.vector_group!r} has no zero-sequence model")

    def transformers3w(self) -> None:
        for t3 in self.doc.transformers3w:
            self._transformer3w(t3)

    def _transformer3w(self, t3: Transformer3W) -> None:
        hv, mv, lv = self.index[t3.hv_bus], self.index[t3.mv_bus], self.index[t3.lv_bus]
        u = {"hv": t3.vn_hv_kv, "mv": t3.vn_mv_kv, "lv": t3.vn_lv_kv}
        if self.actual_taps and t3.tap_side is not None and t3.tap_pos is not None and t3.tap_step_percent is not None:
            u[t3.tap_side] *= 1.0 + (t3.tap_pos - (t3.tap_neutral or 0)) * t3.tap_step_percent / 100.0
        sn = {"hv": t3.sn_hv_mva, "mv": t3.sn_mv_mva, "lv": t3.sn_lv_mva}
        # pair values: hv = HV–MV, mv = MV–LV, lv = HV–LV, each on the smaller rating
        pairs = {"hv": ("hv", "mv"), "mv": ("mv", "lv"), "lv": ("hv", "lv")}
        zb_hv_ohm = u["hv"] ** 2

        def star(vk: dict[str, float], vkr: dict[str, float], kt: dict[str, float]) -> dict[str, complex]:
            zp = {
                p: _percent_impedance(vk[p], vkr[p]) * zb_hv_ohm / min(sn[a] for a in pairs[p]) * kt[p] for p in pairs
            }
            return {  # Ω referred to the HV winding
                "hv": 0.5 * (zp["hv"] + zp["lv"] - zp["mv"]),
                "mv": 0.5 * (zp["hv"] + zp["mv"] - zp["lv"]),
                "lv": 0.5 * (zp["lv"] + zp["mv"] - zp["hv"]),
            }

        vk = {p: getattr(t3, f"vk_{p}_percent") for p in pairs}
        vkr = {p: getattr(t3, f"vkr_{p}_percent") for p in pairs}
        if self.case == "max":
            kt = {p: factors.transformer_kt(vk[p], vkr[p], 1.1) for p in pairs}
        else:
            kt = {p: 1.0 for p in pairs}
        z1 = star(vk, vkr, kt)
        aux = self.add_bus(self.vn[hv], self.c_max[hv], self.c_case[hv])
        zb_aux = self.zb(aux)
        z0: dict[str, complex] | None = None
        windings: tuple[str, str, str] = ("", "", "")
        if self.zero and t3.vector_group and t3.vk0_hv_percent is not None:
            vk0 = {p: getattr(t3, f"vk0_{p}_percent") for p in pairs}
            vkr0 = {p: getattr(t3, f"vkr0_{p}_percent") or 0.0 for p in pairs}
            z0 = star(vk0, vkr0, kt)
            windings = _split_3w_group(t3.vector_group)
        buses = {"hv": hv, "mv": mv, "lv": lv}
        for i, side in enumerate(("hv", "mv", "lv")):
            bus = buses[side]
            if side == "hv":
                f, t, z_pu, ratio = bus, aux, z1["hv"] / zb_aux, (u["hv"] / u["hv"]) / (self.vn[bus] / self.vn[aux])
                ends: tuple[str | None, str | None] = ("hv", None)
            else:
                to_side = (u[side] / u["hv"]) ** 2
                f, t, z_pu = aux, bus, z1[side] * to_side / self.zb(bus)
                ratio = (u["hv"] / u[side]) / (self.vn[aux] / self.vn[bus])
                ends = (None, side)
            y0 = (0j, 0j, 0j, 0j)
            earth = (False, False)
            if z0 is not None:
                w = windings[i]
                if w in ("yn", "zn"):
                    if side == "hv":
                        ys = 1.0 / (z0["hv"] / zb_aux)
                        y0 = (ys / ratio**2, -ys / ratio, -ys / ratio, ys)
                    else:
                        ys = 1.0 / (z0[side] * (u[side] / u["hv"]) ** 2 / self.zb(bus))
                        y0 = (ys / ratio**2, -ys / ratio, -ys / ratio, ys)
                elif w == "d":
                    # a delta winding short-circuits zero-sequence current at the star point
                    ys = 1.0 / (z0[side] / zb_aux)
                    y0 = (0j, 0j, 0j, ys) if side == "hv" else (ys, 0j, 0j, 0j)
                    earth = (False, True) if side == "hv" else (True, False)
            shift = {"hv": 0.0, "mv": t3.shift_mv_degree or 0.0, "lv": t3.shift_lv_degree or 0.0}[side]
            self.add_row(t3.id, "trafo3w", f, t, z_pu, ratio, y0, ends, 1, shift, earth)

    def generators(self) -> None:
        for g in self.doc.generators:
            bus = self.index[g.bus]
            x_d = g.xdss_pu * g.vn_kv**2 / g.sn_mva
            r_g = g.rdss_ohm if g.rdss_ohm is not None else (g.rdss_pu or 0.0) * g.vn_kv**2 / g.sn_mva
            if g.vn_kv > 1.0:
                r_f = (RGF_HV_LARGE if g.sn_mva >= 100.0 else RGF_HV_SMALL) * x_d
            else:
                r_f = RGF_LV * x_d
            unit_tr = self.trafos.get(g.power_station_trafo) if g.power_station_trafo else None
            if unit_tr is not None:
                k = self._unit_factor(unit_tr)
                assert k is not None
                kg = k[0]
            else:
                kg = factors.generator_kg(self.vn[bus], g.vn_kv, g.pg_percent, self.c_max[bus], g.xdss_pu, g.cos_phi)
            zb = self.zb(bus)
            # negative sequence X(2) = (X″d + X″q)/2 where X″q is given, with the same K_G
            x_2 = x_d if g.xqss_pu is None else 0.5 * (g.xdss_pu + g.xqss_pu) * g.vn_kv**2 / g.sn_mva
            sh = self.add_shunt(
                g.id,
                "generator",
                bus,
                complex(r_g, x_d) * kg / zb,
                complex(r_f, x_d) * kg / zb,
                complex(r_g, x_2) * kg / zb,
            )
            ir = g.sn_mva / (math.sqrt(3.0) * g.vn_kv)
            salient = g.rotor == "salient"
            xdsat = g.xdsat_pu if g.xdsat_pu is not None else (XDSAT_SALIENT if salient else XDSAT_CYLINDRICAL)
            ufmax = g.ufmax_ratio if g.ufmax_ratio is not None else (UFMAX_SALIENT if salient else UFMAX_CYLINDRICAL)
            sin = factors.sin_phi(g.cos_phi)
            # rated excitation EMF behind x_dsat at rated load (over-excited), raised to the ceiling
            e_fr = math.hypot(1.0 + xdsat * sin, xdsat * g.cos_phi)
            self.machines.append(Machine(g.id, "generator", bus, sh, ir, 0.0, g.xdss_pu, xdsat, sin, ufmax * e_fr))

    def motors(self) -> None:
        if self.case != "max":
            return  # motors feed the max case only
        for m in self.doc.motors:
            bus = self.index[m.bus]
            s_rm = m.pn_mech_mw / (m.efficiency_n_percent / 100.0 * m.cos_phi_n)
            z = 1.0 / m.lrc_pu * m.vn_kv**2 / s_rm
            x = z / math.sqrt(1.0 + m.rx**2)
            sh = self.add_shunt(m.id, "motor", bus, complex(m.rx * x, x) / self.zb(bus))
            ir = s_rm / (math.sqrt(3.0) * m.vn_kv)
            # the document has no pole-pair count: one pair is the conservative choice (largest q)
            self.machines.append(Machine(m.id, "motor", bus, sh, ir, m.pn_mech_mw))

    def wind_dfig(self) -> None:
        if self.case != "max":
            return  # like motors: the min case leaves wind units out (README)
        for w in self.doc.wind_dfig:
            if not w.in_service:
                continue
            bus = self.index[w.bus]
            z, z_peak = sources.dfig_impedance_ohm(w.vn_kv, w.kappa, w.ip_max_ka, w.rx)
            # no decay for Ib (I_b,WD = I″k,WD); κ_WD as a fictitious R/X for ip, like R_Gf
            self.add_shunt(w.id, "wind_dfig", bus, z / self.zb(bus), z_peak / self.zb(bus))

    def async_generators(self) -> None:
        if self.case != "max":
            return  # asynchronous machines feed the max case only
        for g in self.doc.async_generators:
            if not g.in_service:
                continue
            bus = self.index[g.bus]
            z = sources.async_generator_impedance_ohm(g.sn_mva, g.vn_kv, g.lrc_pu, g.rx)
            sh = self.add_shunt(g.id, "async_generator", bus, z / self.zb(bus))
            ir = g.sn_mva / (math.sqrt(3.0) * g.vn_kv)
            # q takes the rated power as the power per pole pair (one pair): the largest q
            self.machines.append(Machine(g.id, "async_generator", bus, sh, ir, g.sn_mva))

    def converters(self) -> sources.CurrentSources:
        bus, i_pu, element = [], [], []
        for cv in self.doc.converters:
            k = cv.k if self.case == "max" else cv.k_min
            if not cv.in_service or not k:
                continue  # the min case counts a converter only with k_min (README)
            b = self.index[cv.bus]
            ibase = self.sn / (math.sqrt(3.0) * self.vn[b])
            bus.append(b)
            i_pu.append(sources.converter_current_ka(cv.sn_mva, cv.vn_kv, k) / ibase)
            element.append(cv.id)
        return sources.CurrentSources(np.asarray(bus, dtype=np.int64), np.asarray(i_pu, dtype=float), element)

    def build(self) -> Network:
        self.ext_grids()
        self.lines()
        self.transformers()
        self.transformers3w()
        self.generators()
        self.motors()
        self.wind_dfig()
        self.async_generators()
        net = Network(
            bus_ids=[b.id for b in self.doc.buses],
            n_bus=len(self.vn),
            base_kv=np.asarray(self.vn, dtype=float),
            c=np.asarray(self.c_case, dtype=float),
            c_max=np.asarray(self.c_max, dtype=float),
            sn_mva=self.sn,
            f=np.asarray(self.f, dtype=np.int64),
            t=np.asarray(self.t, dtype=np.int64),
            r1=np.asarray(self.r1, dtype=float),
            x1=np.asarray(self.x1, dtype=float),
            ratio=np.asarray(self.ratio, dtype=float),
            row_element=self.row_element,
            row_kind=self.row_kind,
            row_parallel=np.asarray(self.row_parallel, dtype=np.int64),
            row_shift_deg=np.asarray(self.row_shift, dtype=float),
            row_ends=self.row_ends,
            sh_bus=np.asarray(self.sh_bus, dtype=np.int64),
            sh_z=np.asarray(self.sh_z, dtype=complex),
            sh_z_peak=np.asarray(self.sh_z_peak, dtype=complex),
            sh_z2=np.asarray(self.sh_z2, dtype=complex),
            sh_kind=self.sh_kind,
            sh_element=self.sh_element,
            machines=self.machines,
            current_sources=self.converters(),
        )
        if self.zero:
            net.y0 = np.asarray(self.y0, dtype=complex).reshape(-1, 4)
            net.row_earth = np.asarray(self.row_earth, dtype=bool).reshape(-1, 2)
            net.sh0_bus = np.asarray(self.sh0_bus, dtype=np.int64)
            net.sh0_y = np.asarray(self.sh0_y, dtype=complex)
        return net


_LINE_FIELDS = attrgetter(
    "id",
    "from_bus",
    "to_bus",
    "r_ohm_per_km",
    "x_ohm_per_km",
    "length_km",
    "parallel",
    "r0_ohm_per_km",
    "x0_ohm_per_km",
    "c0_nf_per_km",
    "endtemp_degree",
)


def _percent_parts(
    vk_percent: list[float], vkr_percent: list[float]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """`_percent_impedance` of each pair as (real, imaginary) columns."""
    vk, vkr = np.asarray(vk_percent, dtype=float), np.asarray(vkr_percent, dtype=float)
    return vkr / 100.0, np.sqrt(np.maximum(vk**2 - vkr**2, 0.0)) / 100.0


def _reciprocal(re: NDArray[np.float64], im: NDArray[np.float64]) -> NDArray[np.complex128]:
    """1/(re + j·im) as Python's complex division computes it (Smith's method, dividing by the
    denominator where numpy multiplies by its inverse), so a column gives the bits a loop gave."""
    wide = np.abs(re) >= np.abs(im)
    ratio = np.where(wide, im / re, re / im)
    denom = np.where(wide, re + im * ratio, re * ratio + im)
    out = np.empty(re.shape, dtype=np.complex128)
    out.real = np.where(wide, 1.0, ratio) / denom
    out.imag = np.where(wide, -ratio, -1.0) / denom
    return out


def _percent_impedance(vk_percent: float, vkr_percent: float) -> complex:
    """Relative impedance vkr + j·√(vk² − vkr²), as a fraction."""
    return complex(vkr_percent, math.sqrt(max(vk_percent**2 - vkr_percent**2, 0.0))) / 100.0


def _tapped(tr: Transformer) -> tuple[float, float]:
    """Rated voltages at the actual tap position (study option tap_positions = "actual")."""
    u_hv, u_lv, side = tr.vn_hv_kv, tr.vn_lv_kv, tr.tap_side
    if side is None or tr.tap_pos is None or tr.tap_step_percent is None:
        return u_hv, u_lv
    scale = 1.0 + (tr.tap_pos - (tr.tap_neutral or 0)) * tr.tap_step_percent / 100.0
    return (u_hv * scale, u_lv) if side == "hv" else (u_hv, u_lv * scale)


def _earthed_sides(tr: Transformer) -> tuple[bool, bool]:
    """Which sides (hv, lv) the transformer itself connects to earth in the zero sequence:
    an earthed star opposite a delta, or through the magnetising impedance Zm0."""
    group = (tr.vector_group or "").lower()
    if tr.vk0_percent is None:
        return False, False
    has_zm = tr.mag0_percent is not None
    return {
        "dyn": (False, True),
        "yzn": (False, True),
        "ynd": (True, False),
        "yyn": (False, has_zm),
        "yny": (has_zm, False),
        "ynyn": (has_zm, has_zm),
    }.get(group, (False, False))


def _split_3w_group(group: str) -> tuple[str, str, str]:
    """'YNynd' -> ('yn', 'yn', 'd'): winding connections HV, MV, LV."""
    g = group.lower()
    out: list[str] = []
    i = 0
    while i < len(g) and len(out) < 3:
        for token in ("yn", "zn", "y", "z", "d"):
            if g.startswith(token, i):
                out.append(token)
                i += len(token)
                break
        else:
            raise ValueError(f"unknown three-winding vector group {group!r}")
    if len(out) != 3:
        raise ValueError(f"unknown three-winding vector group {group!r}")
    return out[0], out[1], out[2]


def build_network(doc: CircuitDocument, case: str, *, zero: bool, inside_unit: str | None = None) -> Network:
    """The sequence networks of `doc` for `case` ("max"/"min").

    `inside_unit` names a power-station generator whose terminals are faulted: its unit
    uses K_G,S and K_T,S instead of K_S."""
    return _Builder(doc, case, zero, inside_unit).build()
