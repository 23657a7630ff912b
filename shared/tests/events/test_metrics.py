from prometheus_client import CollectorRegistry, generate_latest

from ampflux_shared.events import event_metrics


def test_metrics_are_created_once_per_registry():
    registry = CollectorRegistry()

    first, again = event_metrics(registry), event_metrics(registry)
    other = event_metrics(CollectorRegistry())

    assert first is again
    assert other is not first
    first.published.labels(event_type="auth.user.registered").inc()
    first.outbox_pending.set(3)
    text = generate_latest(registry).decode()
    assert 'ampflux_events_published_total{event_type="auth.user.registered"} 1.0' in text
    assert "ampflux_outbox_pending 3.0" in text
    assert "ampflux_events_consumed_total" in text
