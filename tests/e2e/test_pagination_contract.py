"""Every list of the platform answers the one page contract, through the real gateway:
`{items, total, page, page_size}`; `page_size` above the maximum and `page` below 1 or above
its bound are 422s naming the parameter and the bound, never a clamp and never a 500.

The routes come from the OpenAPI of every service behind the gateway, so a new list route
cannot escape this test, whatever its shape: every GET whose 200 JSON body holds an array (an
array-typed property or a bare array), or may (a free-form or undescribed body), is either a
page, listed in `ROUTES` and exercised below, or named in `NOT_PAGES` with the reason. Reading
one member of a paged collection (`/travelers/{traveler_id}` beside `/travelers/`) is not a
list: its arrays are its parts. A bare top-level array is never allowed.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from e2e.flows import add_colleague, bearer, register_and_login

from ampflux_shared.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE
from ampflux_testing.circuits import CASES_DIR
from ampflux_testing.polling import eventually_sync

pytestmark = pytest.mark.slow

SERVICES = {"auth", "project", "simulation", "traveler", "ai"}
PAGE_KEYS = {"items", "total", "page", "page_size"}
TERMINAL = {"succeeded", "failed", "cancelled"}

# GET routes whose body holds (or may hold) an array and that are rightly not pages. Keep it
# short: a real collection belongs on the contract instead.
NOT_PAGES: dict[str, str] = {
    "/auth/me": "the caller's own user; `roles` are its roles",
    "/.well-known/jwks.json": "a JWK Set (RFC 7517) as token verifiers read it",
    "/projects/{project_id}/circuits/{circuit_id}/diff": "one diff of two versions; `document` holds its changes",
    "/projects/{project_id}/circuits/{circuit_id}/export": "one circuit's document file",
    "/circuits/circuit-document.schema.json": "a JSON Schema document",
    "/simulations/circuit-document.schema.json": "a JSON Schema document",
    "/simulations/{run_id}/results/download": "one run's results as a file (JSON or CSV)",
    "/ai/usage": "an aggregate: token counts per user, model and day over a bounded range of days",
    "/ai/v1/models": "OpenAI list format (`{object: list, data}`), as the OpenAI SDKs read it",
    "/ai/pipeline-executions/{execution_id}": "one execution; `steps` are its steps",
    "/ai/conversations/{conversation_id}/messages/{message_id}/stream": "one reply's event stream",
    "/reports/dashboard-stats": "an aggregate report (JSON or CSV)",
    "/reports/traveler-completion": "an aggregate report (JSON or CSV)",
    "/reports/labor-efficiency": "an aggregate report (JSON or CSV)",
    "/reports/coating-status": "an aggregate report (JSON or CSV)",
    "/reports/first-pass-yield": "an aggregate report (JSON or CSV)",
}


def _services(gw: httpx.Client) -> set[str]:
    r = gw.get("/openapi")
    assert r.status_code == 200, r.text
    names = {s["name"] for s in r.json()["services"]}
    assert names >= SERVICES, names  # the listing itself cannot go quietly empty
    return names


def _arrays(schema: dict[str, Any], schemas: dict[str, Any]) -> str | None:
    """Why a 200 body may hold a collection, or None when it cannot."""

    def resolve(s: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in s:
            s = schemas[s["$ref"].rsplit("/", 1)[1]]
        return s

    def is_array(s: dict[str, Any]) -> bool:
        s = resolve(s)
        return s.get("type") == "array" or any(is_array(b) for k in ("anyOf", "oneOf", "allOf") for b in s.get(k, []))

    def properties(s: dict[str, Any]) -> dict[str, Any]:
        s = resolve(s)
        merged = dict(s.get("properties", {}))
        for branch in s.get("allOf", []):
            merged.update(properties(branch))
        return merged

    if is_array(schema):
        return "a bare array"
    held = sorted(name for name, prop in properties(schema).items() if is_array(prop))
    if held:
        return f"array properties {held}"
    body = resolve(schema)
    extra = body.get("additionalProperties")
    if isinstance(extra, dict) and extra and is_array(extra):
        return "a map of arrays"
    if not properties(body) and extra in (None, True, {}) and body.get("type") in (None, "object"):
        # `dict[str, Any]`, `Any` or no model at all: nothing says it is not a list.
        return "a free-form body" if body.get("type") == "object" else "an undescribed body"
    return None


def _list_like_get_routes(gw: httpx.Client) -> dict[str, tuple[str, str, bool]]:
    """{path template: (service, why it may hold a collection, whether its body is a page)} of
    every GET route behind the gateway whose 200 JSON body may hold a collection, less the
    members of paged collections."""
    found: dict[str, tuple[str, str, bool]] = {}
    for service in sorted(_services(gw)):
        spec = gw.get(f"/openapi/{service}.json").json()
        schemas = spec.get("components", {}).get("schemas", {})
        for path, operations in spec["paths"].items():
            op = operations.get("get")
            body = (op or {}).get("responses", {}).get("200", {}).get("content", {}).get("application/json")
            if body is None:
                continue  # no JSON answer (a file, a stream, an image, a PDF)
            schema = body.get("schema", {})
            why = _arrays(schema, schemas)
            if why is None:
                continue
            ref = schema.get("$ref")
            paged = bool(ref) and set(schemas[ref.rsplit("/", 1)[1]].get("properties", {})) >= PAGE_KEYS
            found[path] = (service, why, paged)
    paged_paths = {p.rstrip("/") for p, (_, _, paged) in found.items() if paged}
    members = {
        p
        for p, (_, why, paged) in found.items()
        if not paged and why != "a bare array" and p.endswith("}") and p.rsplit("/", 1)[0] in paged_paths
    }
    return {p: v for p, v in found.items() if p not in members}


def _ok(r: httpx.Response, status: int = 201) -> dict:
    assert r.status_code == status, f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}"
    return r.json()


def _wait_succeeded(gw: httpx.Client, h: dict, run_id: str, timeout_s: float = 90) -> None:
    seen: list[str] = []

    def terminal() -> str | None:
        seen.append(gw.get(f"/simulations/{run_id}", headers=h).json()["status"])
        return seen[-1] if seen[-1] in TERMINAL else None

    status = eventually_sync(
        terminal, timeout=timeout_s, interval=0.2, what=lambda: f"run {run_id} to finish (still {seen[-1]})"
    )
    assert status == "succeeded", status


@pytest.fixture(scope="module")
def lists(stack) -> tuple[dict[str, tuple[str, dict]], dict]:
    """A company with one of everything that is listed; returns {route template: (path, query)}
    and the admin's headers (who may read every one of them)."""
    with httpx.Client(base_url=stack["gateway"].url, timeout=30) as gw:
        _, tokens = register_and_login(gw)
        h = bearer(tokens)
        r = gw.post("/auth/api-keys", json={"name": "paging"}, headers=h)
        assert r.status_code == 201, r.text
        pid = gw.post("/projects/", json={"name": f"Paging {uuid.uuid4().hex[:6]}"}, headers=h).json()["id"]
        doc = json.loads((CASES_DIR / "edge_parallel_transformers.json").read_text())
        doc.pop("expected", None)
        r = gw.post(f"/projects/{pid}/circuits/", json={"name": "paged", "document": doc}, headers=h)
        assert r.status_code == 201, r.text
        cid = r.json()["id"]
        runs = []
        for _ in range(2):
            r = gw.post("/simulations", json={"project_id": pid, "circuit": {"circuit_id": cid}}, headers=h)
            assert r.status_code == 202, r.text
            runs.append(r.json()["id"])
        for run_id in runs:
            _wait_succeeded(gw, h, run_id)
        # The shop floor: a manager may enter, release, clock in and log coating.
        _, manager_tokens = add_colleague(gw, tokens, "manager")
        m = bearer(manager_tokens)
        po = _ok(
            gw.post(
                "/purchase-orders/",
                json={
                    "number": f"PO-{uuid.uuid4().hex[:6]}",
                    "customer": "Acme",
                    "lines": [{"part_number": "P-1", "quantity": 2}],
                },
                headers=m,
            )
        )
        trav = _ok(gw.post("/travelers/", json={"traveler_type": "PCB", "po_line_id": po["lines"][0]["id"]}, headers=m))
        tid, step = trav["id"], trav["steps"][0]["id"]
        _ok(gw.post(f"/travelers/{tid}/bom", json={"item": "MCU", "quantity_per_unit": 1}, headers=m))
        _ok(gw.post(f"/travelers/{tid}/serials", json={"serials": ["SN-1", "SN-2"]}, headers=m))
        _ok(gw.post(f"/travelers/{tid}/status", json={"status": "released"}, headers=m), 200)
        _ok(gw.post(f"/travelers/{tid}/steps/{step}/start", headers=m))
        _ok(gw.post(f"/travelers/{tid}/steps/{step}/clock-in", headers=m))
        coating = {
            "step_id": step,
            "coating_type": "acrylic",
            "material": "1B31",
            "lot": "L-1",
            "readings": [50.0],
            "spec_min": 25,
            "spec_max": 75,
            "cure_minutes": 30,
            "cure_temp_c": 65,
        }
        _ok(gw.post(f"/travelers/{tid}/coating", json=coating, headers=m))
        _ok(gw.post("/ai/conversations", json={}, headers=h))
        pipeline = {"name": "p", "steps": [{"name": "a", "kind": "prompt", "prompt": "hello"}]}
        pipeline_id = _ok(gw.post("/ai/pipelines", json=pipeline, headers=h))["id"]
        _ok(gw.post(f"/ai/pipelines/{pipeline_id}/execute", json={}, headers=h), 202)
        _ok(gw.post("/ai/files", files={"file": ("notes.txt", b"a note", "text/plain")}, headers=h))
    paths = {
        "/auth/users": ("/auth/users", {}),
        "/auth/api-keys": ("/auth/api-keys", {}),
        "/projects/": ("/projects/", {}),
        "/projects/{project_id}/members/": (f"/projects/{pid}/members/", {}),
        "/projects/{project_id}/circuits/": (f"/projects/{pid}/circuits/", {}),
        "/projects/{project_id}/circuits/{circuit_id}/versions": (f"/projects/{pid}/circuits/{cid}/versions", {}),
        "/projects/{project_id}/audit/": (f"/projects/{pid}/audit/", {}),
        "/simulations": ("/simulations", {"project_id": pid}),
        "/simulations/compare": ("/simulations/compare", {"a": runs[0], "b": runs[1]}),
        "/simulations/{run_id}/results": (f"/simulations/{runs[0]}/results", {}),
        "/purchase-orders/": ("/purchase-orders/", {}),
        "/travelers/": ("/travelers/", {}),
        "/travelers/types": ("/travelers/types", {}),
        "/travelers/labor/logs": ("/travelers/labor/logs", {}),
        "/travelers/{traveler_id}/executions": (f"/travelers/{tid}/executions", {}),
        "/travelers/{traveler_id}/coating": (f"/travelers/{tid}/coating", {}),
        "/travelers/{traveler_id}/history": (f"/travelers/{tid}/history", {}),
        "/travelers/{traveler_id}/bom": (f"/travelers/{tid}/bom", {}),
        "/travelers/{traveler_id}/serials": (f"/travelers/{tid}/serials", {}),
        "/ai/conversations": ("/ai/conversations", {}),
        "/ai/pipelines": ("/ai/pipelines", {}),
        "/ai/pipelines/{pipeline_id}/executions": (f"/ai/pipelines/{pipeline_id}/executions", {}),
        "/ai/files": ("/ai/files", {}),
        "/ai/models": ("/ai/models", {}),
    }
    return paths, h


