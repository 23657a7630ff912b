"""One Starlette route per route-table entry: authenticate, rate-limit, then proxy.

These are plain ASGI routes rather than FastAPI endpoints: the gateway only inspects a few
headers and hands the stream on, so dependency injection and body parsing would be pure
overhead. The metrics middleware still sees the entry's prefix as the route template.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from ampflux_shared.errors import ProblemError, bad_request, not_found, problem_response, too_many_requests

from .authn import Identity, api_key_in_bearer, parse_bearer
from .proxy import forwarded_headers
from .ratelimit.policy import Decision
from .routes import RouteEntry, has_dot_segments, path_matches
from .websocket import forward_websocket, refuse

if TYPE_CHECKING:
    from .gateway import Gateway


class GatewayRoute(BaseRoute):
    def __init__(self, entry: RouteEntry, gateway: Gateway) -> None:
        self.entry = entry
        self.gateway = gateway
        # Read by the metrics middleware as `http_route`.
        self.path = entry.prefix
        self.path_format = entry.prefix
        self.name = f"proxy:{entry.prefix}"

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] in ("http", "websocket") and path_matches(self.entry.prefix, scope["path"]):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any):  # pragma: no cover - never reversed
        from starlette.routing import NoMatchFound

        raise NoMatchFound(name, path_params)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        rl_headers: list[tuple[bytes, bytes]] = []
        try:
            rl_headers, identity = await self._admit(scope)
            await self._forward(scope, receive, send, identity, rl_headers)
        except ProblemError as problem:
            await self._answer(scope, receive, send, problem, rl_headers)

    async def _admit(self, scope: Scope) -> tuple[list[tuple[bytes, bytes]], Identity]:
        """Authenticate and rate-limit; raises a problem when the request may not go on."""
        gw, entry, path = self.gateway, self.entry, scope["path"]
        if has_dot_segments(path):
            raise bad_request("dot segments are not allowed in the path", slug="bad-path")
        if entry.is_internal(path):
            raise not_found("", detail="not found")
        authorization = api_key = None
        for k, v in scope["headers"]:
            if k == b"authorization":
                authorization = v.decode("latin-1")
            elif k == b"x-api-key":
                api_key = v.decode("latin-1")
        bearer = parse_bearer(authorization)
        if api_key is None and api_key_in_bearer(bearer, path):
            bearer, api_key = None, bearer
        if bearer is None and scope["type"] == "websocket":
            bearer = _query_token(scope)  # browsers cannot set headers on a WebSocket
        request_id = scope.get("state", {}).get("request_id")
        public = entry.is_public(path)
        try:
            identity = await gw.authn.authenticate(bearer, api_key, public=public, request_id=request_id)
        except ProblemError as refusal:
            # Failed credentials still spend the client address's budget: no free guessing.
            if entry.rate_limit is None or refusal.status != 401:
                raise
            decision = await gw.limiter.check(entry.rate_limit, "ip:" + gw.client_ip(scope))
            refusal.headers = {**(refusal.headers or {}), **_as_dict(decision.headers())}
            if not decision.allowed:
                raise _too_many(decision) from None
            raise
        if entry.rate_limit is None:
            return [], identity
        decision = await gw.limiter.check(entry.rate_limit, gw.limiter_identity(entry.rate_limit, identity, scope))
        if not decision.allowed:
            raise _too_many(decision)
        return decision.headers(), identity

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, identity: Identity, rl_headers: list[tuple[bytes, bytes]]
    ) -> None:
        gw, entry = self.gateway, self.entry
        pool = gw.registry.pool(entry.service)
        assert pool is not None
        headers = forwarded_headers(
            scope,
            trusted_proxies=gw.settings.trusted_proxies,
            forwarded_secret=gw.forwarded_secret,
            request_id=scope.get("state", {}).get("request_id") or "",
            bearer=identity.minted_token,
        )
        if scope["type"] == "websocket":
            await forward_websocket(scope, receive, send, entry=entry, pool=pool, headers=headers)
        else:
            await gw.proxy.forward(
                scope, receive, send, entry=entry, pool=pool, headers=headers, extra_response_headers=rl_headers
            )

    async def _answer(
        self, scope: Scope, receive: Receive, send: Send, problem: ProblemError, rl_headers: list[tuple[bytes, bytes]]
    ) -> None:
        if scope["type"] == "websocket":
            await receive()  # the websocket.connect message
            await refuse(scope, send, problem)
            return
        headers = {**_as_dict(rl_headers), **(problem.headers or {})}
        response = problem_response(
            problem.status,
            slug=problem.slug,
            title=problem.title,
            detail=problem.detail,
            headers=headers or None,
            **problem.extra,
        )
        await response(scope, receive, send)


def _too_many(decision: Decision) -> ProblemError:
    headers = {k: v for k, v in _as_dict(decision.headers()).items() if k != "retry-after"}
    return too_many_requests(
        "rate limit exceeded; retry after the number of seconds in Retry-After",
        retry_after_s=decision.retry_after_s,
        slug="rate-limited",
        headers=headers,
    )


def _as_dict(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {k.decode(): v.decode() for k, v in headers}


def _query_token(scope: Scope) -> str | None:
    from urllib.parse import parse_qs

    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("access_token")
    return values[0] if values else None
