"""Prometheus figures of the event machinery, one set per service registry.

In the embedded mode every service runs in one process with its own `CollectorRegistry`,
and several components of one service ask for the same metrics, so creation is memoised
per registry instead of failing on the duplicate registration.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge


@dataclass(frozen=True)
class EventMetrics:
    published: Counter
    consumed: Counter
    outbox_pending: Gauge
    outbox_oldest_age: Gauge
    dead_letters: Gauge


_by_registry: weakref.WeakKeyDictionary[CollectorRegistry, EventMetrics] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def event_metrics(registry: CollectorRegistry | None = None) -> EventMetrics:
    """The event metrics registered in `registry` (the global default when None)."""
    registry = REGISTRY if registry is None else registry
    with _lock:
        found = _by_registry.get(registry)
        if found is None:
            found = EventMetrics(
                published=Counter(
                    "ampflux_events_published_total",
                    "Domain events the broker confirmed",
                    ["event_type"],
                    registry=registry,
                ),
                consumed=Counter(
                    "ampflux_events_consumed_total",
                    "Domain event deliveries by handler outcome (ok, retry, dead_letter)",
                    ["event_type", "outcome"],
                    registry=registry,
                ),
                outbox_pending=Gauge(
                    "ampflux_outbox_pending",
                    "Outbox events written but not yet confirmed by the broker",
                    registry=registry,
                ),
                # A backlog's count says little on its own (a burst drains in a second); its
                # age says events are stuck (broker away, a row the broker keeps refusing).
                outbox_oldest_age=Gauge(
                    "ampflux_outbox_oldest_pending_age_seconds",
                    "Age of the oldest outbox event not yet confirmed by the broker (0 when none)",
                    registry=registry,
                ),
                dead_letters=Gauge(
                    "ampflux_events_dead_letter_depth",
                    "Messages waiting in a consuming queue's dead-letter queue (<queue>.dlq)",
                    ["queue"],
                    registry=registry,
                ),
            )
            _by_registry[registry] = found
        return found