ROUTES = [
    "/auth/users",
    "/auth/api-keys",
    "/projects/",
    "/projects/{project_id}/members/",
    "/projects/{project_id}/circuits/",
    "/projects/{project_id}/circuits/{circuit_id}/versions",
    "/projects/{project_id}/audit/",
    "/simulations",
    "/simulations/compare",
    "/simulations/{run_id}/results",
    "/purchase-orders/",
    "/travelers/",
    "/travelers/types",
    "/travelers/labor/logs",
    "/travelers/{traveler_id}/executions",
    "/travelers/{traveler_id}/coating",
    "/travelers/{traveler_id}/history",
    "/travelers/{traveler_id}/bom",
    "/travelers/{traveler_id}/serials",
    "/ai/conversations",
    "/ai/pipelines",
    "/ai/pipelines/{pipeline_id}/executions",
    "/ai/files",
    "/ai/models",
]


def test_every_list_route_is_covered(gw):
    routes = _list_like_get_routes(gw)
    bare = [f"{svc} GET {p}" for p, (svc, why, _) in sorted(routes.items()) if why == "a bare array"]
    assert not bare, f"a list answers a page, never a bare array: {bare}"
    stray = [
        f"{svc} GET {p} ({why}): a page, or in NOT_PAGES with the reason"
        for p, (svc, why, paged) in sorted(routes.items())
        if not paged and p not in NOT_PAGES
    ]
    assert not stray, stray
    # The exemptions stay true: each still exists and still is not a page.
    stale = sorted(set(NOT_PAGES) - {p for p, (_, _, paged) in routes.items() if not paged})
    assert not stale, f"NOT_PAGES names routes that are gone or are pages now: {stale}"
    assert {p for p, (_, _, paged) in routes.items() if paged} == set(ROUTES)


