"""The circuit document (FORMAT.md, version 1) as pydantic models.

Attribute names are the JSON field names, so a model dumps back to the same document.
The models check what a single element can check on its own (types, physical ranges,
vkr <= vk). Everything that needs the whole document or the study (bus references,
connectivity, data required by 1ph or min-case studies) is in `validation.py`: that is
why zero-sequence and min-case fields are optional here.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .duty_ratings import BreakerRatings, BusbarRatings, CableRatings, Transformer3WRatings, TransformerRatings


def _json_integer(value: object) -> object:
    # Lax int parsing is wanted for 2.0 (some exporters write every number as a float),
    # not for true or "2".
    if isinstance(value, bool | str):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


Id = Annotated[str, StringConstraints(min_length=1)]

Fault = Literal["3ph", "2ph", "1ph", "2phg"]
Case = Literal["max", "min"]

# Two-winding groups named in FORMAT.md, HV side first, without clock number.
VectorGroup = Literal["Dyn", "YNd", "YNyn", "Yyn", "YNy", "Yzn", "Yy", "Yd", "Dy", "Dd"]
# Three-winding groups are open-ended (YNynd, Yynd, Yyd, ...): HV letter(s), then MV and LV.
VectorGroup3W = Annotated[str, StringConstraints(pattern=r"^(YN|Y|D|Z|ZN)(yn|y|d|zn|z)(yn|y|d|zn|z)$")]

# Numbers must be JSON numbers: lax parsing would read true as 1.0 and "0.4" as 0.4,
# which hides a broken exporter instead of reporting it. Integers are fine where floats go.
# Every number is also bounded: no quantity of a real circuit comes near 1e9 in its unit
# (kV, MVA, ohm, km, nF), while values like 1e300 overflow the solver's arithmetic; a
# bound here answers 422 naming the field instead of a failed study.
MAX_MAGNITUDE = 1e9
Real = Annotated[float, Field(strict=True, ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
Integer = Annotated[int, BeforeValidator(_json_integer), Field(ge=-1000, le=1000)]
Flag = Annotated[bool, Field(strict=True)]
# Parallel circuits or machines: a handful in practice.
Count = Annotated[Integer, Field(ge=1, le=1000)]

# Physical quantities. Ratings and lengths must be positive, impedances and ratios only
# non-negative; percentages of a rating stay below 100 %.
Positive = Annotated[Real, Field(gt=0)]
NonNegative = Annotated[Real, Field(ge=0)]
Percent = Annotated[Real, Field(ge=0, lt=100)]
PositivePercent = Annotated[Real, Field(gt=0, lt=100)]
PowerFactor = Annotated[Real, Field(gt=0, le=1)]
# R/X, X0/X and similar ratios: above 1000 a source or machine is a resistor, not a model of one.
Ratio = Annotated[Real, Field(ge=0, le=1000)]


# Empty defaults from Python functions, not `list` / `dict`: pydantic reads a default factory's
# signature, and a builtin's comes from parsing its text signature (the tokenizer's regular
# expressions compiled on first use: ~4 ms of every process's first validation).
def _no_entries() -> list[Any]:
    return []


def _no_states() -> dict[str, Any]:
    return {}


class _Element(BaseModel):
    # Unknown keys are ignored so documents written by newer tools still load.
    # defer_build: a model's validator is built when it is first used, not at import. Documents
    # are validated as a whole (CircuitDocument builds every element's schema inside its own), so
    # the 24 element and rating validators built at import went unused: ~0.02 s of CPU per start.
    model_config = ConfigDict(extra="ignore", frozen=True, allow_inf_nan=False, defer_build=True)


def _field_name(info: ValidationInfo) -> str:
    # Set for every field validator; None only in model-level ones.
    assert info.field_name is not None
    return info.field_name


def _not_above(value: float | None, info: ValidationInfo, limit_field: str) -> float | None:
    """Field-validator body for "value <= an earlier field" (vkr <= vk, min <= max), so the error sits on the field."""
    limit = info.data.get(limit_field)
    if value is not None and limit is not None and value > limit:
        raise PydanticCustomError(
            "exceeds_limit", "must not exceed {limit_field} ({limit})", {"limit_field": limit_field, "limit": limit}
        )
    return value


# What a study computes when it does not say.
DEFAULT_FAULTS: tuple[Fault, ...] = ("3ph",)
DEFAULT_CASES: tuple[Case, ...] = ("max",)


class LineFault(_Element):
    """A fault along a line, at `fraction` of its length measured from its from_bus."""

    line: Id
    fraction: Annotated[Real, Field(gt=0, lt=1)]


class Study(_Element):
    frequency_hz: Literal[50, 60]
    faults: list[Fault] = Field(default_factory=lambda: list(DEFAULT_FAULTS), min_length=1)
    cases: list[Case] = Field(default_factory=lambda: list(DEFAULT_CASES), min_length=1)
    lv_tol_percent: Literal[6, 10] = 10
    kappa_method: Literal["B", "C"] = "C"
    topology: Literal["auto", "meshed", "radial"] = "auto"
    ip: Flag = True
    ith: Flag = True
    tk_s: Positive = 1.0
    tmin_s: Positive = 0.1
    r_fault_ohm: NonNegative = 0.0
    x_fault_ohm: NonNegative = 0.0
    sn_mva: Positive = 1.0
    # IEC 60909-0 calculates with the main tap position (and K_T); "actual" applies tap_pos,
    # a documented non-IEC option (it can lower I″k,max, so it is never the default).
    tap_positions: Literal["main", "actual"] = "main"
    # DC component i_DC and asymmetrical breaking current Ib,asym at tmin_s (extra quantities)
    ib_asym: Flag = False
    # steady-state short-circuit current Ik (3ph) as an extra quantity
    ik_steady: Flag = False
    # faults along lines: a temporary bus at `fraction` of the line's length from its from_bus
    line_faults: list[LineFault] = Field(default_factory=_no_entries)
    # the switching state solved: a scenario's id (default: every switch as the document sets it)
    scenario: Id | None = None
    # equipment duty: every rating the document gives, checked against the study's currents
    duty: Flag = False

    @field_validator("faults", "cases")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise PydanticCustomError("repeated_entry", "lists an entry more than once")
        return value


class Bus(_Element):
    id: Id
    vn_kv: Positive
    name: str | None = None
    # busbar withstand ratings for the duty check
    ratings: BusbarRatings | None = None


class ExtGrid(_Element):
    id: Id
    bus: Id
    s_sc_max_mva: Positive
    rx_max: Ratio
    s_sc_min_mva: Positive | None = None
    rx_min: Ratio | None = None
    x0x_max: Ratio | None = None
    r0x0_max: Ratio | None = None
    x0x_min: Ratio | None = None
    r0x0_min: Ratio | None = None
    # out of service: the element is left out of every study (FORMAT.md, switching states)
    in_service: Flag = True

    @field_validator("s_sc_min_mva")
    @classmethod
    def _min_not_above_max(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _not_above(value, info, "s_sc_max_mva")


class Line(_Element):
    id: Id
    from_bus: Id
    to_bus: Id
    length_km: Positive
    r_ohm_per_km: NonNegative
    x_ohm_per_km: NonNegative
    c_nf_per_km: NonNegative = 0.0
    r0_ohm_per_km: NonNegative | None = None
    x0_ohm_per_km: NonNegative | None = None
    c0_nf_per_km: NonNegative | None = None
    parallel: Count = 1
    # Below 20 °C the min-case correction would lower R; above a few hundred °C no conductor survives.
    endtemp_degree: Annotated[Real, Field(ge=20, le=400)] | None = None
    # out of service: the element is left out of every study (FORMAT.md, switching states)
    in_service: Flag = True
    # conductor data for the adiabatic short-circuit withstand (duty check)
    ratings: CableRatings | None = None

    @field_validator("to_bus")
    @classmethod
    def _not_a_loop(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("from_bus"):
            raise PydanticCustomError("same_bus", "must differ from from_bus")
        return value

    @field_validator("x_ohm_per_km")
    @classmethod
    def _has_impedance(cls, value: float, info: ValidationInfo) -> float:
        # A zero-impedance line makes the admittance matrix singular; FORMAT.md says merge the buses.
        if value == 0 and info.data.get("r_ohm_per_km") == 0:
            raise PydanticCustomError("zero_impedance", "line has zero impedance; merge its buses instead")
        return value


class _TapChanger(_Element):
    tap_neutral: Integer | None = None
    tap_pos: Integer | None = None
    tap_step_percent: Percent | None = None
    tap_min: Integer | None = None
    tap_max: Integer | None = None

    @field_validator("tap_max")
    @classmethod
    def _range_ordered(cls, value: int | None, info: ValidationInfo) -> int | None:
        low = info.data.get("tap_min")
        if value is not None and low is not None and value < low:
            raise PydanticCustomError("exceeds_limit", "must not be below tap_min ({low})", {"low": low})
        return value


class Transformer(_TapChanger):
    id: Id
    hv_bus: Id
    lv_bus: Id
    sn_mva: Positive
    vn_hv_kv: Positive
    vn_lv_kv: Positive
    vk_percent: PositivePercent
    vkr_percent: Percent
    vector_group: VectorGroup | None = None
    vk0_percent: PositivePercent | None = None
    vkr0_percent: Percent | None = None
    mag0_percent: Positive | None = None
    mag0_rx: Ratio | None = None
    si0_hv_partial: Annotated[Real, Field(ge=0, le=1)] | None = None
    shift_degree: Real = 0.0
    parallel: Count = 1
    tap_side: Literal["hv", "lv"] | None = None
    power_station_unit: Flag = False
    oltc: Flag = False
    pt_percent: Percent | None = None
    xn_ohm: NonNegative = 0.0
    rn_ohm: NonNegative = 0.0
    # out of service: the element is left out of every study (FORMAT.md, switching states)
    in_service: Flag = True
    # through-fault withstand (duty check)
    ratings: TransformerRatings | None = None

    @field_validator("lv_bus")
    @classmethod
    def _two_buses(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("hv_bus"):
            raise PydanticCustomError("same_bus", "must differ from hv_bus")
        return value

    @field_validator("vkr_percent")
    @classmethod
    def _vkr(cls, value: float, info: ValidationInfo) -> float | None:
        return _not_above(value, info, "vk_percent")

    @field_validator("vkr0_percent")
    @classmethod
    def _vkr0(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _not_above(value, info, "vk0_percent")


class Transformer3W(_TapChanger):
    id: Id
    hv_bus: Id
    mv_bus: Id
    lv_bus: Id
    vn_hv_kv: Positive
    vn_mv_kv: Positive
    vn_lv_kv: Positive
    sn_hv_mva: Positive
    sn_mv_mva: Positive
    sn_lv_mva: Positive
    vk_hv_percent: PositivePercent
    vk_mv_percent: PositivePercent
    vk_lv_percent: PositivePercent
    vkr_hv_percent: Percent
    vkr_mv_percent: Percent
    vkr_lv_percent: Percent
    vk0_hv_percent: PositivePercent | None = None
    vk0_mv_percent: PositivePercent | None = None
    vk0_lv_percent: PositivePercent | None = None
    vkr0_hv_percent: Percent | None = None
    vkr0_mv_percent: Percent | None = None
    vkr0_lv_percent: Percent | None = None
    vector_group: VectorGroup3W | None = None
    shift_mv_degree: Real = 0.0
    shift_lv_degree: Real = 0.0
    tap_side: Literal["hv", "mv", "lv"] | None = None
    # out of service: the element is left out of every study (FORMAT.md, switching states)
    in_service: Flag = True
    # through-fault withstand per winding (duty check)
    ratings: Transformer3WRatings | None = None

    @field_validator("mv_bus", "lv_bus")
    @classmethod
    def _three_buses(cls, value: str, info: ValidationInfo) -> str:
        # While mv_bus is validated, info.data holds only hv_bus; for lv_bus it holds both.
        if value in (info.data.get("hv_bus"), info.data.get("mv_bus")):
            raise PydanticCustomError("same_bus", "the three windings must connect to three different buses")
        return value

    @field_validator("vkr_hv_percent", "vkr_mv_percent", "vkr_lv_percent")
    @classmethod
    def _vkr(cls, value: float, info: ValidationInfo) -> float | None:
        return _not_above(value, info, _field_name(info).replace("vkr_", "vk_"))

    @field_validator("vkr0_hv_percent", "vkr0_mv_percent", "vkr0_lv_percent")
    @classmethod
    def _vkr0(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _not_above(value, info, _field_name(info).replace("vkr0_", "vk0_"))


class Generator(_Element):
    id: Id
    bus: Id
    sn_mva: Positive
    vn_kv: Positive
    xdss_pu: Positive
    rdss_ohm: NonNegative | None = None
    rdss_pu: NonNegative | None = None
    cos_phi: PowerFactor
    pg_percent: Percent = 0.0
    power_station_trafo: Id | None = None
    # Steady state (λmax/λmin for Ik and Ith): saturated synchronous reactance, rotor type and
    # excitation ceiling U_fmax/U_fr; the solver documents its defaults (README).
    xdsat_pu: Annotated[Real, Field(gt=0, le=10)] | None = None
    # subtransient quadrature reactance: negative sequence X(2) = (X″d + X″q)/2 where given
    xqss_pu: Annotated[Real, Field(gt=0, le=10)] | None = None
    rotor: Literal["cylindrical", "salient"] = "cylindrical"
    ufmax_ratio: Annotated[Real, Field(ge=1, le=5)] | None = None
    # out of service: the element is left out of every study (FORMAT.md, switching states)
    in_service: Flag = True

    @model_validator(mode="after")
    def _one_stator_resistance(self) -> Generator:
        if (self.rdss_ohm is None) == (self.rdss_pu is None):
            raise PydanticCustomError("one_of", "give exactly one of rdss_ohm or rdss_pu")
        return self


class Motor(_Element):
    id: Id
    bus: Id
    pn_mech_mw: Positive
    cos_phi_n: PowerFactor
    efficiency_n_percent: Annotated[Real, Field(gt=0, le=100)]
    vn_kv: Positive
    lrc_pu: Positive
    rx: Ratio
    # out of service: the element is left out of every study (FORMAT.md, switching states)
    in_service: Flag = True


SwitchKind = Literal["breaker", "disconnector", "load_break_switch", "fuse"]
SwitchState = Literal["open", "closed"]


class Switch(_Element):
    """A switching device at `bus`: either at the end of a branch there (`element`: a line or
    transformer id; open takes the branch out) or between two buses (`to_bus`: a bus coupler or
    sectionaliser; closed joins the buses into one node, open keeps them apart)."""

    id: Id
    kind: SwitchKind = "breaker"
    bus: Id
    element: Id | None = None
    to_bus: Id | None = None
    closed: Flag = True
    name: str | None = None
    # breaking, making and short-time withstand ratings (duty check)
    ratings: BreakerRatings | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Switch:
        if (self.element is None) == (self.to_bus is None):
            raise PydanticCustomError("one_of", "give exactly one of element or to_bus")
        if self.to_bus is not None and self.to_bus == self.bus:
            raise PydanticCustomError("same_bus", "to_bus must differ from bus")
        return self


class Scenario(_Element):
    """A switching state of the circuit, named by a study: switch states that replace the
    switches' `closed`, and elements taken out of service."""

    id: Id
    name: str | None = None
    switches: dict[str, SwitchState] = Field(default_factory=_no_states)
    out_of_service: list[Id] = Field(default_factory=_no_entries)


