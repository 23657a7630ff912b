"""The route table: segment-wise prefixes, longest match, public and internal paths, config."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from ampflux_gateway.config import Settings, load_route_table
from ampflux_gateway.routes import DEFAULT_ROUTES, RouteEntry, RouteTable, has_dot_segments, path_matches


def test_prefixes_match_whole_segments():
    assert path_matches("/auth", "/auth")
    assert path_matches("/auth", "/auth/login")
    assert not path_matches("/auth", "/authors")
    assert path_matches("/", "/anything")


def test_longest_prefix_wins():
    table = RouteTable(
        [
            RouteEntry(prefix="/auth", upstreams=["http://a:1"]),
            RouteEntry(prefix="/auth/login", upstreams=["http://a:1"], public=True, service="auth"),
        ]
    )
    assert table.match("/auth/login").prefix == "/auth/login"
    assert table.match("/auth/me").prefix == "/auth"
    assert table.match("/elsewhere") is None


def test_public_and_internal_paths():
    entry = RouteEntry(
        prefix="/auth/",
        upstreams=["http://a:1/"],
        public_paths=["/auth/refresh"],
        internal_paths=["/auth/api-keys/exchange"],
    )
    assert entry.prefix == "/auth" and entry.upstreams == ["http://a:1"] and entry.service == "auth"
    assert entry.is_public("/auth/refresh") and not entry.is_public("/auth/refreshx")
    assert not entry.is_public("/auth/me")
    assert entry.is_internal("/auth/api-keys/exchange")


def test_dot_segments_are_detected():
    assert has_dot_segments("/open/../echo") and has_dot_segments("/a/./b")
    assert not has_dot_segments("/a/..b/c")


def test_bad_entries_are_refused():
    with pytest.raises(ValidationError):
        RouteEntry(prefix="auth", upstreams=["http://a:1"])
    with pytest.raises(ValidationError):
        RouteEntry(prefix="/auth", upstreams=["ftp://a"])
    with pytest.raises(ValidationError):
        RouteEntry(prefix="/auth", upstreams=["http://a:1"], rate_limit={"policy": "p", "quota": 0, "window_s": 1})
    with pytest.raises(ValueError):
        RouteTable(
            [
                RouteEntry(prefix="/a", upstreams=["http://x:1"], service="s"),
                RouteEntry(prefix="/b", upstreams=["http://y:1"], service="s"),
            ]
        )


def test_route_table_from_env_file_or_default(tmp_path, monkeypatch):
    for name in ("GATEWAY_ROUTES", "GATEWAY_ROUTES_FILE"):
        monkeypatch.delenv(name, raising=False)
    default = load_route_table(Settings())
    assert default.match("/auth/login").rate_limit.key == "client"
    assert default.match("/auth/api-keys/exchange").is_internal("/auth/api-keys/exchange")
    assert default.match("/circuits/1").service == "project"
    assert default.match("/simulations").upstreams == ["http://127.0.0.1:8003"]
    for path in ("/travelers/scan", "/purchase-orders", "/reports/dashboard-stats"):
        assert default.match(path).service == "traveler", path
        assert default.match(path).upstreams == ["http://127.0.0.1:8004"], path
    for path in ("/ai/conversations", "/ai/v1/chat/completions", "/ai/ws"):
        assert default.match(path).service == "ai", path
        assert default.match(path).upstreams == ["http://127.0.0.1:8005"], path
    assert default.match("/.well-known/jwks.json").public

    routes = [{"prefix": "/x", "upstreams": ["http://h:9"], "public": True}]
    path = tmp_path / "routes.json"
    path.write_text(json.dumps(routes))
    monkeypatch.setenv("GATEWAY_ROUTES_FILE", str(path))
    assert [e.prefix for e in load_route_table(Settings()).entries] == ["/x"]
    monkeypatch.setenv("GATEWAY_ROUTES", json.dumps([{"prefix": "/y", "upstreams": ["http://h:9"]}]))
    assert [e.prefix for e in load_route_table(Settings()).entries] == ["/y"]


def test_cors_origins_accept_a_comma_list(monkeypatch):
    monkeypatch.setenv("GATEWAY_CORS_ORIGINS", "https://a.example, https://b.example")
    assert Settings().cors_origins == ["https://a.example", "https://b.example"]


def test_the_default_table_lets_logout_and_refresh_through_with_only_a_refresh_token():
    table = RouteTable(RouteEntry.model_validate(e) for e in DEFAULT_ROUTES)
    for path in ("/auth/logout", "/auth/refresh", "/auth/login", "/auth/register", "/.well-known/jwks.json"):
        entry = table.match(path)
        assert entry is not None and entry.is_public(path), path
    protected = ("/auth/me", "/auth/users", "/auth/api-keys", "/projects", "/simulations")
    protected += ("/travelers", "/reports", "/ai")
    for path in protected:
        entry = table.match(path)
        assert entry is not None and not entry.is_public(path), path
    assert table.match("/auth/api-keys/exchange").is_internal("/auth/api-keys/exchange")


def test_an_exchanged_api_key_is_checked_again_within_two_seconds_by_default():
    assert Settings(_env_file=None).api_key_cache_ttl_s <= 2.0


def test_a_wildcard_segment_sends_one_action_to_another_service():
    table = RouteTable(
        [
            RouteEntry(prefix="/circuits", service="project", upstreams=["http://p"]),
            RouteEntry(prefix="/circuits/*/simulate", service="simulation", upstreams=["http://s"]),
        ]
    )
    assert table.match("/circuits/123/simulate").service == "simulation"
    assert table.match("/circuits/123/simulate/x").service == "simulation"
    assert table.match("/circuits/123/simulatex").service == "project"
    assert table.match("/circuits/123").service == "project"
    assert table.match("/circuits//simulate").service == "project"  # `*` is one whole, non-empty segment
    for bad in ("/circuits/a*/simulate", "/*/simulate"):
        with pytest.raises(ValueError):
            RouteEntry(prefix=bad, upstreams=["http://p"])


def test_the_default_body_limit_is_the_services_own(monkeypatch):
    # A body under the gateway's limit but over a service's went up to the service, which
    # refused it unread and closed: its 413 was lost to the reset and the client got a 502.
    from ampflux_shared.circuit.limits import MAX_DOCUMENT_BYTES
    from ampflux_shared.settings import ServiceSettings

    monkeypatch.delenv("GATEWAY_MAX_BODY_BYTES", raising=False)
    assert Settings().max_body_bytes == MAX_DOCUMENT_BYTES == ServiceSettings.model_fields["max_document_bytes"].default
