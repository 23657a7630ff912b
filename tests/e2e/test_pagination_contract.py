"""Every list of the platform answers the one page contract, through the real gateway:
`{items, total, page, page_size}`; `page_size` above the maximum and `page` below 1 or above
its bound are 422s naming the parameter and the bound, never a clamp and never a 500.

The routes come from each service's OpenAPI as the gateway serves it, so a new list route
cannot escape this test: one without a way to reach it here fails `test_every_list_route_is_covered`.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from e2e.flows import add_colleague, bearer, register_and_login

from ampflux_shared.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE
from ampflux_testing.circuits import CASES_DIR

pytestmark = pytest.mark.slow

SERVICES = ("auth", "project", "simulation", "traveler", "ai")
PAGE_KEYS = {"items", "total", "page", "page_size"}
TERMINAL = {"succeeded", "failed", "cancelled"}


def _paged_get_routes(gw: httpx.Client, service: str) -> set[str]:
    """Path templates of the service's GET routes whose 200 body is a page."""
    spec = gw.get(f"/openapi/{service}.json").json()
    schemas = spec.get("components", {}).get("schemas", {})
    found = set()
    for path, operations in spec["paths"].items():
        op = operations.get("get")
        if op is None:
            continue
        body = op.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {})
        schema = body.get("schema", {})
        assert schema.get("type") != "array", f"{service} GET {path} answers a bare array"
        ref = schema.get("$ref")
        if ref and set(schemas[ref.rsplit("/", 1)[1]].get("properties", {})) >= PAGE_KEYS:
            found.add(path)
    return found


def _ok(r: httpx.Response, status: int = 201) -> dict:
    assert r.status_code == status, f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}"
    return r.json()


def _wait_succeeded(gw: httpx.Client, h: dict, run_id: str, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        status = gw.get(f"/simulations/{run_id}", headers=h).json()["status"]
        if status in TERMINAL:
            assert status == "succeeded", status
            return
        assert time.monotonic() < deadline, f"run {run_id} still {status} after {timeout_s} s"
        time.sleep(0.2)


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
]


def test_every_list_route_is_covered(gw):
    assert {p for s in SERVICES for p in _paged_get_routes(gw, s)} == set(ROUTES)


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
