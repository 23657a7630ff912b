"""Refuse company provider URLs that point inside the platform's network (SSRF)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


def address_problem(url: str) -> str | None:
    """Why `url` may not be used as a company's provider, or None when it may."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL with a host"
    host = parts.hostname
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80))
    except (OSError, UnicodeError):
        return f"host {host!r} does not resolve"
    for info in infos:
        ip = ipaddress.ip_address(info[4][0])
        if ip.is_loopback or ip.is_link_local or ip.is_private or ip.is_unspecified or ip.is_reserved:
            return f"host {host!r} is a loopback, link-local or private address ({ip})"
    return None
