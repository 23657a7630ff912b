"""A company's own provider: admin only, key sealed at rest, last four only, used for that
company's calls only, private URLs refused unless the operator allows them, keys rotatable."""

from __future__ import annotations

import base64
import os
import uuid

import pytest
from sqlalchemy import select

from ampflux_ai.domain.sealing import KeyRing, SealingError
from ampflux_ai.models import CompanyProvider


async def test_private_addresses_are_refused_for_company_settings(h, company):
    admin = company.user("admin")
    for url in (
        "http://127.0.0.1:11434/v1",
        "http://10.1.2.3/v1",
        "http://169.254.169.254/latest",
        "http://localhost/v1",
    ):
        r = await h.client.put("/ai/settings/provider", json={"base_url": url, "model": "m"}, headers=admin.headers)
        assert r.status_code == 422, (url, r.text)
        assert r.json()["errors"][0]["path"].endswith("base_url")
    for url in ("ftp://x", "http://[::1", "http://example.com:notaport/v1", "not a url"):
        r = await h.client.put("/ai/settings/provider", json={"base_url": url, "model": "m"}, headers=admin.headers)
        assert r.status_code == 422, (url, r.text)


async def test_only_admins_store_provider_settings(h, company):
    r = await h.client.put(
        "/ai/settings/provider",
        json={"base_url": "https://api.example.com/v1", "model": "m"},
        headers=company.user().headers,
    )
    assert r.status_code == 403


async def test_company_key_is_sealed_shown_by_last_four_and_used_only_for_that_company(
    settings, company, other_company, fake, app_client, h
):
    # The operator lets private URLs through here so the local test provider can play the company's.
    async for client in app_client(settings.model_copy(update={"allow_private_provider_urls": True})):
        h = type(h)(client)
        admin = company.user("admin")
        key = "sk-company-secret-9876"
        r = await client.put(
            "/ai/settings/provider",
            json={"base_url": fake.url, "model": "company-model", "api_key": key},
            headers=admin.headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["api_key_last4"] == "9876" and key not in r.text
        assert key not in (await client.get("/ai/settings/provider", headers=admin.headers)).text
        async with client.app.state.db.session() as session:
            row = (await session.scalars(select(CompanyProvider))).one()
            assert key.encode() not in row.key_ciphertext and row.key_id == "k1"

        await client.post("/ai/assistant", json={"prompt": "mine"}, headers=company.user().headers)
        assert fake.auth_headers[-1] == f"Bearer {key}"
        assert fake.chat_requests[-1]["model"] == "company-model"
        await client.post("/ai/assistant", json={"prompt": "theirs"}, headers=other_company.user().headers)
        assert fake.auth_headers[-1] == "Bearer sk-operator-test"
        assert fake.chat_requests[-1]["model"] == fake.model

        assert (await client.delete("/ai/settings/provider", headers=admin.headers)).status_code == 204
        assert (await client.get("/ai/settings/provider", headers=admin.headers)).status_code == 404


def test_keys_rotate_and_a_ciphertext_is_bound_to_its_company():
    old = "old:" + base64.b64encode(os.urandom(32)).decode()
    new = "new:" + base64.b64encode(os.urandom(32)).decode()
    company = uuid.uuid4()
    key_id, blob = KeyRing(old).seal("sk-abc", company_id=company)
    rotated = KeyRing(f"{new},{old}")
    assert rotated.open(key_id, blob, company_id=company) == "sk-abc"  # old rows still open
    assert rotated.seal("sk-abc", company_id=company)[0] == "new"  # new rows use the new key
    with pytest.raises(SealingError):
        rotated.open(key_id, blob, company_id=uuid.uuid4())  # copied to another company
    with pytest.raises(SealingError):
        KeyRing(new).open(key_id, blob, company_id=company)  # old key removed
    with pytest.raises(SealingError):
        KeyRing("k:not-base64!")


async def test_a_key_sealed_under_a_removed_key_is_a_503_naming_the_problem(settings, company, fake, app_client):
    # It had no slug of its own (the generic `service-unavailable`).
    async for client in app_client(settings.model_copy(update={"allow_private_provider_urls": True})):
        admin = company.user("admin")
        r = await client.put(
            "/ai/settings/provider",
            json={"base_url": fake.url, "model": "company-model", "api_key": "sk-company-1234"},
            headers=admin.headers,
        )
        assert r.status_code == 200, r.text
    other_kek = "k2:" + base64.b64encode(os.urandom(32)).decode()
    async for client in app_client(settings.model_copy(update={"key_encryption_keys": other_kek})):
        r = await client.post("/ai/assistant", json={"prompt": "x"}, headers=company.user().headers)
        assert r.status_code == 503, r.text
        body = r.json()
        assert body["type"].endswith("/ai-provider-key-unusable") and body["title"] == "Service Unavailable"
        assert "k1" in body["detail"] and "sk-company" not in r.text
        assert not fake.chat_requests  # nothing went to any provider
