"""Who the gateway thinks the caller is, and what it tells upstreams, behind trusted proxies."""

from __future__ import annotations

from ampflux_gateway.authn import ANONYMOUS, Identity
from ampflux_gateway.config import Settings, load_route_table
from ampflux_gateway.gateway import Gateway
from ampflux_gateway.proxy import forwarded_headers
from ampflux_gateway.routes import RateLimitSpec
from ampflux_shared.observability import ServiceMetrics

ROUTES = [{"prefix": "/x", "upstreams": ["http://h:1"]}]


def _gateway(trusted: int) -> Gateway:
    settings = Settings(routes=ROUTES, trusted_proxies=trusted)
    return Gateway(settings, load_route_table(settings), ServiceMetrics())


def _scope(xff: str | None = None) -> dict:
    headers = [(b"host", b"api.example.com"), (b"x-forwarded-proto", b"https")]
    if xff is not None:
        headers.append((b"x-forwarded-for", xff.encode()))
    return {"type": "http", "client": ("10.0.0.9", 5555), "headers": headers, "scheme": "http"}


def test_client_address_without_trusted_proxies_is_the_peer():
    assert _gateway(0).client_ip(_scope("1.2.3.4")) == "10.0.0.9"


def test_client_address_behind_trusted_proxies():
    # client -> CDN -> load balancer -> gateway: two hops appended addresses.
    assert _gateway(2).client_ip(_scope("6.6.6.6, 1.2.3.4, 172.16.0.1")) == "1.2.3.4"
    assert _gateway(1).client_ip(_scope("6.6.6.6, 1.2.3.4")) == "1.2.3.4"
    assert _gateway(3).client_ip(_scope("1.2.3.4")) == "1.2.3.4"  # fewer hops than configured
    assert _gateway(1).client_ip(_scope()) == "10.0.0.9"


def test_limiter_identity_prefers_subject_then_key_then_address():
    gw = _gateway(0)
    spec = RateLimitSpec(policy="p", quota=1, window_s=1)
    assert gw.limiter_identity(spec, Identity("token", subject="u1"), _scope()) == "sub:u1"
    assert gw.limiter_identity(spec, Identity("api_key", subject="u1", api_key_id="k1"), _scope()) == "key:k1"
    assert gw.limiter_identity(spec, ANONYMOUS, _scope()) == "ip:10.0.0.9"
    per_client = RateLimitSpec(policy="p", quota=1, window_s=1, key="client")
    assert gw.limiter_identity(per_client, Identity("token", subject="u1"), _scope()) == "ip:10.0.0.9"


def test_forwarded_headers_trust_only_configured_proxies():
    untrusted = dict(forwarded_headers(_scope("6.6.6.6"), trusted_proxies=0, request_id="rid-12345678", bearer=None))
    assert untrusted[b"x-forwarded-for"] == b"10.0.0.9"
    assert untrusted[b"x-forwarded-proto"] == b"http"
    assert untrusted[b"x-forwarded-host"] == b"api.example.com"
    trusted = dict(forwarded_headers(_scope("6.6.6.6"), trusted_proxies=1, request_id="rid-12345678", bearer="tok"))
    assert trusted[b"x-forwarded-for"] == b"6.6.6.6, 10.0.0.9"
    assert trusted[b"x-forwarded-proto"] == b"https"
    assert trusted[b"authorization"] == b"Bearer tok"
    assert trusted[b"x-request-id"] == b"rid-12345678"
    assert b"host" not in trusted


def test_only_the_gateway_vouches_for_the_forwarded_address():
    scope = _scope("6.6.6.6")
    scope["headers"].append((b"x-ampflux-forwarded-secret", b"guessed"))
    without = dict(forwarded_headers(scope, trusted_proxies=0, request_id="rid-12345678", bearer=None))
    assert b"x-ampflux-forwarded-secret" not in without  # a client's own copy never passes
    vouched = dict(
        forwarded_headers(scope, trusted_proxies=0, request_id="rid-12345678", bearer=None, forwarded_secret=b"s3cret")
    )
    assert vouched[b"x-ampflux-forwarded-secret"] == b"s3cret"
    assert (
        Gateway(
            Settings(routes=ROUTES, forwarded_secret="s3cret"),
            load_route_table(Settings(routes=ROUTES)),
            ServiceMetrics(),
        ).forwarded_secret
        == b"s3cret"
    )
