"""The one backoff rule: grows exponentially, stops at its cap, jitters below the ceiling."""

from ampflux_shared.backoff import Backoff


def test_the_ceiling_doubles_per_attempt_up_to_the_cap() -> None:
    b = Backoff(base_s=0.5, max_s=4.0, jitter=False)
    assert [b.delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert b.delay(10_000) == 4.0  # no overflow on absurd attempt counts


def test_jittered_delays_stay_under_the_ceiling_and_spread() -> None:
    b = Backoff(base_s=1.0, max_s=8.0)
    delays = [b.delay(4) for _ in range(200)]
    assert all(0.0 <= d <= 8.0 for d in delays)
    assert max(delays) - min(delays) > 2.0  # not all the same: clients that failed together spread out