# Converter-interfaced and wind sources (IEC 60909-0:2016). Their min-case rules are the
# solver's (README): a full converter feeds the min case only with `k_min`.
ConverterKind = Literal["pv", "battery", "wind_full_converter"]
# I_skPF/I_rG of a full converter: manufacturers give 1.0 to about 1.5; far above that no converter survives.
ConverterFactor = Annotated[Real, Field(gt=0, le=10)]


class Converter(_Element):
    """A power station unit with full size converter (PV, battery, type-4 wind): a current
    source k·I_rG in the positive sequence, I_rG = sn_mva/(√3·vn_kv)."""

    id: Id
    bus: Id
    kind: ConverterKind
    sn_mva: Positive
    vn_kv: Positive
    k: ConverterFactor
    k_min: Annotated[Real, Field(ge=0, le=10)] | None = None
    in_service: Flag = True

    @field_validator("k_min")
    @classmethod
    def _min_not_above_max(cls, value: float | None, info: ValidationInfo) -> float | None:
        return _not_above(value, info, "k")


class WindDfig(_Element):
    """A wind power station unit with doubly fed asynchronous generator (type 3), seen from
    the bus it feeds: Z_WD = √2·κ_WD·U/(√3·i_WD,max) with U = vn_kv, R/X = rx."""

    id: Id
    bus: Id
    vn_kv: Positive
    # κ of the unit from the manufacturer; the peak formula's range (R/X from 0 up)
    kappa: Annotated[Real, Field(gt=1.02, le=2.0)]
    ip_max_ka: Positive
    rx: Ratio
    in_service: Flag = True


