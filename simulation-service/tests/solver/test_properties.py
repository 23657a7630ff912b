"""Properties that must hold for any network (hypothesis, kept small and fast)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ampflux_shared.circuit import parse_circuit
from ampflux_simulation.solver import solve_study

FAST = settings(max_examples=12, deadline=None)
ALL_FAULTS = ["3ph", "2ph", "1ph", "2phg"]


def random_network(seed: int, n_mv: int) -> dict[str, Any]:
    """A small meshed 20/0.4 kV network: a grid at bus 0, a cable tree with one extra tie,
    a Dyn transformer to an LV bus and a motor there."""
    rng = np.random.default_rng(seed)
    buses = [{"id": f"B{i}", "vn_kv": 20.0} for i in range(n_mv)] + [{"id": "LV", "vn_kv": 0.4}]
    lines = []
    for i in range(1, n_mv):
        j = int(rng.integers(0, i))
        lines.append(_line(f"L{i}", f"B{j}", f"B{i}", rng))
    if n_mv > 2:
        lines.append(_line("TIE", f"B{n_mv - 1}", "B0", rng))
    trafo = {
        "id": "T",
        "hv_bus": f"B{int(rng.integers(0, n_mv))}",
        "lv_bus": "LV",
        "sn_mva": float(rng.choice([0.4, 0.63, 1.0])),
        "vn_hv_kv": 20.0,
        "vn_lv_kv": 0.4,
        "vk_percent": 6.0,
        "vkr_percent": float(rng.uniform(0.8, 1.5)),
        "vector_group": "Dyn",
        "vk0_percent": 6.0,
        "vkr0_percent": 1.0,
    }
    return {
        "format": "circuit-document",
        "version": 1,
        "id": f"prop{seed}",
        "study": {"frequency_hz": 50, "faults": ALL_FAULTS, "cases": ["max", "min"], "tk_s": 0.5},
        "buses": buses,
        "ext_grids": [
            {
                "id": "Q",
                "bus": "B0",
                "s_sc_max_mva": float(rng.uniform(100, 1000)),
                "rx_max": 0.1,
                "x0x_max": 1.2,
                "r0x0_max": 0.1,
                "s_sc_min_mva": 80.0,
                "rx_min": 0.15,
                "x0x_min": 1.2,
                "r0x0_min": 0.12,
            }
        ],
        "lines": lines,
        "transformers": [trafo],
        "motors": [
            {
                "id": "M",
                "bus": "LV",
                "pn_mech_mw": 0.1,
                "cos_phi_n": 0.85,
                "efficiency_n_percent": 94.0,
                "vn_kv": 0.4,
                "lrc_pu": 6.0,
                "rx": 0.42,
            }
        ],
    }


def _line(lid: str, a: str, b: str, rng: np.random.Generator) -> dict[str, Any]:
    return {
        "id": lid,
        "from_bus": a,
        "to_bus": b,
        "length_km": float(rng.uniform(0.2, 3.0)),
        "r_ohm_per_km": float(rng.uniform(0.05, 0.4)),
        "x_ohm_per_km": float(rng.uniform(0.08, 0.4)),
        "r0_ohm_per_km": float(rng.uniform(0.2, 1.0)),
        "x0_ohm_per_km": float(rng.uniform(0.3, 1.5)),
        "c0_nf_per_km": float(rng.uniform(0, 300)),
        "endtemp_degree": 80.0,
    }


def _numbers(data: dict[str, Any]) -> dict[tuple[str, str, str, str], Any]:
    result = solve_study(parse_circuit(data))
    return {
        (rs.fault, rs.case, bus, q): v
        for rs in result.result_sets
        for bus, vals in rs.buses.items()
        for q, v in vals.items()
    }


def _same(a: dict[Any, Any], b: dict[Any, Any], rel: float = 1e-9) -> None:
    assert a.keys() == b.keys()
    for key, va in a.items():
        vb = b[key]
        if isinstance(va, str) or isinstance(vb, str):
            assert va == vb, key
        else:
            assert vb == pytest.approx(va, rel=rel, abs=1e-12), key


@FAST
@given(seed=st.integers(0, 10_000), n_mv=st.integers(2, 6))
def test_parallel_pair_equals_one_element_with_parallel_two(seed: int, n_mv: int) -> None:
    data = random_network(seed, n_mv)
    doubled = copy.deepcopy(data)
    # duplicate the first line and the transformer as separate elements ...
    doubled["lines"].append({**doubled["lines"][0], "id": "L1-copy"})
    doubled["transformers"].append({**doubled["transformers"][0], "id": "T-copy"})
    # ... and give them parallel = 2 instead
    single = copy.deepcopy(data)
    single["lines"][0]["parallel"] = 2
    single["transformers"][0]["parallel"] = 2
    _same(_numbers(doubled), _numbers(single))


@FAST
@given(seed=st.integers(0, 10_000), n_mv=st.integers(2, 6), factor=st.floats(1.1, 10.0))
def test_stronger_source_raises_ikss_everywhere(seed: int, n_mv: int, factor: float) -> None:
    data = random_network(seed, n_mv)
    stronger = copy.deepcopy(data)
    stronger["ext_grids"][0]["s_sc_max_mva"] *= factor
    base, up = _numbers(data), _numbers(stronger)
    for key, value in base.items():
        _fault, case, _bus, q = key
        if q == "ikss_ka" and case == "max":
            assert up[key] > value, key


@FAST
@given(seed=st.integers(0, 10_000), n_mv=st.integers(2, 6), perm_seed=st.integers(0, 1000))
def test_bus_order_does_not_matter(seed: int, n_mv: int, perm_seed: int) -> None:
    data = random_network(seed, n_mv)
    shuffled = copy.deepcopy(data)
    order = np.random.default_rng(perm_seed).permutation(len(shuffled["buses"]))
    shuffled["buses"] = [shuffled["buses"][i] for i in order]
    _same(_numbers(data), _numbers(shuffled))


@FAST
@given(seed=st.integers(0, 10_000), n_mv=st.integers(2, 6), sn=st.sampled_from([0.1, 1.0, 7.5, 100.0, 1000.0]))
def test_per_unit_base_does_not_matter(seed: int, n_mv: int, sn: float) -> None:
    data = random_network(seed, n_mv)
    rebased = copy.deepcopy(data)
    rebased["study"]["sn_mva"] = sn
    _same(_numbers(data), _numbers(rebased), rel=1e-8)
