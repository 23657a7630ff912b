"""Real processes for the gateway tests: test upstreams and gateways run with uvicorn.

Nothing is mocked: the gateway is started as `python -m ampflux_gateway` with its route
table in the environment, in front of `upstream_app.py` instances, and tests talk HTTP.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ampflux_testing.processes import ServiceProcess, free_port, stop_together
from ampflux_testing.tokens import TestSigner

HERE = Path(__file__).parent
GOOD_API_KEY = "ak_test_" + uuid.uuid4().hex
KID = "test-key"
# Variables a developer's shell may hold that must not leak into the processes under test.
_SCRUB = ("REDIS_URL", "GATEWAY_")


Proc = ServiceProcess


class Processes:
    """Starts processes and stops every one of them at the end of the session."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.started: list[Proc] = []

    def spawn(
        self, name: str, module: str, args: list[str], port: int, env: dict[str, str], *, wait: bool = True
    ) -> Proc:
        proc = Proc(
            name, module, port, env, self.workdir / f"{name}-{port}.log", args=args, cwd=self.workdir, scrub=_SCRUB
        )
        self.started.append(proc.spawn())
        if wait:
            proc.wait_ready()
        return proc

    @staticmethod
    def wait(*started: Proc) -> None:
        """Until each process started with `wait=False` answers /health."""
        for p in started:
            p.wait_ready()

    def upstream(self, name: str, keys: Keys, *, keep_alive_s: float | None = None, wait: bool = True) -> Proc:
        """`upstream_app.py` under uvicorn; `keep_alive_s` how long it keeps an idle connection
        (uvicorn's default 5 s; its command line takes whole seconds, so this runs it as
        `python -m upstream_app`, which takes fractions)."""
        port = free_port()
        env = {
            "INSTANCE": name,
            "JWKS_FILE": str(keys.jwks_file),
            "SIGNING_KEY_FILE": str(keys.pem_file),
            "GOOD_API_KEY": GOOD_API_KEY,
        }
        if keep_alive_s is not None:
            env["PYTHONPATH"] = str(HERE)
            args = [str(port), str(keep_alive_s)]
            return self.spawn(f"upstream-{name}", "upstream_app", args, port, env, wait=wait)
        args = [
            "upstream_app:app",
            "--app-dir",
            str(HERE),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ]
        return self.spawn(f"upstream-{name}", "uvicorn", args, port, env, wait=wait)

    def gateway(self, routes: list[dict[str, Any]], jwks_url: str, *, wait: bool = True, **settings: Any) -> Proc:
        """A gateway fetches its key set at start-up: `jwks_url` must already answer."""
        port = free_port()
        env = {
            "GATEWAY_PORT": str(port),
            "GATEWAY_HOST": "127.0.0.1",
            "GATEWAY_ROUTES": json.dumps(routes),
            "GATEWAY_JWKS_URL": jwks_url,
            "GATEWAY_LOG_LEVEL": "INFO",
            # Probing would race the tests that watch passive health marking.
            "GATEWAY_PROBE_INTERVAL_S": "60",
        }
        env.update({f"GATEWAY_{k.upper()}": str(v) for k, v in settings.items()})
        return self.spawn("gateway", "ampflux_gateway", [], port, env, wait=wait)

    def stop_all(self) -> None:
        # All at once: they drain in parallel, so stopping takes the slowest drain, not the sum.
        stop_together(p.proc for p in self.started if p.proc is not None)


@dataclass
class Keys:
    signer: TestSigner
    private: Ed25519PrivateKey
    jwks: dict[str, Any]
    jwks_file: Path
    pem_file: Path
    public_pem: bytes


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("gateway-procs")


@pytest.fixture(scope="session")
def keys(workdir: Path) -> Keys:
    signer = TestSigner(kid=KID)
    private, public = signer.private_key, signer.private_key.public_key()
    jwks = signer.jwks()
    jwks_file = workdir / "jwks.json"
    jwks_file.write_text(json.dumps(jwks))
    pem_file = workdir / "signing.pem"
    pem_file.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public_pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return Keys(signer, private, jwks, jwks_file, pem_file, public_pem)


