"""One backoff rule for every retry loop: exponential, capped, with full jitter.

Full jitter (a uniform draw between 0 and the capped exponential) keeps many clients that
failed together from retrying together, which is what turns a blip into a thundering herd.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    base_s: float = 0.5
    max_s: float = 30.0
    jitter: bool = True

    def ceiling(self, attempt: int) -> float:
        """The largest delay before retry number `attempt` (1 for the first retry)."""
        exponent = min(max(attempt - 1, 0), 32)  # 2**32 * base is beyond any cap
        return min(self.base_s * 2**exponent, self.max_s)

    def delay(self, attempt: int) -> float:
        ceiling = self.ceiling(attempt)
        return random.uniform(0.0, ceiling) if self.jitter else ceiling