def _get(gw: httpx.Client, target: tuple[str, dict], h: dict, **params: object) -> httpx.Response:
    path, query = target
    return gw.get(path, params={**query, **params}, headers=h)


def _assert_422_naming(r: httpx.Response, parameter: str, bound: int | None) -> None:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    errors = r.json()["errors"]
    assert [e["path"] for e in errors] == [f"query.{parameter}"]
    if bound is not None:
        assert str(bound) in errors[0]["message"], errors


@pytest.mark.parametrize("route", ROUTES)
def test_a_list_answers_the_one_page_contract(gw, lists, route):
    paths, h = lists
    path = paths[route]  # (path, query)

    r = _get(gw, path, h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= PAGE_KEYS
    assert (body["page"], body["page_size"]) == (1, DEFAULT_PAGE_SIZE)
    assert body["total"] >= 1 and 1 <= len(body["items"]) <= DEFAULT_PAGE_SIZE

    r = _get(gw, path, h, page=1, page_size=1)
    assert r.status_code == 200 and len(r.json()["items"]) == 1 and r.json()["page_size"] == 1
    r = _get(gw, path, h, page=MAX_PAGE, page_size=MAX_PAGE_SIZE)
    assert r.status_code == 200 and r.json()["items"] == [] and r.json()["page"] == MAX_PAGE

    _assert_422_naming(_get(gw, path, h, page_size=MAX_PAGE_SIZE + 1), "page_size", MAX_PAGE_SIZE)
    _assert_422_naming(_get(gw, path, h, page_size=0), "page_size", None)
    _assert_422_naming(_get(gw, path, h, page=0), "page", None)
    _assert_422_naming(_get(gw, path, h, page=MAX_PAGE + 1), "page", MAX_PAGE)
    _assert_422_naming(_get(gw, path, h, page=10**30), "page", None)
