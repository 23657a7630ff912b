"""Benchmark: our sparse IEC 60909 solver against pandapower 3.5.6 `calc_sc` on the same
large meshed networks (all-bus 3ph with ip/ith and 1ph, max case).

Run with `make bench` (installs pandapower into .venv via the `bench` dependency group).
Not part of `make test`. Prints a markdown table and writes it to var/bench/solver.md.
pandapower inverts the full bus admittance matrix (dense N×N result), so it is measured
up to PP_MAX_BUSES only (memory grows with N², ~4 GB at 10k buses); set
AMPFLUX_BENCH_PP_MAX to change that.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import math
import os
import resource
import time
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ampflux_shared.circuit import parse_circuit
from ampflux_simulation.solver import solve_study

SIZES = [int(s) for s in os.environ.get("AMPFLUX_BENCH_SIZES", "1000,5000,10000,20000").split(",")]
PP_MAX_BUSES = int(os.environ.get("AMPFLUX_BENCH_PP_MAX", "10000"))
OUT = Path(__file__).resolve().parents[2] / "var" / "bench" / "solver.md"
# The whole-process comparison (issue 13): one document of about this many buses.
PROCESS_BUSES = int(os.environ.get("AMPFLUX_BENCH_PROCESS_BUSES", "8700"))
OUT_PROCESS = OUT.parent / "solver_process.md"
# The whole process's aims (issue 13), asserted up to the size they were set for.
PROCESS_AIM_BUSES = 8742
PROCESS_MAX_CPU_S = 0.5
PROCESS_MAX_RSS_MB = 300.0

# Per substation: one 110 kV bus, one 20 kV busbar, FEEDERS rings of SECTIONS cable
# sections (closed back to the busbar, with ties between neighbouring rings) and LV_PER_SS
# 20/0.4 kV distribution transformers. About 100 buses per substation.
FEEDERS, SECTIONS, LV_PER_SS = 6, 12, 20
BUSES_PER_SS = 2 + FEEDERS * SECTIONS + LV_PER_SS


def meshed_document(n_target: int, seed: int = 7) -> dict[str, Any]:
    """A meshed 110/20/0.4 kV network of about `n_target` buses with zero-sequence data."""
    rng = np.random.default_rng(seed)
    n_ss = max(2, round(n_target / BUSES_PER_SS))
    buses: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    trafos: list[dict[str, Any]] = []

    def bus(name: str, vn: float) -> str:
        buses.append({"id": name, "vn_kv": vn})
        return name

    def cable(a: str, b: str, length: float, hv: bool = False) -> None:
        if hv:
            data = {
                "r_ohm_per_km": 0.1188,
                "x_ohm_per_km": 0.39,
                "c_nf_per_km": 9.0,
                "r0_ohm_per_km": 0.32,
                "x0_ohm_per_km": 1.2,
                "c0_nf_per_km": 5.0,
            }
        else:
            data = {
                "r_ohm_per_km": 0.122,
                "x_ohm_per_km": 0.112,
                "c_nf_per_km": 304.0,
                "r0_ohm_per_km": 0.49,
                "x0_ohm_per_km": 0.3,
                "c0_nf_per_km": 304.0,
            }
        lines.append(
            {
                "id": f"L{len(lines)}",
                "from_bus": a,
                "to_bus": b,
                "length_km": round(float(length), 3),
                "endtemp_degree": 80.0,
                **data,
            }
        )

    hv_buses = [bus(f"HV{s}", 110.0) for s in range(n_ss)]
    for s in range(n_ss):  # 110 kV ring with a chord every fifth substation
        cable(hv_buses[s], hv_buses[(s + 1) % n_ss], rng.uniform(8, 25), hv=True)
        if s % 5 == 0 and n_ss > 4:
            cable(hv_buses[s], hv_buses[(s + n_ss // 2) % n_ss], rng.uniform(20, 40), hv=True)
    for s in range(n_ss):
        ss = bus(f"SS{s}", 20.0)
        trafos.append(
            {
                "id": f"TR{s}",
                "hv_bus": hv_buses[s],
                "lv_bus": ss,
                "sn_mva": 40.0,
                "vn_hv_kv": 110.0,
                "vn_lv_kv": 20.0,
                "vk_percent": 16.2,
                "vkr_percent": 0.34,
                "vector_group": "Dyn",
                "vk0_percent": 14.6,
                "vkr0_percent": 0.34,
                "shift_degree": 150.0,
            }
        )
        rings: list[list[str]] = []
        for fd in range(FEEDERS):
            chain = [bus(f"S{s}F{fd}N{i}", 20.0) for i in range(SECTIONS)]
            rings.append(chain)
            prev = ss
            for node in chain:
                cable(prev, node, rng.uniform(0.2, 1.2))
                prev = node
            cable(prev, ss, rng.uniform(0.3, 1.5))
        for fd in range(FEEDERS):  # ties between neighbouring rings mesh the 20 kV network
            a, b = rings[fd][SECTIONS // 2], rings[(fd + 1) % FEEDERS][SECTIONS // 3]
            cable(a, b, rng.uniform(0.5, 2.0))
        for j in range(LV_PER_SS):
            mv = rings[j % FEEDERS][(j * 5) % SECTIONS]
            lv = bus(f"S{s}LV{j}", 0.4)
            trafos.append(
                {
                    "id": f"DT{s}_{j}",
                    "hv_bus": mv,
                    "lv_bus": lv,
                    "sn_mva": 0.63,
                    "vn_hv_kv": 20.0,
                    "vn_lv_kv": 0.4,
                    "vk_percent": 6.0,
                    "vkr_percent": 1.206,
                    "vector_group": "Dyn",
                    "vk0_percent": 6.0,
                    "vkr0_percent": 1.206,
                    "shift_degree": 150.0,
                }
            )
    grids = [
        {
            "id": f"NET{i}",
            "bus": hv_buses[(i * n_ss) // 2],
            "s_sc_max_mva": 3000.0,
            "rx_max": 0.1,
            "x0x_max": 1.1,
            "r0x0_max": 0.1,
            "s_sc_min_mva": 2000.0,
            "rx_min": 0.12,
            "x0x_min": 1.1,
            "r0x0_min": 0.12,
        }
        for i in range(2)
    ]
    return {
        "format": "circuit-document",
        "version": 1,
        "id": f"bench{n_target}",
        "study": {
            "frequency_hz": 50,
            "faults": ["3ph", "1ph"],
            "cases": ["max"],
            "kappa_method": "C",
            "ip": True,
            "ith": True,
            "tk_s": 1.0,
        },
        "buses": buses,
        "ext_grids": grids,
        "lines": lines,
        "transformers": trafos,
    }


def pandapower_net(doc: dict[str, Any]) -> Any:
    """The same network as a pandapower net (lines, two- and three-winding transformers)."""
    import pandapower as pp

    net = pp.create_empty_network(f_hz=float(doc["study"]["frequency_hz"]), sn_mva=1.0)
    idx = {b["id"]: pp.create_bus(net, vn_kv=b["vn_kv"], name=b["id"]) for b in doc["buses"]}
    for g in doc["ext_grids"]:
        pp.create_ext_grid(net, idx[g["bus"]], **{k: v for k, v in g.items() if k not in ("id", "bus")})
    for ln in doc.get("lines", []):
        pp.create_line_from_parameters(
            net,
            idx[ln["from_bus"]],
            idx[ln["to_bus"]],
            length_km=ln["length_km"],
            r_ohm_per_km=ln["r_ohm_per_km"],
            x_ohm_per_km=ln["x_ohm_per_km"],
            c_nf_per_km=ln.get("c_nf_per_km", 0.0),
            max_i_ka=1.0,
            r0_ohm_per_km=ln["r0_ohm_per_km"],
            x0_ohm_per_km=ln["x0_ohm_per_km"],
            c0_nf_per_km=ln["c0_nf_per_km"],
            endtemp_degree=ln["endtemp_degree"],
            parallel=ln.get("parallel", 1),
            name=ln["id"],
        )
    for t in doc.get("transformers", []):
        pp.create_transformer_from_parameters(
            net,
            idx[t["hv_bus"]],
            idx[t["lv_bus"]],
            sn_mva=t["sn_mva"],
            vn_hv_kv=t["vn_hv_kv"],
            vn_lv_kv=t["vn_lv_kv"],
            vk_percent=t["vk_percent"],
            vkr_percent=t["vkr_percent"],
            pfe_kw=0.0,
            i0_percent=0.0,
            shift_degree=t.get("shift_degree", 0.0),
            vector_group=t["vector_group"],
            vk0_percent=t["vk0_percent"],
            vkr0_percent=t["vkr0_percent"],
            mag0_percent=t.get("mag0_percent", 100.0),
            mag0_rx=t.get("mag0_rx", 0.0),
            si0_hv_partial=t.get("si0_hv_partial", 0.9),
            parallel=t.get("parallel", 1),
            name=t["id"],
        )
    for g in doc.get("generators", []):
        pp.create_gen(
            net,
            idx[g["bus"]],
            p_mw=0.8 * g["sn_mva"],
            name=g["id"],
            **{k: v for k, v in g.items() if k not in ("id", "bus")},
        )
    for m in doc.get("motors", []):
        pp.create_motor(
            net,
            idx[m["bus"]],
            cos_phi=m["cos_phi_n"],
            name=m["id"],
            **{k: v for k, v in m.items() if k not in ("id", "bus")},
        )
    for t in doc.get("transformers3w", []):
        pp.create_transformer3w_from_parameters(
            net,
            idx[t["hv_bus"]],
            idx[t["mv_bus"]],
            idx[t["lv_bus"]],
            pfe_kw=0.0,
            i0_percent=0.0,
            name=t["id"],
            **{k: v for k, v in t.items() if k not in ("id", "hv_bus", "mv_bus", "lv_bus")},
        )
    return net


def transformer_variants(vg: str, vg3: str) -> dict[str, Any]:
    """Off-nominal ratios, a YNyn/Yyn magnetising branch, parallel cables with c0 and a
    three-winding transformer: the parts the reference cases do not exercise."""
    return {
        "format": "circuit-document",
        "version": 1,
        "id": f"variants-{vg}-{vg3}",
        "study": {"frequency_hz": 50, "faults": ["3ph", "1ph"], "cases": ["max", "min"], "kappa_method": "C"},
        "buses": [
            {"id": "HV", "vn_kv": 110.0},
            {"id": "MV", "vn_kv": 20.0},
            {"id": "LV", "vn_kv": 0.4},
            {"id": "MV2", "vn_kv": 20.0},
            {"id": "T3M", "vn_kv": 20.0},
            {"id": "T3L", "vn_kv": 10.0},
        ],
        "ext_grids": [
            {
                "id": "Q",
                "bus": "HV",
                "s_sc_max_mva": 2000.0,
                "rx_max": 0.1,
                "x0x_max": 1.2,
                "r0x0_max": 0.15,
                "s_sc_min_mva": 1500.0,
                "rx_min": 0.12,
                "x0x_min": 1.1,
                "r0x0_min": 0.1,
            }
        ],
        "lines": [
            {
                "id": "L",
                "from_bus": "MV",
                "to_bus": "MV2",
                "length_km": 3.0,
                "r_ohm_per_km": 0.2,
                "x_ohm_per_km": 0.35,
                "r0_ohm_per_km": 0.6,
                "x0_ohm_per_km": 1.1,
                "c0_nf_per_km": 200.0,
                "endtemp_degree": 90.0,
                "parallel": 2,
            }
        ],
        "transformers": [
            {
                "id": "T1",
                "hv_bus": "HV",
                "lv_bus": "MV",
                "sn_mva": 40.0,
                "vn_hv_kv": 115.0,
                "vn_lv_kv": 21.0,
                "vk_percent": 12.0,
                "vkr_percent": 0.4,
                "vector_group": vg,
                "vk0_percent": 11.0,
                "vkr0_percent": 0.4,
                "mag0_percent": 100.0,
                "mag0_rx": 0.1,
                "si0_hv_partial": 0.9,
            },
            {
                "id": "T2",
                "hv_bus": "MV2",
                "lv_bus": "LV",
                "sn_mva": 0.63,
                "vn_hv_kv": 20.0,
                "vn_lv_kv": 0.41,
                "vk_percent": 6.0,
                "vkr_percent": 1.2,
                "vector_group": "Dyn",
                "vk0_percent": 6.0,
                "vkr0_percent": 1.2,
            },
        ],
        "transformers3w": [
            {
                "id": "T3",
                "hv_bus": "HV",
                "mv_bus": "T3M",
                "lv_bus": "T3L",
                "vn_hv_kv": 110.0,
                "vn_mv_kv": 20.5,
                "vn_lv_kv": 10.0,
                "sn_hv_mva": 50.0,
                "sn_mv_mva": 40.0,
                "sn_lv_mva": 20.0,
                "vk_hv_percent": 12.0,
                "vk_mv_percent": 8.0,
                "vk_lv_percent": 10.0,
                "vkr_hv_percent": 0.4,
                "vkr_mv_percent": 0.3,
                "vkr_lv_percent": 0.35,
                "vk0_hv_percent": 11.0,
                "vk0_mv_percent": 7.5,
                "vk0_lv_percent": 9.5,
                "vkr0_hv_percent": 0.4,
                "vkr0_mv_percent": 0.3,
                "vkr0_lv_percent": 0.35,
                "vector_group": vg3,
            }
        ],
    }


@pytest.mark.parametrize(("vg", "vg3"), [("Dyn", "YNynd"), ("YNyn", "YNynd"), ("YNd", "YNyd"), ("Yyn", "Yynd")])
def test_matches_pandapower_on_transformer_variants(vg: str, vg3: str) -> None:
    pytest.importorskip("pandapower")
    import pandapower.shortcircuit as sc

    doc = transformer_variants(vg, vg3)
    ours = solve_study(parse_circuit(doc))
    net = pandapower_net(doc)
    for fault in ("3ph", "1ph"):
        for case in ("max", "min"):
            sc.calc_sc(net, fault=fault, case=case, ip=fault == "3ph", kappa_method="C")
            res = net.res_bus_sc
            mine = ours.get(fault, case)
            for i, name in enumerate(net.bus.name):
                for q in ("ikss_ka", "ip_ka", "rk_ohm", "xk_ohm", "rk0_ohm", "xk0_ohm"):
                    if q not in res.columns or q not in mine.buses[name]:
                        continue
                    got, want = mine.buses[name][q], float(res[q].iat[i])
                    flag = mine.trail[name].get("earth_fault") if q == "ikss_ka" else None
                    if flag is not None:
                        # unearthed part: pandapower reports the capacitive current as I″k1, the
                        # solver reports no earth path and gives that current in the trail flag
                        assert got == 0.0 and flag["capacitive_current_ka"] == pytest.approx(want, rel=1e-6)
                        continue
                    if got == "inf" or (q == "ikss_ka" and want < 1e-12):
                        # no zero-sequence path: pandapower models it with a 1e20 p.u. impedance
                        assert got in ("inf", 0.0) and (want > 1e15 or want < 1e-12), (name, q, got, want)
                        continue
                    assert got == pytest.approx(want, rel=1e-6), (fault, case, name, q)


def test_matches_pandapower_with_generator_and_motor() -> None:
    """K_G with p_G, R_Gf in method C, a motor in the max case only, lv_tol 6 %."""
    pytest.importorskip("pandapower")
    import pandapower.shortcircuit as sc

    doc = {
        "format": "circuit-document",
        "version": 1,
        "id": "machines",
        "study": {"frequency_hz": 50, "faults": ["3ph", "2ph"], "cases": ["max", "min"], "lv_tol_percent": 6},
        "buses": [
            {"id": "HV", "vn_kv": 110.0},
            {"id": "MV", "vn_kv": 10.0},
            {"id": "GB", "vn_kv": 10.0},
            {"id": "LV", "vn_kv": 0.4},
        ],
        "ext_grids": [
            {"id": "Q", "bus": "HV", "s_sc_max_mva": 3000.0, "rx_max": 0.1, "s_sc_min_mva": 2000.0, "rx_min": 0.12}
        ],
        "lines": [
            {
                "id": "L",
                "from_bus": "MV",
                "to_bus": "GB",
                "length_km": 1.5,
                "r_ohm_per_km": 0.1,
                "x_ohm_per_km": 0.12,
                "r0_ohm_per_km": 0.3,
                "x0_ohm_per_km": 0.4,
                "c0_nf_per_km": 0.0,
                "endtemp_degree": 90.0,
            }
        ],
        "transformers": [
            {
                "id": "T1",
                "hv_bus": "HV",
                "lv_bus": "MV",
                "sn_mva": 40.0,
                "vn_hv_kv": 110.0,
                "vn_lv_kv": 10.5,
                "vk_percent": 12.0,
                "vkr_percent": 0.4,
                "vector_group": "Dyn",
                "vk0_percent": 12.0,
                "vkr0_percent": 0.4,
            },
            {
                "id": "T2",
                "hv_bus": "MV",
                "lv_bus": "LV",
                "sn_mva": 1.0,
                "vn_hv_kv": 10.0,
                "vn_lv_kv": 0.4,
                "vk_percent": 6.0,
                "vkr_percent": 1.0,
                "vector_group": "Dyn",
                "vk0_percent": 6.0,
                "vkr0_percent": 1.0,
            },
        ],
        "generators": [
            {
                "id": "G",
                "bus": "GB",
                "sn_mva": 20.0,
                "vn_kv": 10.5,
                "xdss_pu": 0.14,
                "rdss_ohm": 0.02,
                "cos_phi": 0.8,
                "pg_percent": 5.0,
            }
        ],
        "motors": [
            {
                "id": "M",
                "bus": "LV",
                "pn_mech_mw": 0.3,
                "cos_phi_n": 0.86,
                "efficiency_n_percent": 95.0,
                "vn_kv": 0.4,
                "lrc_pu": 6.5,
                "rx": 0.42,
            }
        ],
    }
    ours = solve_study(parse_circuit(doc))
    net = pandapower_net(doc)
    for fault in ("3ph", "2ph"):
        for case in ("max", "min"):
            sc.calc_sc(net, fault=fault, case=case, lv_tol_percent=6, ip=True, kappa_method="C")
            for i, name in enumerate(net.bus.name):
                for q in ("ikss_ka", "ip_ka", "rk_ohm", "xk_ohm"):
                    want = float(net.res_bus_sc[q].iat[i])
                    assert ours.get(fault, case).buses[name][q] == pytest.approx(want, rel=1e-6), (fault, case, name, q)


def _ours(doc_dict: dict[str, Any]) -> tuple[float, float, dict[str, Any]]:
    """Seconds (best of three, untraced: the machine may be shared) and peak traced memory
    (a fourth, traced run)."""
    doc = parse_circuit(doc_dict)
    seconds = math.inf
    for _ in range(3):
        gc.collect()
        t0 = time.perf_counter()
        result = solve_study(doc, faults=["3ph", "1ph"], cases=["max"])
        seconds = min(seconds, time.perf_counter() - t0)
    gc.collect()
    tracemalloc.start()
    solve_study(doc, faults=["3ph", "1ph"], cases=["max"])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak / 2**20, {(rs.fault): rs.buses for rs in result.result_sets}


def _pandapower(doc_dict: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    import pandapower.shortcircuit as sc

    net = pandapower_net(doc_dict)
    t0 = time.perf_counter()
    sc.calc_sc(net, fault="3ph", case="max", ip=True, ith=True, kappa_method="C", tk_s=1.0)
    r3 = net.res_bus_sc.copy()
    sc.calc_sc(net, fault="1ph", case="max")
    r1 = net.res_bus_sc.copy()
    seconds = time.perf_counter() - t0
    names = net.bus.name.values
    q3 = ("ikss_ka", "ip_ka", "ith_ka", "rk_ohm", "xk_ohm")
    q1 = ("ikss_ka", "rk0_ohm", "xk0_ohm")
    out = {
        "3ph": {names[i]: {q: float(r3[q].iat[i]) for q in q3} for i in range(len(names))},
        "1ph": {names[i]: {q: float(r1[q].iat[i]) for q in q1} for i in range(len(names))},
    }
    return seconds, out


def _deviation(ours: dict[str, Any], ref: dict[str, Any]) -> float:
    worst = 0.0
    for fault, buses in ref.items():
        for bus, values in buses.items():
            for q, want in values.items():
                got = ours[fault][bus][q]
                worst = max(worst, abs(got - want) / max(abs(want), 1e-300))
    return worst


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def test_solver_bench() -> None:
    have_pp = importlib.util.find_spec("pandapower") is not None
    rows = []
    for n in SIZES:
        doc = meshed_document(n)
        n_bus = len(doc["buses"])
        ours_s, ours_mb, ours = _ours(doc)
        row: dict[str, Any] = {"buses": n_bus, "ours_s": ours_s, "ours_mb": ours_mb}
        if have_pp and n_bus <= PP_MAX_BUSES:
            gc.collect()
            pp_s, ref = _pandapower(doc)
            row.update(pp_s=pp_s, ratio=pp_s / ours_s, dev=_deviation(ours, ref), rss=_rss_mb())
        rows.append(row)
        line = f"\n{n_bus} buses: ours {ours_s:.2f} s ({ours_mb:.0f} MB peak traced)"
        if "pp_s" in row:
            line += f", pandapower {row['pp_s']:.2f} s, x{row['ratio']:.1f}, max rel dev {row['dev']:.1e}"
        print(line, flush=True)
    table = [
        "| buses | ours (s) | ours µs per bus | ours peak memory (MB, tracemalloc) | pandapower calc_sc (s)"
        " | process max RSS after pandapower (MB) | speed-up | max rel. deviation |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        pp_cells = (
            (f"{r['pp_s']:.2f} | {r['rss']:.0f} | {r['ratio']:.0f}x | {r['dev']:.1e}")
            if "pp_s" in r
            else "not run (dense N×N inverse) | – | – | –"
        )
        per_bus_us = 1e6 * r["ours_s"] / r["buses"]
        table.append(f"| {r['buses']} | {r['ours_s']:.2f} | {per_bus_us:.0f} | {r['ours_mb']:.0f} | {pp_cells} |")
    note = (
        "\nAll-bus sweep, max case: 3ph with ip (κ method C) and ith, plus 1ph (positive and zero sequence). "
        f"Process max RSS {_rss_mb():.0f} MB. numpy {np.__version__}, {os.cpu_count()} CPUs."
    )
    text = "\n".join(table) + "\n" + note + "\n"
    print("\n" + text)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(text)
    for r in rows:
        if "dev" in r:
            assert r["dev"] < 1e-6, r
    # near-linear growth: time per bus stays within a loose band (timings on a shared
    # machine are noisy; the table shows the real figures)
    per_bus = [r["ours_s"] / r["buses"] for r in rows]
    if len(per_bus) > 1 and rows[0]["buses"] >= 1000:
        assert max(per_bus) < 10 * min(per_bus) + 1e-4, per_bus
    assert not math.isnan(rows[-1]["ours_s"])


def test_whole_process_bench(tmp_path: Path) -> None:
    """`ampflux-solve` as a process (import, read, solve 3ph + 1ph max at every bus, write the
    JSON) against pandapower's whole process on the same document, in the same run."""
    from bench.solver_process import ours, pandapower, write_document

    doc = meshed_document(PROCESS_BUSES)
    path = write_document(doc, tmp_path / "network.json")
    bytecode = tmp_path / "pycache"  # see solver_process: the processes' own bytecode cache
    mine = ours(path, tmp_path / "ours.json", bytecode)
    lines = [
        "| process | buses | wall (s, best of 5) | CPU user+sys (s, best of 5) | max RSS (MB) |",
        "|---|---:|---:|---:|---:|",
        f"| ampflux-solve | {len(doc['buses'])} | {mine['wall_s']:.2f} | {mine['cpu_s']:.2f} | {mine['rss_mb']:.0f} |",
    ]
    if importlib.util.find_spec("pandapower") is not None and len(doc["buses"]) <= PP_MAX_BUSES:
        theirs = pandapower(path, tmp_path / "pandapower.json", bytecode)
        lines.append(
            f"| pandapower script | {len(doc['buses'])} | {theirs['wall_s']:.2f} | {theirs['cpu_s']:.2f} "
            f"| {theirs['rss_mb']:.0f} |"
        )
        lines.append(
            f"\nWhole process: x{theirs['wall_s'] / mine['wall_s']:.0f} (wall), "
            f"x{theirs['cpu_s'] / mine['cpu_s']:.0f} (CPU); pandapower's figures are of one run."
        )
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    OUT_PROCESS.parent.mkdir(parents=True, exist_ok=True)
    OUT_PROCESS.write_text(text)
    result = json.loads((tmp_path / "ours.json").read_text())
    assert {(rs["fault"], rs["case"]) for rs in result["result_sets"]} == {("3ph", "max"), ("1ph", "max")}
    assert all(len(rs["buses"]) == len(doc["buses"]) for rs in result["result_sets"])
    # issue 13's aims at its size: the whole process within 0.5 s of CPU (best of 5; CPU, since
    # wall time on a shared machine measures the queue) and 300 MB
    assert mine["rss_mb"] <= PROCESS_MAX_RSS_MB, text
    if len(doc["buses"]) <= PROCESS_AIM_BUSES:
        assert mine["cpu_s"] <= PROCESS_MAX_CPU_S, text


if __name__ == "__main__":  # pragma: no cover - manual run
    pytest.main([__file__, "-s", "-p", "no:cacheprovider", "-o", "testpaths=tests/bench"])
