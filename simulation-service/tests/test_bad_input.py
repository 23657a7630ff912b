"""Hostile inline documents are 4xx problems, never a 500 or a failed study: deep JSON,
absurd numbers, and bodies over the one document limit."""

from __future__ import annotations

import copy

import pytest


def _deep(levels: int) -> dict:
    doc: dict = {"leaf": 1}
    for _ in range(levels):
        doc = {"x": doc}
    return doc


@pytest.fixture
def document(helpers):
    return helpers.without_expected(helpers.load_case("ind480_radial"))


async def test_inline_json_nested_900_levels_is_422(api, document):
    r = await api.submit({**document, "extra": _deep(900)})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["path"].startswith("document")


async def test_json_deeper_than_the_parser_can_go_is_4xx(api):
    body = b'{"project_id":"00000000-0000-0000-0000-000000000001","document":' + b'{"x":' * 5000 + b"1" + b"}" * 5001
    r = await api.client.post("/simulations", content=body, headers={**api.headers, "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, r.text


@pytest.mark.parametrize(("section", "field", "value"), [("ext_grids", "rx_max", 1e300), ("lines", "parallel", 1e30)])
async def test_absurd_numbers_are_422_before_any_solve(api, document, section, field, value):
    doc = copy.deepcopy(document)
    doc[section][0][field] = value
    r = await api.submit(doc)
    assert r.status_code == 422, r.text
    assert any(e["path"].endswith(f"{section}[0].{field}") for e in r.json()["errors"]), r.json()["errors"]


async def test_bodies_over_the_document_limit_are_413(tmp_path, auth, helpers, document):
    async with helpers.running_api(helpers.study_settings(tmp_path, max_document_bytes=20_000), auth) as api:
        r = await api.submit({**document, "title": "x" * 30_000})
        assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
        assert (await api.submit(document)).status_code == 202
