"""The route table: which upstream serves a path, who may call it, and how often.

Paths match by whole segments: `/auth/login` matches `/auth/login` and `/auth/login/x` but
never `/auth/loginx`, so a prefix cannot accidentally open a neighbouring resource.
A `*` segment matches any one segment, so `/circuits/*/simulate` sends that one action to
another service than the rest of `/circuits` without a second hop through the first.
The most specific prefix wins: more segments first, then more literal segments.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def path_matches(pattern: str, path: str) -> bool:
    """True when `path` is `pattern` or lies under it (segment-wise; `*` is any one segment)."""
    if "*" in pattern:
        return _wildcard_matches(pattern, path)
    if pattern == "/" or path == pattern:
        return True
    if pattern.endswith("/"):
        return path.startswith(pattern)
    return path.startswith(pattern) and path[len(pattern)] == "/"


def _wildcard_matches(pattern: str, path: str) -> bool:
    wanted = pattern.strip("/").split("/")
    segments = path.strip("/").split("/")
    if len(segments) < len(wanted):
        return False
    return all((w == "*" and s != "") or w == s for w, s in zip(wanted, segments, strict=False))


def specificity(pattern: str) -> tuple[int, int, int]:
    """Sort key, most specific first when reversed: segments, literal segments, length."""
    segments = [s for s in pattern.strip("/").split("/") if s]
    return len(segments), sum(s != "*" for s in segments), len(pattern)


def has_dot_segments(path: str) -> bool:
    """`.` / `..` segments could make a public prefix reach a protected one upstream."""
    return any(segment in (".", "..") for segment in path.split("/"))


def _normalize_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must start with '/'")
    return value.rstrip("/") or "/"


class RateLimitSpec(BaseModel):
    """A token bucket: `quota` requests per `window_s`, refilled continuously."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    quota: int = Field(gt=0)
    window_s: int = Field(gt=0)
    # "identity": token subject, else API-key id, else client address.
    # "client": always the client address (login/register, where there is no identity yet).
    key: Literal["identity", "client"] = "identity"

    @property
    def refill_per_s(self) -> float:
        return self.quota / self.window_s

    @property
    def header_value(self) -> str:
        return f'"{self.policy}";q={self.quota};w={self.window_s}'


class RouteEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    prefix: str
    upstreams: list[str] = Field(min_length=1)
    service: str = ""
    public: bool = False
    public_paths: tuple[str, ...] = ()
    # Reachable only inside the platform (service to service); the gateway answers 404.
    internal_paths: tuple[str, ...] = ()
    timeout_s: float = Field(default=30.0, gt=0)
    rate_limit: RateLimitSpec | None = None
    # Request bodies on this route may be this large (default: GATEWAY_MAX_BODY_BYTES): file
    # uploads, which the service streams to storage under limits of its own.
    max_body_bytes: int | None = Field(default=None, gt=0)

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        v = _normalize_path(v)
        if any("*" in s and s != "*" for s in v.split("/")):
            raise ValueError("'*' must be a whole segment")
        if v.split("/")[1] == "*":
            raise ValueError("the first segment must be literal (it names the service's resource)")
        return v

    @field_validator("public_paths", "internal_paths")
    @classmethod
    def _paths(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_normalize_path(p) for p in v)

    @field_validator("upstreams")
    @classmethod
    def _upstreams(cls, v: list[str]) -> list[str]:
        out = []
        for url in v:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"upstream {url!r} must be an http(s) base URL")
            out.append(url.rstrip("/"))
        return out

    @model_validator(mode="after")
    def _default_service(self) -> RouteEntry:
        if not self.service:
            name = self.prefix.strip("/").split("/")[0].lstrip(".") or "root"
            object.__setattr__(self, "service", name)
        return self

    def is_public(self, path: str) -> bool:
        return self.public or any(path_matches(p, path) for p in self.public_paths)

    def is_internal(self, path: str) -> bool:
        return any(path_matches(p, path) for p in self.internal_paths)


