"""Exact accounting of one fault scenario: what was sent, what the platform acknowledged,
what completed, and what was lost, duplicated or left stuck, with every status code seen."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Ledger:
    scenario: str
    what: str = "runs"  # what was sent: runs, writes, messages
    sent: int = 0
    acknowledged: int = 0
    completed: int = 0
    lost: int = 0
    duplicated: int = 0
    stuck: int = 0
    healthy_failed: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    # Why each lost/duplicated/stuck/failed item counted, for the assertion message.
    problems: list[str] = field(default_factory=list)

    def saw(self, status: int | str) -> None:
        self.statuses[str(status)] += 1

    def problem(self, kind: str, detail: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        self.problems.append(f"{kind}: {detail}")

    def statuses_text(self) -> str:
        return " ".join(f"{code}×{n}" for code, n in sorted(self.statuses.items())) or "-"

    def line(self) -> str:
        return (
            f"{self.scenario} [{self.what}]: sent {self.sent}, acknowledged {self.acknowledged}, "
            f"completed {self.completed}, lost {self.lost}, duplicated {self.duplicated}, stuck {self.stuck}, "
            f"healthy failed {self.healthy_failed}; statuses {self.statuses_text()}"
            + (f"; {'; '.join(self.notes)}" if self.notes else "")
        )

    def row(self) -> str:
        """A Markdown table row (README)."""
        cells = [
            self.scenario, self.what, self.sent, self.acknowledged, self.completed, self.lost, self.duplicated,
            self.stuck, self.healthy_failed, self.statuses_text(), "; ".join(self.notes),
        ]  # fmt: skip
        return "| " + " | ".join(str(c) for c in cells) + " |"

    def assert_clean(self) -> None:
        print(self.line(), flush=True)
        assert (self.lost, self.duplicated, self.stuck, self.healthy_failed) == (0, 0, 0, 0), (
            self.line() + "\n" + "\n".join(self.problems[:30])
        )
        assert self.sent > 0 and self.acknowledged == self.sent, self.line()


TABLE_HEADER = (
    "| scenario | of | sent | acknowledged | completed | lost | duplicated | stuck | healthy failed "
    "| statuses | notes |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)
