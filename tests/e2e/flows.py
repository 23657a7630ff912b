"""What a user does, as small steps e2e tests compose (through the gateway)."""

from __future__ import annotations

import uuid

import httpx

from ampflux_testing.sse import parse_sse

PASSWORD = "correct horse battery staple"


def new_user(company: str | None = None) -> dict:
    tag = uuid.uuid4().hex[:8]
    return {
        "name": f"Ada {tag}",
        "email": f"ada.{tag}@example.com",
        "password": PASSWORD,
        "company_name": company or f"Volta {tag}",
    }


def bearer(tokens: dict) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def login(gw: httpx.Client, email: str, password: str = PASSWORD) -> dict:
    r = gw.post("/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return r.json()


def register_and_login(gw: httpx.Client, user: dict | None = None) -> tuple[dict, dict]:
    user = user or new_user()
    r = gw.post("/auth/register", json=user)
    assert r.status_code == 201, r.text
    return user, login(gw, user["email"], user["password"])


def add_colleague(gw: httpx.Client, admin_tokens: dict, role: str) -> tuple[dict, dict]:
    """The company admin creates a user with one company role; returns (user, tokens)."""
    tag = uuid.uuid4().hex[:8]
    body = {"name": f"{role} {tag}", "email": f"{role}.{tag}@example.com", "password": PASSWORD, "roles": [role]}
    r = gw.post("/auth/users", json=body, headers=bearer(admin_tokens))
    assert r.status_code == 201, r.text
    return r.json(), login(gw, body["email"])


def all_items(gw: httpx.Client, path: str, headers: dict, **params: object) -> list[dict]:
    """Every item of a paged list, page by page at the platform's largest page size."""
    items: list[dict] = []
    page = 1
    while True:
        r = gw.get(path, params={**params, "page": page, "page_size": 100}, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        if not body["items"] or len(items) >= body["total"]:
            return items
        page += 1


def sse_events(text: str) -> list[dict]:
    """The named events of a Server-Sent Events body: `{event, id?, data}`."""
    return parse_sse(text, named_only=True)
