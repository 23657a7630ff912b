"""Import (.json, .json.gz, JSON body) and export (JSON attachment) of circuit documents."""

from __future__ import annotations

import gzip
import json

import pytest

REFERENCE = "ind480_radial.json"


async def test_export_import_round_trip_with_a_reference_circuit(api, client, company):
    owner = company.user()
    project = await api.create_project(owner)
    raw = (api.cases_dir / REFERENCE).read_bytes()
    base = f"/projects/{project['id']}/circuits"

    r = await client.post(f"{base}/import", files={"file": (REFERENCE, raw, "application/json")}, headers=owner.headers)
    assert r.status_code == 201, r.text
    imported = r.json()
    reference = api.load_case(REFERENCE)
    assert imported["name"] == reference.get("title") or imported["name"] == reference["id"]
    assert imported["version"]["number"] == 1 and imported["version"]["message"] == f"Imported {REFERENCE}"

    r = await client.get(f"{base}/{imported['id']}/export", headers=owner.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;") and disposition.endswith('-v1.json"')
    assert r.headers["etag"] == f'"{imported["version"]["content_hash"]}"'
    assert r.json() == reference  # the document comes back exactly, expected results included

    # the exported file imports again, gzip-compressed, into another project: same content
    other = await api.create_project(owner)
    r = await client.post(
        f"/projects/{other['id']}/circuits/import",
        params={"name": "Copy"},
        files={"file": ("copy.json.gz", gzip.compress(r.content), "application/gzip")},
        headers=owner.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Copy"
    assert r.json()["version"]["content_hash"] == imported["version"]["content_hash"]

    # and as a plain JSON body onto the existing circuit it is an unchanged save
    r = await client.post(f"{base}/{imported['id']}/import", json=reference, headers=owner.headers)
    assert r.status_code == 200 and r.json()["number"] == 1


async def test_import_as_new_version_and_export_of_an_old_one(api, client, company):
    owner = company.user()
    project = await api.create_project(owner)
    circuit = await api.create_circuit(project, owner, api.tiny_circuit())
    base = f"/projects/{project['id']}/circuits/{circuit['id']}"
    body = json.dumps(api.tiny_circuit(title="imported")).encode()
    r = await client.post(
        f"{base}/import",
        params={"message": "from the field"},
        files={"file": ("x.json", body, "application/json")},
        headers=owner.headers,
    )
    assert r.status_code == 201 and r.json()["number"] == 2 and r.json()["message"] == "from the field"
    r = await client.get(f"{base}/export", params={"version": 1}, headers=owner.headers)
    assert r.json() == api.tiny_circuit() and r.headers["content-disposition"].endswith('Main_board-v1.json"')


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"{not json", "unreadable_document"),
        (b"[1, 2]", "unreadable_document"),
        (b'{"x": NaN}', "unreadable_document"),
        (b"\x1f\x8bnot really gzip", "unreadable_document"),
        (b"", "empty_document"),
    ],
)
async def test_unreadable_uploads_are_422_problems(api, client, company, payload, code):
    owner = company.user()
    project = await api.create_project(owner)
    r = await client.post(
        f"/projects/{project['id']}/circuits/import", files={"file": ("bad.json", payload)}, headers=owner.headers
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["code"] == code


async def test_invalid_imported_document_reports_every_problem(api, client, company):
    owner = company.user()
    project = await api.create_project(owner)
    bad = api.tiny_circuit(buses=[{"id": "MV"}], lines=[{"id": "L"}])
    r = await client.post(
        f"/projects/{project['id']}/circuits/import",
        files={"file": ("bad.json", json.dumps(bad).encode())},
        headers=owner.headers,
    )
    assert r.status_code == 422
    paths = {e["path"] for e in r.json()["errors"]}
    assert {"buses[0].vn_kv", "lines[0].from_bus", "lines[0].to_bus", "lines[0].length_km"} <= paths
    assert (await client.get(f"/projects/{project['id']}/circuits/", headers=owner.headers)).json()["total"] == 0


async def test_upload_size_is_bounded_even_when_compressed(api, client, company):
    owner = company.user()
    project = await api.create_project(owner)
    client.app.state.settings.max_document_bytes = 10_000
    bomb = gzip.compress(b'{"pad": "' + b" " * 1_000_000 + b'"}')
    assert len(bomb) < 10_000
    r = await client.post(
        f"/projects/{project['id']}/circuits/import", files={"file": ("big.json.gz", bomb)}, headers=owner.headers
    )
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"


async def test_viewer_cannot_import(api, client, company):
    owner, viewer = company.user(), company.user()
    project = await api.create_project(owner)
    await api.add_member(project, owner, viewer, "viewer")
    r = await client.post(f"/projects/{project['id']}/circuits/import", json=api.tiny_circuit(), headers=viewer.headers)
    assert r.status_code == 403