class AsyncGenerator(_Element):
    """An asynchronous generator (wind type 1/2), modelled like an asynchronous motor:
    Z_G = (1/lrc_pu)·vn_kv²/sn_mva with lrc_pu = I_LR/I_rG."""

    id: Id
    bus: Id
    sn_mva: Positive
    vn_kv: Positive
    lrc_pu: Positive
    rx: Ratio
    in_service: Flag = True


class CircuitDocument(_Element):
    format: Literal["circuit-document"]
    version: Literal[1]
    id: Id
    title: str | None = None
    description: str | None = None
    study: Study
    buses: list[Bus] = Field(min_length=1)
    ext_grids: list[ExtGrid] = Field(default_factory=_no_entries)
    lines: list[Line] = Field(default_factory=_no_entries)
    transformers: list[Transformer] = Field(default_factory=_no_entries)
    transformers3w: list[Transformer3W] = Field(default_factory=_no_entries)
    generators: list[Generator] = Field(default_factory=_no_entries)
    motors: list[Motor] = Field(default_factory=_no_entries)
    converters: list[Converter] = Field(default_factory=_no_entries)
    wind_dfig: list[WindDfig] = Field(default_factory=_no_entries)
    async_generators: list[AsyncGenerator] = Field(default_factory=_no_entries)
    switches: list[Switch] = Field(default_factory=_no_entries)
    scenarios: list[Scenario] = Field(default_factory=_no_entries)
    expected: dict[str, Any] | None = None


# The document's element lists in FORMAT.md order, with the model of one entry.
ELEMENT_MODELS: dict[str, type[_Element]] = {
    "buses": Bus,
    "ext_grids": ExtGrid,
    "lines": Line,
    "transformers": Transformer,
    "transformers3w": Transformer3W,
    "generators": Generator,
    "motors": Motor,
    "converters": Converter,
    "wind_dfig": WindDfig,
    "async_generators": AsyncGenerator,
    "switches": Switch,
    "scenarios": Scenario,
}
