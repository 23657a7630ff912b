"""Cross-checks against pandapower, which is the benchmark-only extra (`make bench` installs
it; `make test` does not, so these run here rather than skip there).

Each solves the same hand-written document (`ampflux_testing.hand_documents`) with both and
says where and why the two differ; the reference circuits' agreement is checked in
`simulation-service/tests` against results stored in the repo.
"""

from __future__ import annotations

import pandapower as pp
import pandapower.shortcircuit as sc
import pytest

from ampflux_simulation.solver import solve_study
from ampflux_testing.hand_documents import (
    COS,
    SIN,
    SQRT3,
    U_RG,
    X_T,
    XD,
    Z_G,
    Z_TLV,
    C,
    check_unit,
    wind_park,
    z_q_lv,
)


@pytest.mark.parametrize("units", ["converters", "dfig", "mixed"])
def test_wind_park_against_pandapower(units: str) -> None:
    """pandapower (bench extra) models the units as `sgen`s in calc_sc: doubly fed units as
    the same Z_WD (equal here), full converters as current sources whose transferred currents
    it sums as complex numbers before taking the magnitude (about 1 A apart here)."""
    net = pp.create_empty_network(sn_mva=1.0)
    bus = {b: pp.create_bus(net, 110.0 if b == 1 else 20.0) for b in range(1, 15)}
    pp.create_ext_grid(net, bus[1], s_sc_max_mva=10.5 * 110.0 * SQRT3, rx_max=0.1)
    pp.create_transformer_from_parameters(net, bus[1], bus[2], 31.5, 110.0, 20.0, 0.6, 12.0, 0.0, 0.0)
    doc = wind_park(units)
    for ln in doc.lines:
        pp.create_line_from_parameters(
            net,
            bus[int(ln.from_bus)],
            bus[int(ln.to_bus)],
            ln.length_km,
            ln.r_ohm_per_km,
            ln.x_ohm_per_km,
            0.0,
            1.0,
            parallel=ln.parallel,
        )
    for w in doc.wind_dfig:
        pp.create_sgen(
            net,
            bus[int(w.bus)],
            0.0,
            sn_mva=2.5,
            current_source=False,
            generator_type="async_doubly_fed",
            max_ik_ka=w.ip_max_ka,
            kappa=w.kappa,
            rx=w.rx,
        )
    for cv in doc.converters:
        pp.create_sgen(
            net, bus[int(cv.bus)], 0.0, sn_mva=cv.sn_mva, k=cv.k, generator_type="current_source", current_source=True
        )
    sc.calc_sc(net, case="max")
    ours = solve_study(doc).get("3ph", "max")
    for b in range(1, 15):
        assert ours.buses[str(b)]["ikss_ka"] == pytest.approx(net.res_bus_sc.ikss_ka.at[bus[b]], abs=1.5e-3)


def test_against_pandapower_the_only_difference_is_kts() -> None:
    """pandapower 3.5.6 (bench extra) applies K_G,S / K_G,SO and c·U_rG at the terminals but
    divides the unit factor back out of the transformer without applying K_T,S / K_T,SO
    (shortcircuit/ppc_conversion.py, _create_k_updated_ppci). Its figure is the hand formula
    with K_T,S = 1 to 1e-9, ours the same formula with the standard's K_T,S: the whole
    difference (76.63 vs 71.02 kA with OLTC, 78.30 vs 74.33 kA without) is that one factor."""
    for oltc, pg in ((True, 0.0), (False, 5.0)):
        net = pp.create_empty_network(sn_mva=1.0)
        q, g = pp.create_bus(net, 110.0), pp.create_bus(net, 10.0)
        pp.create_ext_grid(net, q, s_sc_max_mva=5000.0, rx_max=0.1)
        t = pp.create_transformer_from_parameters(
            net, q, g, 100.0, 115.0, 10.5, 0.0, 12.0, 0.0, 0.0, power_station_unit=True, oltc=oltc, pt_percent=0.0
        )
        pp.create_gen(
            net,
            g,
            0.0,
            vn_kv=U_RG,
            sn_mva=100.0,
            xdss_pu=XD,
            rdss_ohm=0.0,
            cos_phi=COS,
            pg_percent=pg,
            power_station_trafo=t,
        )
        sc.calc_sc(net, case="max", fault="3ph", ip=False)
        theirs = float(net.res_bus_sc.ikss_ka.at[g])
        p = 1.0 if oltc else 1.0 + pg / 100.0
        y_g = 1.0 / (C / (p * (1.0 + XD * SIN)) * Z_G)
        uncorrected = C * U_RG / SQRT3 * abs(1.0 / (Z_TLV + z_q_lv()) + y_g)
        with_kts = C * U_RG / SQRT3 * abs(1.0 / (C / (p * (1.0 - X_T * SIN)) * Z_TLV + z_q_lv()) + y_g)
        assert theirs == pytest.approx(uncorrected, rel=1e-9)
        ours = solve_study(check_unit(10.0, oltc=oltc, pg_percent=pg)).get("3ph", "max").buses["G"]["ikss_ka"]
        assert ours == pytest.approx(with_kts, rel=1e-9)
        assert theirs / ours == pytest.approx(uncorrected / with_kts, rel=1e-9)
        assert ours < theirs  # K_T,S > 1 lowers the network side's share
