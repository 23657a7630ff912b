"""Short-circuit ratings of equipment, for the duty check (FORMAT.md "Equipment ratings").

Every field is optional: a rating that is not given is not checked. The models hold what a
nameplate or a cable data sheet says; what the rating means for a duty (the cable's k, a
breaker's asymmetrical breaking capability, a withstand rescaled to another duration) is
computed here too, so the solver and the documentation read one table.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

# kA, s and mm²: positive and bounded like every other number of the document.
_Real = Annotated[float, Field(strict=True, gt=0, le=1e6)]
KiloAmperes = _Real
Seconds = Annotated[float, Field(strict=True, gt=0, le=100)]
SquareMillimetres = Annotated[float, Field(strict=True, gt=0, le=10_000)]
Celsius = Annotated[float, Field(strict=True, ge=-50, le=1000)]

ConductorMaterial = Literal["cu", "al"]
Insulation = Literal["pvc", "xlpe", "epr", "rubber", "paper"]

# IEC 62271-100: the standard DC time constant of the rated short-circuit breaking current.
STANDARD_DC_TIME_CONSTANT_MS = 45.0
# IEC 62271-1 / IEC 60947-2: the usual rated duration of the short-time withstand current.
STANDARD_SHORT_TIME_S = 1.0
# IEC 60076-5 §4.1.5: a transformer withstands its through-fault current for 2 s unless stated.
STANDARD_THROUGH_FAULT_S = 2.0

# IEC 60949 adiabatic constants: K (A·√s/mm²) and β (K, reciprocal of the temperature
# coefficient of resistance at 0 °C) per conductor material.
MATERIAL_CONSTANTS: dict[str, tuple[float, float]] = {"cu": (226.0, 234.5), "al": (148.0, 228.0)}

# Initial (continuous operation) and final (short-circuit) conductor temperatures, °C, per
# insulation (IEC 60724 limits, as tabulated with k in IEC 60364-4-43 Table 43A and
# IEC 60364-5-54 Table A.54.4). PVC above 300 mm² has the lower limit 140 °C. Paper is a
# documented choice (no table of IEC 60364 lists it): 80 °C, the highest continuous
# temperature of mass-impregnated cables, to 200 °C, below IEC 60724's 250 °C, so the check
# stays on the safe side; a cable whose data sheet says otherwise gives its own temperatures.
INSULATION_TEMPERATURES: dict[str, tuple[float, float]] = {
    "pvc": (70.0, 160.0),
    "xlpe": (90.0, 250.0),
    "epr": (90.0, 250.0),
    "rubber": (60.0, 200.0),
    "paper": (80.0, 200.0),
}
PVC_LARGE_SECTION_MM2 = 300.0
PVC_LARGE_SECTION_FINAL_C = 140.0


class _Ratings(BaseModel):
    # built on first use, like the elements (model.py `_Element`)
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False, defer_build=True)


def rescaled_withstand_ka(rated_ka: float, rated_s: float, tk_s: float) -> float:
    """A short-time withstand current at the fault duration Tk, by I²t equivalence
    (IEC 60865-1 §7: Ith ≤ Ithr for Tk ≤ Tkr, Ith ≤ Ithr·√(Tkr/Tk) for Tk > Tkr). A shorter
    fault does not raise the rating above its nameplate value."""
    return rated_ka if tk_s <= rated_s else rated_ka * math.sqrt(rated_s / tk_s)


class BreakerRatings(_Ratings):
    """A circuit-breaker's (or fuse's, switch's) short-circuit ratings, IEC 62271-100 / 60947-2 terms."""

    breaking_ka: KiloAmperes | None = None  # rated short-circuit breaking current Isc / Icu (AC, rms)
    # asymmetrical breaking capability; when absent it follows from breaking_ka and the DC time constant
    breaking_asym_ka: KiloAmperes | None = None
    dc_time_constant_ms: Annotated[float, Field(strict=True, gt=0, le=1000)] = STANDARD_DC_TIME_CONSTANT_MS
    making_ka: KiloAmperes | None = None  # rated short-circuit making current (peak)
    short_time_ka: KiloAmperes | None = None  # rated short-time withstand current Icw (rms)
    short_time_s: Seconds = STANDARD_SHORT_TIME_S  # its rated duration tkr
    tmin_s: Seconds | None = None  # minimum time delay for Ib / Ib,asym; the study's tmin_s when absent

    def asymmetrical_breaking_ka(self, tmin_s: float) -> float | None:
        """Ib,asym capability at contact separation tmin: Isc·√(1 + 2·p²) with the DC share
        p = e^(−tmin/τ) of the rated breaking current (IEC 62271-100 §4.101.2); a given
        breaking_asym_ka wins."""
        if self.breaking_asym_ka is not None:
            return self.breaking_asym_ka
        if self.breaking_ka is None:
            return None
        p = math.exp(-tmin_s / (self.dc_time_constant_ms / 1000.0))
        return self.breaking_ka * math.sqrt(1.0 + 2.0 * p * p)


