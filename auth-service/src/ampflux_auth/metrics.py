"""The auth service's own figures (labels are small fixed sets, never ids)."""

from __future__ import annotations

from prometheus_client import Counter

from ampflux_shared.observability import ServiceMetrics


class AuthMetrics:
    def __init__(self, metrics: ServiceMetrics) -> None:
        self.logins: Counter = metrics.counter(
            "ampflux_auth_logins_total",
            "Password logins by outcome (success, invalid_credentials, throttled)",
            ["outcome"],
        )
        self.throttled: Counter = metrics.counter(
            "ampflux_auth_login_throttled_total", "Logins refused by throttling, by scope (account, address)", ["scope"]
        )
        self.tokens_issued: Counter = metrics.counter(
            "ampflux_auth_tokens_issued_total", "Access tokens signed, by grant (password, refresh, api_key)", ["grant"]
        )
        self.refresh_failures: Counter = metrics.counter(
            "ampflux_auth_refresh_failures_total",
            "Refused refresh tokens by reason (reused means a family revoked)",
            ["reason"],
        )
        self.api_key_exchanges: Counter = metrics.counter(
            "ampflux_auth_api_key_exchanges_total", "API-key exchanges by outcome", ["outcome"]
        )
