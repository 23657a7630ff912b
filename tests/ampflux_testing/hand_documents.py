"""Small circuits written out by hand for the solver's hand-calculation tests and for the
cross-checks against pandapower (`tests/bench`), so both solve the very same document."""

from __future__ import annotations

import math
from typing import Any

from ampflux_shared.circuit import parse_circuit

SQRT3 = math.sqrt(3.0)


def hand_document(study: dict[str, Any], buses: list[dict[str, Any]], **elements: Any) -> Any:
    """A circuit document (format version 1) of these buses and elements, parsed and checked."""
    return parse_circuit(
        {"format": "circuit-document", "version": 1, "id": "hand", "study": study, "buses": buses, **elements}
    )


# The check unit by hand (check_unit): c_max, U_rG (kV), x″d, x_T, cos φ_rG and what follows.
C, U_RG, XD, X_T, COS = 1.1, 10.5, 0.18, 0.12, 0.85
SIN = math.sqrt(1.0 - COS**2)  # 0.526783
Z_G = complex(0.0, XD * U_RG**2 / 100.0)  # Ω, x″d·U_rG²/S_rG
Z_TLV = complex(0.0, X_T * 10.5**2 / 100.0)  # Ω, on the LV side (U_rTLV = 10.5 kV)


def z_q_lv() -> complex:
    """Z_Q,min = c·U_nQ²/S″kQ,max (R/X 0.1), referred to the LV side by 1/t_r², t_r = 115/10.5."""
    zq = C * 110.0**2 / 5000.0
    xq = zq / math.sqrt(1.0 + 0.1**2)
    return complex(0.1 * xq, xq) / (115.0 / 10.5) ** 2


def check_unit(gen_bus_kv: float, *, oltc: bool, pg_percent: float = 0.0) -> Any:
    """The issue's check unit: 100 MVA, x″d 0.18, cos φ 0.85 generator, 115/10.5 kV 12 %
    unit transformer, 5 GVA (R/X 0.1) grid at 110 kV."""
    return hand_document(
        {"frequency_hz": 50, "faults": ["3ph"], "cases": ["max"], "ip": False, "ith": False},
        [{"id": "Q", "vn_kv": 110.0}, {"id": "G", "vn_kv": gen_bus_kv}],
        ext_grids=[{"id": "NET", "bus": "Q", "s_sc_max_mva": 5000.0, "rx_max": 0.1}],
        transformers=[
            {
                "id": "T",
                "hv_bus": "Q",
                "lv_bus": "G",
                "sn_mva": 100.0,
                "vn_hv_kv": 115.0,
                "vn_lv_kv": 10.5,
                "vk_percent": 12.0,
                "vkr_percent": 0.0,
                "power_station_unit": True,
                "oltc": oltc,
            }
        ],
        generators=[
            {
                "id": "GEN",
                "bus": "G",
                "sn_mva": 100.0,
                "vn_kv": 10.5,
                "xdss_pu": 0.18,
                "rdss_ohm": 0.0,
                "cos_phi": 0.85,
                "pg_percent": pg_percent,
                "power_station_trafo": "T",
            }
        ],
    )


WIND_PARK_UNIT_BUSES = [4, 5, 6, 8, 9, 10, 12, 13, 3, 14]


def wind_park(units: str) -> Any:
    """110 kV grid (I″kQ = 10.5 kA, R/X 0.1), 31.5 MVA 110/20 kV 12 % transformer, a double
    cable to the park and ten 2.5 MVA units on a 20 kV cable tree."""
    lines = [
        {"id": "L1", "from_bus": "2", "to_bus": "3", "length_km": 13.1}
        | {"r_ohm_per_km": 0.0681, "x_ohm_per_km": 0.102, "parallel": 2}
    ]
    tree = [(3, 4, 1.1), (4, 5, 0.55), (3, 6, 0.79), (6, 7, 0.17), (7, 8, 0.4), (7, 9, 0.55)]
    tree += [(3, 10, 0.95), (10, 11, 0.24), (11, 12, 0.29), (11, 14, 0.15), (12, 13, 0.495)]
    for i, (f, t, km) in enumerate(tree):
        lines.append(
            {"id": f"L{i + 2}", "from_bus": str(f), "to_bus": str(t), "length_km": km}
            | {"r_ohm_per_km": 0.211, "x_ohm_per_km": 0.122}
        )
    dfig = [
        {"id": f"WD{b}", "bus": str(b), "vn_kv": 20.0, "kappa": 1.7, "ip_max_ka": 0.388, "rx": 0.1}
        for b in WIND_PARK_UNIT_BUSES
    ]
    conv = [
        {"id": f"WF{b}", "bus": str(b), "kind": "wind_full_converter", "sn_mva": 2.5, "vn_kv": 20.0, "k": 1.3}
        for b in WIND_PARK_UNIT_BUSES
    ]
    units_of = {
        "dfig": {"wind_dfig": dfig},
        "converters": {"converters": conv},
        "mixed": {"wind_dfig": dfig[:5], "converters": conv[5:]},
    }
    return hand_document(
        {"frequency_hz": 50, "ip": False, "ith": False},
        [{"id": "1", "vn_kv": 110.0}] + [{"id": str(i), "vn_kv": 20.0} for i in range(2, 15)],
        ext_grids=[{"id": "Q", "bus": "1", "s_sc_max_mva": 10.5 * 110.0 * SQRT3, "rx_max": 0.1}],
        lines=lines,
        transformers=[
            {"id": "T", "hv_bus": "1", "lv_bus": "2", "sn_mva": 31.5, "vn_hv_kv": 110.0, "vn_lv_kv": 20.0}
            | {"vk_percent": 12.0, "vkr_percent": 0.6}
        ],
        **units_of[units],
    )