class BusbarRatings(_Ratings):
    """A busbar's (switchboard's) rated peak and short-time withstand currents."""

    peak_withstand_ka: KiloAmperes | None = None  # Ipk
    short_time_ka: KiloAmperes | None = None  # Icw / Ithr
    short_time_s: Seconds = STANDARD_SHORT_TIME_S  # Tkr


class CableRatings(_Ratings):
    """A cable's conductor, for the adiabatic short-circuit withstand (k·S)² ≥ Ith²·Tk (IEC 60949)."""

    material: ConductorMaterial
    cross_section_mm2: SquareMillimetres  # per conductor of one circuit (a line's `parallel` circuits share)
    insulation: Insulation
    initial_temp_c: Celsius | None = None  # overrides the insulation's continuous temperature
    final_temp_c: Celsius | None = None  # overrides the insulation's short-circuit limit

    @model_validator(mode="after")
    def _final_above_initial(self) -> CableRatings:
        initial, final = self.temperatures()
        if final <= initial:
            raise PydanticCustomError(
                "exceeds_limit",
                "final_temp_c ({final}) must be above the initial temperature ({initial})",
                {"final": final, "initial": initial},
            )
        return self

    def temperatures(self) -> tuple[float, float]:
        initial, final = INSULATION_TEMPERATURES[self.insulation]
        if self.insulation == "pvc" and self.cross_section_mm2 > PVC_LARGE_SECTION_MM2:
            final = PVC_LARGE_SECTION_FINAL_C
        return (
            self.initial_temp_c if self.initial_temp_c is not None else initial,
            self.final_temp_c if self.final_temp_c is not None else final,
        )

    def k(self) -> float:
        """k = K·√ln((θf + β)/(θi + β)) in A·√s/mm² (IEC 60949 eq. 1); Cu/PVC 115, Cu/XLPE 143."""
        big_k, beta = MATERIAL_CONSTANTS[self.material]
        initial, final = self.temperatures()
        return big_k * math.sqrt(math.log((final + beta) / (initial + beta)))

    def withstand_ka(self, tk_s: float) -> float:
        """The current one conductor carries for Tk without passing its final temperature: k·S/√Tk."""
        return self.k() * self.cross_section_mm2 / math.sqrt(tk_s) / 1000.0


class _ThroughFault(_Ratings):
    """A through-fault withstand (IEC 60076-5 §4.1.5): a current, or a multiple of a winding's
    rated current, for `through_fault_s`."""

    through_fault_ka: KiloAmperes | None = None
    through_fault_multiple: Annotated[float, Field(strict=True, gt=0, le=1000)] | None = None
    through_fault_s: Seconds = STANDARD_THROUGH_FAULT_S

    @model_validator(mode="after")
    def _one_limit(self) -> _ThroughFault:
        if (self.through_fault_ka is None) == (self.through_fault_multiple is None):
            raise PydanticCustomError("one_of", "give exactly one of through_fault_ka or through_fault_multiple")
        return self

    def limit_ka(self, sn_mva: float, vn_kv: float) -> float:
        """The through-fault current in kA on the rated side (rated current Sn/(√3·Un) × multiple)."""
        if self.through_fault_ka is not None:
            return self.through_fault_ka
        assert self.through_fault_multiple is not None
        return self.through_fault_multiple * sn_mva / (math.sqrt(3.0) * vn_kv)


class TransformerRatings(_ThroughFault):
    """A two-winding transformer's through-fault withstand (IEC 60076-5 §4.1.5): a current, or a
    multiple of the rated current of `through_fault_side`, for `through_fault_s`."""

    through_fault_side: Literal["hv", "lv"] = "lv"


class WindingThroughFault(_ThroughFault):
    """One winding of a three-winding transformer: its through-fault current, in kA or as a
    multiple of that winding's rated current sn_<w>_mva/(√3·vn_<w>_kv), for `through_fault_s`."""


class Transformer3WRatings(_Ratings):
    """A three-winding transformer's through-fault withstand per winding (`hv`, `mv`, `lv`); a
    winding without one is not checked. Each winding is rated on its own side."""

    hv: WindingThroughFault | None = None
    mv: WindingThroughFault | None = None
    lv: WindingThroughFault | None = None

    def windings(self) -> list[tuple[str, WindingThroughFault]]:
        """(winding, its limit) for the rated windings, in hv, mv, lv order."""
        return [(name, limit) for name in ("hv", "mv", "lv") if (limit := getattr(self, name)) is not None]
