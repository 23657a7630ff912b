"""What a study returns, and its FORMAT.md `result_sets` shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Reported quantities per fault, in FORMAT.md order; ip/ith only when the study asks.
BASE_QUANTITIES = {
    "3ph": ["ikss_ka", "skss_mw", "ip_ka", "ith_ka", "ib_ka", "rk_ohm", "xk_ohm"],
    "2ph": ["ikss_ka", "ip_ka", "ith_ka", "ib_ka", "rk_ohm", "xk_ohm"],
    "1ph": ["ikss_ka", "ip_ka", "ith_ka", "ib_ka", "rk_ohm", "xk_ohm", "rk0_ohm", "xk0_ohm"],
    "2phg": ["ikss_ka", "ikss_e_ka", "ip_ka", "ith_ka", "ib_ka", "rk_ohm", "xk_ohm", "rk0_ohm", "xk0_ohm"],
}
# Where the zero-sequence impedance is infinite FORMAT.md asks for this string.
NO_ZERO_PATH = "inf"


@dataclass
class ResultSet:
    fault: str
    case: str
    quantities: list[str]
    buses: dict[str, dict[str, float | str]]
    trail: dict[str, dict[str, Any]]
    omitted: dict[str, str] = field(default_factory=dict)
    branches: dict[str, dict[str, dict[str, float]]] | None = None
    voltages: dict[str, dict[str, dict[str, float]]] | None = None
    # switching state (solver/switching.py): the scenario solved, buses and line fault points
    # left without a source (id -> why), and the line fault points (id -> line, fraction, buses)
    scenario: str | None = None
    unsupplied: dict[str, str] = field(default_factory=dict)
    line_faults: dict[str, dict[str, Any]] = field(default_factory=dict)
    # equipment duty (duty.py): one row per rated device and check, when the study asks
    duty: list[dict[str, Any]] | None = None
    # rated devices none of whose buses were solved (a study restricted with `buses`): id, kind, reason
    duty_not_checked: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "fault": self.fault,
            "case": self.case,
            "quantities": list(self.quantities),
            "buses": self.buses,
        }
        if self.omitted:
            out["omitted"] = dict(self.omitted)
        out["trail"] = self.trail
        if self.branches is not None:
            out["branches"] = self.branches
        if self.voltages is not None:
            out["voltages"] = self.voltages
        if self.scenario is not None:
            out["scenario"] = self.scenario
        if self.unsupplied:
            out["unsupplied"] = dict(self.unsupplied)
        if self.line_faults:
            out["line_faults"] = dict(self.line_faults)
        if self.duty is not None:
            out["duty"] = self.duty
        if self.duty_not_checked:
            out["duty_not_checked"] = self.duty_not_checked
        return out


@dataclass
class StudyResult:
    result_sets: list[ResultSet]

    def to_result_sets(self) -> list[dict[str, Any]]:
        return [rs.to_dict() for rs in self.result_sets]

    def get(self, fault: str, case: str) -> ResultSet:
        for rs in self.result_sets:
            if rs.fault == fault and rs.case == case:
                return rs
        raise KeyError((fault, case))
