"""A three-winding transformer with one winding switched off is a two-winding transformer.

With one winding open no current flows in it, so the star equivalent's branch of that
winding carries nothing and the other two branches are in series: their sum is, by the
star's construction, the pair's short-circuit impedance (IEC 60909-0 eq. 10: Z_AB from
u_kAB on the smaller of the two ratings). So the remainder is exactly the two-winding
transformer of that pair's data: u_k and u_kR (and u_k0, u_kR0) of the pair, rated power the
smaller of the two windings', rated voltages of the two windings, the tap changer when it
sits on one of them. Its zero sequence follows the remaining windings' letters (YNynd with
the delta open: YNyn); a pair the two-winding model does not name (a zigzag HV winding, for
one) keeps no zero-sequence path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

from ampflux_shared.circuit.model import VectorGroup

if TYPE_CHECKING:
    from ampflux_shared.circuit import Transformer, Transformer3W

SIDES = ("hv", "mv", "lv")
# the 3W fields name pairs by one side: hv = HV–MV, mv = MV–LV, lv = HV–LV
_PAIR_FIELD = {("hv", "mv"): "hv", ("mv", "lv"): "mv", ("hv", "lv"): "lv"}
_TWO_WINDING_GROUPS = set(get_args(VectorGroup))


def remaining_two_winding(t3: Transformer3W, open_buses: set[str]) -> Transformer | None:
    """The transformer `t3` is with the windings at `open_buses` switched off; None when
    fewer than two windings remain (then it is out)."""
    from ampflux_shared.circuit import Transformer

    open_sides = {side for side in SIDES if getattr(t3, f"{side}_bus") in open_buses}
    if len(open_sides) != 1:
        return None
    high, low = (side for side in SIDES if side not in open_sides)
    pair = _PAIR_FIELD[(high, low)]
    data: dict[str, Any] = {
        "id": t3.id,
        "hv_bus": getattr(t3, f"{high}_bus"),
        "lv_bus": getattr(t3, f"{low}_bus"),
        "sn_mva": min(getattr(t3, f"sn_{high}_mva"), getattr(t3, f"sn_{low}_mva")),
        "vn_hv_kv": getattr(t3, f"vn_{high}_kv"),
        "vn_lv_kv": getattr(t3, f"vn_{low}_kv"),
        "vk_percent": getattr(t3, f"vk_{pair}_percent"),
        "vkr_percent": getattr(t3, f"vkr_{pair}_percent"),
        "shift_degree": _shift(t3, low) - _shift(t3, high),
    }
    group = _group(t3.vector_group, high, low)
    vk0 = getattr(t3, f"vk0_{pair}_percent")
    if group is not None and vk0 is not None:
        data.update(vector_group=group, vk0_percent=vk0, vkr0_percent=getattr(t3, f"vkr0_{pair}_percent"))
    if t3.tap_side in (high, low):
        data.update(
            tap_side="hv" if t3.tap_side == high else "lv",
            tap_neutral=t3.tap_neutral,
            tap_pos=t3.tap_pos,
            tap_step_percent=t3.tap_step_percent,
            tap_min=t3.tap_min,
            tap_max=t3.tap_max,
        )
    return Transformer.model_validate(data)


def _shift(t3: Transformer3W, side: str) -> float:
    return {"hv": 0.0, "mv": t3.shift_mv_degree, "lv": t3.shift_lv_degree}[side]


def _group(group: str | None, high: str, low: str) -> str | None:
    """The two-winding group of the remaining pair ('YNynd' without its delta: 'YNyn'), or None."""
    if group is None:
        return None
    from .elements import _split_3w_group

    windings = dict(zip(SIDES, _split_3w_group(group), strict=True))
    name = windings[high].upper() + windings[low]
    return name if name in _TWO_WINDING_GROUPS else None