class RouteTable:
    def __init__(self, entries: Iterable[RouteEntry]) -> None:
        # Most specific prefix first, so the first match is the one that wins.
        self.entries: list[RouteEntry] = sorted(entries, key=lambda e: specificity(e.prefix), reverse=True)
        prefixes = [e.prefix for e in self.entries]
        if len(set(prefixes)) != len(prefixes):
            raise ValueError("route table has duplicate prefixes")
        self.services: dict[str, list[str]] = {}
        for entry in self.entries:
            known = self.services.setdefault(entry.service, entry.upstreams)
            if known != entry.upstreams:
                raise ValueError(f"service {entry.service!r} is given different upstream lists")

    def match(self, path: str) -> RouteEntry | None:
        for entry in self.entries:
            if path_matches(entry.prefix, path):
                return entry
        return None


AUTH = "http://127.0.0.1:8001"
PROJECT = "http://127.0.0.1:8002"
SIMULATION = "http://127.0.0.1:8003"
TRAVELER = "http://127.0.0.1:8004"
AI = "http://127.0.0.1:8005"

# A request of several files, each up to the AI service's 256 MiB default.
AI_FILES_MAX_BODY = 1024 * 1024 * 1024

# Per identity: generous for people and scripts, a ceiling for runaway loops.
_DEFAULT_LIMIT = {"policy": "api", "quota": 600, "window_s": 60}

DEFAULT_ROUTES: list[dict] = [
    {
        "prefix": "/auth/login",
        "service": "auth",
        "upstreams": [AUTH],
        "public": True,
        "rate_limit": {"policy": "auth-login", "quota": 10, "window_s": 60, "key": "client"},
    },
    {
        "prefix": "/auth/register",
        "service": "auth",
        "upstreams": [AUTH],
        "public": True,
        "rate_limit": {"policy": "auth-register", "quota": 5, "window_s": 600, "key": "client"},
    },
    {
        "prefix": "/auth",
        "service": "auth",
        "upstreams": [AUTH],
        # The refresh token in the body is the credential (logout works after the access token expired).
        "public_paths": ["/auth/refresh", "/auth/logout"],
        "internal_paths": ["/auth/api-keys/exchange"],
        "rate_limit": _DEFAULT_LIMIT,
    },
    {"prefix": "/.well-known/jwks.json", "service": "auth", "upstreams": [AUTH], "public": True},
    {"prefix": "/projects", "service": "project", "upstreams": [PROJECT], "rate_limit": _DEFAULT_LIMIT},
    {"prefix": "/circuits", "service": "project", "upstreams": [PROJECT], "rate_limit": _DEFAULT_LIMIT},
    # Studying a saved version is the solver tier's action: one hop, its headers intact.
    {
        "prefix": "/circuits/*/simulate",
        "service": "simulation",
        "upstreams": [SIMULATION],
        "timeout_s": 60,
        "rate_limit": _DEFAULT_LIMIT,
    },
    {
        "prefix": "/simulations",
        "service": "simulation",
        "upstreams": [SIMULATION],
        "timeout_s": 60,
        "rate_limit": _DEFAULT_LIMIT,
    },
    {"prefix": "/travelers", "service": "traveler", "upstreams": [TRAVELER], "rate_limit": _DEFAULT_LIMIT},
    {"prefix": "/purchase-orders", "service": "traveler", "upstreams": [TRAVELER], "rate_limit": _DEFAULT_LIMIT},
    {"prefix": "/reports", "service": "traveler", "upstreams": [TRAVELER], "rate_limit": _DEFAULT_LIMIT},
    # Replies stream for as long as the model writes: the read timeout is between chunks.
    {"prefix": "/ai", "service": "ai", "upstreams": [AI], "timeout_s": 300, "rate_limit": _DEFAULT_LIMIT},
    # Uploads stream to the AI service's file store, which has its own per-file and per-company limits.
    {
        "prefix": "/ai/files",
        "service": "ai",
        "upstreams": [AI],
        "timeout_s": 300,
        "rate_limit": _DEFAULT_LIMIT,
        "max_body_bytes": AI_FILES_MAX_BODY,
    },
]
