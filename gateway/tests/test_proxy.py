"""Proxying through a real gateway process to real upstream processes."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import select
import socket
import time
import uuid
from pathlib import Path

import httpx
import websockets

PROBLEM = "application/problem+json"


async def test_request_is_proxied_with_request_id_and_forwarded_headers(client, make_token):
    token = make_token()
    resp = await client.get(
        "/echo/items?x=1",
        headers={
            "Authorization": f"Bearer {token}",
            "X-Request-ID": "req-test-0001",
            "X-Forwarded-For": "6.6.6.6",
            "Connection": "keep-alive, X-Secret",
            "X-Secret": "hop-only",
        },
    )
    assert resp.status_code == 200
    seen = resp.json()
    assert seen["path"] == "/echo/items" and seen["query"] == "x=1"
    assert resp.headers["x-request-id"] == "req-test-0001"
    assert seen["headers"]["x-request-id"] == "req-test-0001"
    assert seen["headers"]["authorization"] == f"Bearer {token}"
    # No trusted proxies configured: the client's own X-Forwarded-For is not believed.
    assert seen["headers"]["x-forwarded-for"] == "127.0.0.1"
    assert seen["headers"]["x-forwarded-proto"] == "http"
    assert seen["headers"]["x-forwarded-host"].startswith("127.0.0.1:")
    assert "x-secret" not in seen["headers"]  # named in Connection: hop-by-hop
    assert resp.headers["x-upstream"] in ("a", "b")
    assert "server" not in resp.headers


async def test_a_malformed_request_id_is_replaced(client, make_token):
    resp = await client.get("/echo/x", headers={"Authorization": f"Bearer {make_token()}", "X-Request-ID": "bad id!"})
    rid = resp.headers["x-request-id"]
    assert rid != "bad id!" and resp.json()["headers"]["x-request-id"] == rid


async def test_round_robin_spreads_requests_over_both_instances(client, make_token):
    auth = {"Authorization": f"Bearer {make_token()}"}
    seen = [(await client.get("/echo/rr", headers=auth)).json()["instance"] for _ in range(6)]
    assert seen.count("a") == 3 and seen.count("b") == 3
    assert all(seen[i] != seen[i + 1] for i in range(5))


async def test_failover_when_an_instance_dies(procs, upstreams, keys, make_token, routes_for, jwks_url):
    # The survivor is the session's upstream a, which already answers; only the one to kill is
    # started, together with the gateway.
    a, b = upstreams[0], procs.upstream("fb", keys, wait=False)
    gw = procs.gateway(routes_for([a.url, b.url]), jwks_url=jwks_url, wait=False)
    procs.wait(b, gw)
    auth = {"Authorization": f"Bearer {make_token()}"}
    async with httpx.AsyncClient(base_url=gw.url, timeout=10) as c:
        assert {(await c.get("/echo/x", headers=auth)).json()["instance"] for _ in range(4)} == {"a", "fb"}
        b.kill()
        results = [await c.get("/echo/x", headers=auth) for _ in range(6)]
        assert [r.status_code for r in results] == [200] * 6
        assert {r.json()["instance"] for r in results} == {"a"}
        ready = (await c.get("/ready")).json()
        assert ready["upstreams"]["echo"][b.url].startswith("unreachable")
        assert ready["status"] == "degraded"
        metrics = (await c.get("/metrics")).text
        b_addr = b.url.removeprefix("http://")
        assert f'ampflux_gateway_upstream_healthy{{server_address="{b_addr}",service="echo"}} 0.0' in metrics


async def test_keep_alive_connections_the_upstream_closed_are_not_a_failure(
    procs, keys, make_token, routes_for, jwks_url
):
    """The upstream drops idle connections after 0.2 s; the gateway keeps them for 4 s."""
    up = procs.upstream("ka", keys, keep_alive_s=0.2, wait=False)
    gw = procs.gateway(routes_for([up.url]), jwks_url=jwks_url, keepalive_expiry_s=4, wait=False)
    procs.wait(up, gw)
    auth = {"Authorization": f"Bearer {make_token()}"}
    async with httpx.AsyncClient(base_url=gw.url, timeout=10) as c:
        for method in ("GET", "POST", "GET"):
            assert (
                await c.request(method, "/echo/ka", headers=auth, content=b"x" if method == "POST" else None)
            ).status_code == 200
            await asyncio.sleep(0.5)  # past the upstream's keep-alive, within the gateway's
            assert (
                await c.request(method, "/echo/ka", headers=auth, content=b"x" if method == "POST" else None)
            ).status_code == 200


async def test_any_request_on_a_kept_alive_connection_closed_before_answering_is_sent_once_more(
    procs, upstreams, make_token, routes_for, unused_tcp_port
):
    """Issue 9 finding 11: the upstream closes a kept-alive connection as the gateway reuses it
    (it never reads the request). POST, PATCH and chunked bodies are sent again on a fresh
    connection and arrive once, whole; a body too large to keep is not sent again (502)."""
    port = unused_tcp_port
    here = str(Path(__file__).parent)
    up = procs.spawn("closing-upstream", "closing_upstream", [str(port)], port, {"PYTHONPATH": here}, wait=False)
    closing = {"prefix": "/closing", "service": "closing", "upstreams": [up.url]}
    gw = procs.gateway(
        [*routes_for([u.url for u in upstreams]), closing],
        jwks_url=upstreams[0].url + "/.well-known/jwks.json",
        wait=False,
    )
    procs.wait(up, gw)
    auth = {"Authorization": f"Bearer {make_token()}"}

    async def stats() -> dict[str, int]:
        async with httpx.AsyncClient(timeout=5) as fresh:  # a connection of its own: answered
            return (await fresh.get(up.url + "/_stats")).json()

    async def chunked(data: bytes):
        for i in range(0, len(data), 1000):
            yield data[i : i + 1000]

    small = b'{"name": "feeder"}' * 1000  # 18 kB: kept, so it can be replayed
    async with httpx.AsyncClient(base_url=gw.url, timeout=10) as c:
        for method, content in (("POST", small), ("PATCH", small), ("POST", chunked(small))):
            assert (await c.get("/closing/warm", headers=auth)).status_code == 200  # leaves one idle connection
            before = await stats()
            r = await c.request(method, "/closing/write", headers=auth, content=content)
            # The gateway's log on failure: a 500 here once under full-suite load, cause unknown.
            assert r.status_code == 200, (r.text, gw.log_tail())
            assert r.json() == {"method": method, "body_len": len(small), "sha256": hashlib.sha256(small).hexdigest()}
            after = await stats()
            # It met the closed connection first, then arrived once, whole.
            assert after["dropped unread"] == before.get("dropped unread", 0) + 1
            assert after[f"{method} /closing/write"] == before.get(f"{method} /closing/write", 0) + 1

        big = b"y" * (256 * 1024)  # over the replay limit: streamed unkept, so not sent again
        assert (await c.get("/closing/warm", headers=auth)).status_code == 200
        before = await stats()
        r = await c.post("/closing/write", headers=auth, content=big)
        assert r.status_code == 502 and r.headers["content-type"] == PROBLEM
        after = await stats()
        assert after["dropped unread"] == before["dropped unread"] + 1
        assert after["POST /closing/write"] == before["POST /closing/write"]


async def test_an_upstream_refusing_connections_is_502_each_time(procs, upstreams, make_token, routes_for):
    # A gateway of its own: `/ready` elsewhere would already have marked the instance down.
    urls = [u.url for u in upstreams]
    gw = procs.gateway(routes_for(urls), jwks_url=urls[0] + "/.well-known/jwks.json")
    auth = {"Authorization": f"Bearer {make_token()}"}
    client = httpx.AsyncClient(base_url=gw.url)
    first = await client.get("/down/x", headers=auth)
    assert first.status_code == 502
    assert first.headers["content-type"] == PROBLEM
    assert "down service" in first.json()["detail"] and "connection refused" in first.json()["detail"]
    # Marked down, and still tried when no other instance is left: the mark may be stale.
    second = await client.get("/down/x", headers=auth)
    assert second.status_code == 502 and second.headers["content-type"] == PROBLEM
    assert "connection refused" in second.json()["detail"]
    await client.aclose()


async def test_slow_upstream_is_504(client, make_token):
    resp = await client.get("/slow?s=3", headers={"Authorization": f"Bearer {make_token()}"})
    assert resp.status_code == 504 and resp.headers["content-type"] == PROBLEM
    assert resp.json()["detail"] == "the echo service did not answer within 0.3 s"


async def test_large_upload_streams_through(client, make_token, upstreams):
    """The upstream has bytes before the client finished sending: nothing buffers the body."""
    upload_id = uuid.uuid4().hex
    chunk = b"x" * (1024 * 1024)
    total = 12
    digest = hashlib.sha256(chunk * total).hexdigest()
    streamed_early = False

    async def body():
        nonlocal streamed_early
        yield chunk
        async with httpx.AsyncClient(timeout=5) as probe:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not streamed_early:
                for u in upstreams:
                    if (await probe.get(f"{u.url}/_uploads/{upload_id}")).json()["received"] > 0:
                        streamed_early = True
                await asyncio.sleep(0.02)
        for _ in range(total - 1):
            yield chunk

    resp = await client.post(
        f"/upload/{upload_id}", content=body(), headers={"Authorization": f"Bearer {make_token()}"}
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["received"] == total * len(chunk) and resp.json()["sha256"] == digest
    assert streamed_early, "the upstream saw nothing until the whole body was sent"


async def test_large_download_streams_back(client, make_token):
    size = 0
    async with client.stream("GET", "/download/big?mib=40", headers={"Authorization": f"Bearer {make_token()}"}) as r:
        assert r.status_code == 200
        async for part in r.aiter_raw():
            size += len(part)
    assert size == 40 * 1024 * 1024


async def test_sse_events_arrive_as_they_are_sent(client, make_token):
    # The upstream sends "first", then "second" `gap` s later. Passed through as sent, they
    # arrive about `gap` apart; a gateway that held the first back (buffering the stream) would
    # deliver the two together. The time between arrivals tells, whatever the request's latency.
    gap = 0.6
    started = time.monotonic()
    events: list[tuple[str, float]] = []
    async with client.stream("GET", f"/sse?gap={gap}", headers={"Authorization": f"Bearer {make_token()}"}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                events.append((line.split(":", 1)[1].strip(), time.monotonic() - started))
    assert [name for name, _ in events] == ["first", "second"]
    assert events[0][1] < 1.0, "first event was held back"
    assert events[1][1] >= 0.95 * gap
    # Held back 0.3 s at most (half the gap: the rest is room for a busy machine's scheduling).
    assert events[1][1] - events[0][1] >= gap / 2, "first event was held back until the second"


async def test_websocket_pass_through(gateway, make_token):
    token = make_token()
    url = gateway.url.replace("http", "ws") + "/ws/echo"
    async with websockets.connect(
        url,
        additional_headers={"Authorization": f"Bearer {token}", "X-Request-ID": "ws-request-0001"},
        subprotocols=["ampflux.v1"],
    ) as ws:
        assert ws.subprotocol == "ampflux.v1"
        hello = __import__("json").loads(await ws.recv())
        assert hello["authorization"] == f"Bearer {token}" and hello["request_id"] == "ws-request-0001"
        await ws.send("hello")
        assert await ws.recv() == "hello"
        await ws.send(b"\x00\x01binary")
        assert await ws.recv() == b"\x00\x01binary"
        await ws.send("close-please")
        with contextlib.suppress(websockets.ConnectionClosed):
            await ws.recv()
        assert ws.close_code == 4001


async def test_websocket_without_token_is_refused_before_upstream(gateway, hits):
    before = await hits()
    url = gateway.url.replace("http", "ws") + "/ws/echo"
    try:
        async with websockets.connect(url):
            raise AssertionError("handshake should have been refused")
    except websockets.InvalidStatus as exc:
        assert exc.response.status_code == 401
    assert await hits() == before


async def test_websocket_accepts_token_in_query(gateway, make_token):
    url = gateway.url.replace("http", "ws") + "/ws/echo?access_token=" + make_token()
    async with websockets.connect(url) as ws:
        await ws.recv()
        await ws.send("ping")
        assert await ws.recv() == "ping"


async def test_body_over_limit_with_content_length_is_413_unread(gateway, hits):
    before = await hits()
    host, port = gateway.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /open/upload HTTP/1.1\r\nHost: gw\r\nContent-Type: application/octet-stream\r\n"
        + f"Content-Length: {16 * 1024 * 1024 + 1}\r\n\r\n".encode()
    )
    await writer.drain()
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).decode()
    writer.close()
    assert head.startswith("HTTP/1.1 413")
    assert "content-type: application/problem+json" in head.lower()
    assert await hits() == before


async def test_chunked_body_over_limit_is_413(client):
    chunk = b"y" * (128 * 1024)

    async def body():
        for _ in range(16 * 8 + 1):  # one chunk past 16 MiB
            yield chunk

    resp = await client.post("/open/upload", content=body())
    assert resp.status_code == 413
    assert resp.headers["content-type"] == PROBLEM
    assert "16777216 bytes" in resp.json()["detail"]


async def test_a_route_with_a_larger_body_limit_takes_more_and_still_has_one(client):
    chunk = b"y" * (128 * 1024)

    def body(chunks: int):
        async def gen():
            for _ in range(chunks):
                yield chunk

        return gen()

    # Past the gateway's 16 MiB, within the route's 32 MiB: streamed through whole.
    resp = await client.post("/open/big/upload", content=body(16 * 8 + 1))
    assert resp.status_code == 200, resp.text
    assert resp.json()["body_len"] == (16 * 8 + 1) * len(chunk)
    resp = await client.post("/open/big/upload", content=body(32 * 8 + 1))
    assert resp.status_code == 413
    assert f"{32 * 1024 * 1024} bytes" in resp.json()["detail"]


def _post_until_answered(url: str, path: str, size: int, chunk: bytes) -> tuple[int, dict[str, str], bytes]:
    """POST `size` bytes, a chunk at a time, stopping once an answer arrives; then read it.

    As a careful client does (RFC 9112, 9.3): httpx writes the whole body before it reads, so
    when the gateway answers early and closes, its own read can meet the reset first. A plain
    blocking socket reads what arrived before a reset, which is what this test is about: the
    gateway's answer, not how one client library copes with an early one."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        head = f"POST {path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/octet-stream\r\n"
        sock.sendall(f"{head}Content-Length: {size}\r\n\r\n".encode())
        sent = 0
        while sent < size and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(chunk)
            except OSError:  # answered and closed: what it sent is still to be read
                break
            sent += len(chunk)
        data = b""
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            assert more, f"the connection ended without an answer: {data!r}"
            data += more
        raw_head, body = data.split(b"\r\n\r\n", 1)
        lines = raw_head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        while len(body) < int(headers["content-length"]):
            more = sock.recv(65536)
            assert more, "the connection ended mid-answer"
            body += more
    return int(lines[0].split()[1]), headers, body