@pytest.fixture(scope="session")
def make_token(keys: Keys) -> Callable[..., str]:
    def make(*, key: Any = None, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
        claims = keys.signer.claims(uuid.uuid4(), uuid.uuid4(), ["engineer"], **overrides)
        return keys.signer.encode(claims, key=key, headers=headers)

    return make


@pytest.fixture(scope="session")
def procs(workdir: Path) -> Iterator[Processes]:
    p = Processes(workdir)
    yield p
    p.stop_all()


@pytest.fixture(scope="session")
def jwks_url(keys: Keys) -> Iterator[str]:
    """The key set served from a thread of the test process, for the gateways to fetch at start.

    A gateway fetches its keys as it starts, so it could not start before an upstream serving
    them answered; from here, the session's gateway starts together with its upstreams (each
    start is mostly the interpreter importing: the wall time is the slowest, not the sum).
    The gateway still routes `/.well-known/jwks.json` to an upstream, as it would to auth."""
    body = json.dumps(keys.jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path == "/.well-known/jwks.json"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body) if found else 0))
            self.end_headers()
            if found:
                self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, name="jwks", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()


@dataclass
class SessionStack:
    upstreams: list[Proc]
    gateway: Proc


@pytest.fixture(scope="session")
def session_stack(procs: Processes, keys: Keys, jwks_url: str) -> SessionStack:
    """Upstreams a and b and the gateway in front of them, all started at once."""
    ups = [procs.upstream(name, keys, wait=False) for name in ("a", "b")]
    urls = [u.url for u in ups]
    gw = procs.gateway(
        standard_routes(urls, policy_suffix="-" + uuid.uuid4().hex[:8]),
        jwks_url=jwks_url,
        max_body_bytes=16 * 1024 * 1024,
        cors_origins="https://app.example.com",
        wait=False,
    )
    procs.wait(*ups, gw)
    return SessionStack(ups, gw)


@pytest.fixture(scope="session")
def upstreams(session_stack: SessionStack) -> list[Proc]:
    return session_stack.upstreams


def standard_routes(up: list[str], *, policy_suffix: str = "") -> list[dict[str, Any]]:
    """The route table most tests run behind: the test upstreams playing every role."""
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    return [
        {
            "prefix": "/auth",
            "service": "auth",
            "upstreams": [up[0]],
            "public_paths": ["/auth/login"],
            "internal_paths": ["/auth/api-keys/exchange"],
        },
        {"prefix": "/.well-known/jwks.json", "service": "auth", "upstreams": [up[0]], "public": True},
        {"prefix": "/echo", "service": "echo", "upstreams": up},
        {"prefix": "/upload", "service": "echo", "upstreams": up},
        {"prefix": "/download", "service": "echo", "upstreams": up},
        {"prefix": "/sse", "service": "echo", "upstreams": up},
        {"prefix": "/ws", "service": "echo", "upstreams": up},
        {"prefix": "/_uploads", "service": "echo", "upstreams": up, "public": True},
        {"prefix": "/open", "service": "echo", "upstreams": up, "public": True},
        {"prefix": "/open/big", "service": "echo", "upstreams": up, "public": True, "max_body_bytes": 32 * 1024 * 1024},
        {"prefix": "/mixed", "service": "echo", "upstreams": up, "public_paths": ["/mixed/public"]},
        # Short: the timeout is what the test waits for (the upstream takes 3 s either way).
        {"prefix": "/slow", "service": "echo", "upstreams": up, "timeout_s": 0.3},
        {
            "prefix": "/limited",
            "service": "echo",
            "upstreams": up,
            "rate_limit": {"policy": f"test-limited{policy_suffix}", "quota": 5, "window_s": 60},
        },
        {
            "prefix": "/login-like",
            "service": "echo",
            "upstreams": up,
            "public": True,
            "rate_limit": {"policy": f"test-login{policy_suffix}", "quota": 3, "window_s": 60, "key": "client"},
        },
        {"prefix": "/down", "service": "down", "upstreams": [closed]},
    ]


@pytest.fixture(scope="session")
def gateway(session_stack: SessionStack) -> Proc:
    return session_stack.gateway


@pytest.fixture
async def client(gateway: Proc) -> httpx.AsyncClient:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as c:
        yield c


async def upstream_hits(upstreams: list[Proc]) -> int:
    """Requests the upstreams served (health probes, JWKS and stats not counted)."""
    total = 0
    async with httpx.AsyncClient(timeout=5) as c:
        for u in upstreams:
            total += (await c.get(u.url + "/_stats")).json().get("__total__", 0)
    return total


@pytest.fixture
def hits(upstreams: list[Proc]) -> Callable[[], Any]:
    return lambda: upstream_hits(upstreams)


@pytest.fixture(scope="session")
def routes_for() -> Callable[..., list[dict[str, Any]]]:
    """`standard_routes` for tests that start a gateway of their own."""
    return standard_routes


@pytest.fixture(scope="session")
def good_api_key() -> str:
    return GOOD_API_KEY


@pytest.fixture(scope="session")
def kid() -> str:
    return KID