async def test_an_upstream_refusing_a_body_unread_has_its_answer_relayed(gateway, hits):
    # Within the route's 32 MiB, so the gateway streams it on; the upstream answers 413 at once
    # and closes with the body unread. The kernel resets the connection over the unread data,
    # and the answer already sent must still reach the client (it used to come back as a 502).
    before = await hits()
    for _ in range(3):
        status, headers, body = await asyncio.to_thread(
            _post_until_answered, gateway.url, "/open/big/refuse", 24 * 1024 * 1024, b"z" * (256 * 1024)
        )
        assert status == 413, body
        assert headers["content-type"] == PROBLEM
        assert json.loads(body)["detail"] == "refused by the upstream"
    assert await hits() == before + 3  # once each: an answered request is not sent again


async def test_a_client_that_writes_its_whole_body_first_still_gets_the_early_answer(gateway):
    # httpx writes the whole body before it reads. The gateway keeps reading (and dropping) the
    # rest after it answered, so the 413 is there when the client reads. Its upstream write
    # after the reset used to meet a closed uvloop transport: a RuntimeError, answered 500 and
    # a reset (about one request in eight here, a ReadError in the client).
    chunk = b"z" * (256 * 1024)

    async def body():
        for _ in range(4 * 24):  # 24 MiB
            yield chunk

    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        statuses = [(await client.post("/open/big/refuse", content=body())).status_code for _ in range(40)]
    assert statuses == [413] * 40


async def test_dot_segments_cannot_reach_a_protected_route(client, hits):
    before = await hits()
    resp = await client.get("/open/%2e%2e/echo/x")
    assert resp.status_code == 400
    assert await hits() == before


async def test_unknown_path_is_404_problem(client):
    resp = await client.get("/nowhere")
    assert resp.status_code == 404 and resp.headers["content-type"] == PROBLEM


async def test_httpx_default_transport_still_works(procs, upstreams, make_token, routes_for):
    urls = [u.url for u in upstreams]
    gw = procs.gateway(routes_for(urls), jwks_url=urls[0] + "/.well-known/jwks.json", http_transport="httpx")
    auth = {"Authorization": f"Bearer {make_token()}"}
    async with httpx.AsyncClient(base_url=gw.url, timeout=10) as c:
        assert (await c.get("/echo/fallback", headers=auth)).status_code == 200
        up = await c.post(f"/upload/{uuid.uuid4().hex}", headers=auth, content=b"z" * 300_000)
        assert up.json()["received"] == 300_000
        assert (await c.get("/down/x", headers=auth)).status_code == 502
