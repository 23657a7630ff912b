"""Models: the provider's list merged with the company's choices, a page at a time; users pick
among the enabled ones per conversation; on an Ollama provider (the fake native API here) start
pulls and loads, stop unloads, status follows; an OpenAI-style provider answers 409 to start and
stop."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from fake_ollama import FakeModel, FakeOllama

from ampflux_shared.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from ampflux_testing.polling import eventually


@pytest.fixture
def ollama():
    fake = FakeOllama(
        local={"llama3.1:8b": FakeModel(context_length=131072, tools=True), "phi3:mini": FakeModel(4096, False)},
        registry={"qwen2.5:7b": FakeModel(32768, True, layers=(1000, 4000))},
    ).start()
    yield fake
    fake.stop()


@pytest.fixture
def ollama_settings(settings, ollama):
    return settings.model_copy(
        update={"provider_base_url": f"{ollama.url}/v1", "provider_kind": "ollama", "model": "llama3.1:8b"}
    )


async def _wait_status(client, user, model, wanted, timeout_s=10.0):
    seen: list[dict] = []

    async def reached() -> dict | None:
        r = await client.get(f"/ai/models/{model}/status", headers=user.headers)
        assert r.status_code == 200, r.text
        seen.append(r.json())
        return seen[-1] if seen[-1]["status"] == wanted else None

    return await eventually(
        reached, timeout=timeout_s, interval=0.02, what=lambda: f"{wanted}; status stayed {seen[-1]}"
    )


async def _wait_percent(client, user, model, percent, timeout_s):
    seen: list[dict] = []

    async def reached() -> dict | None:
        seen.append((await client.get(f"/ai/models/{model}/status", headers=user.headers)).json())
        return seen[-1] if seen[-1]["percent"] == percent else None

    return await eventually(reached, timeout=timeout_s, interval=0.02, what=lambda: f"{percent} % pulled: {seen[-1]}")


async def test_openai_style_provider_lists_models_and_refuses_start_and_stop(client, company):
    user = company.user()
    r = await client.get("/ai/models", headers=user.headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["provider_kind"] == "openai" and body["can_start"] is False
    assert (body["total"], body["page"], body["page_size"]) == (1, 1, DEFAULT_PAGE_SIZE)
    assert [(m["id"], m["enabled"], m["default"]) for m in body["items"]] == [("fake-model", True, True)]
    for path in ("/ai/models/start", "/ai/models/stop"):
        r = await client.post(path, json={"model": "fake-model"}, headers=user.headers)
        assert r.status_code == 409, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["type"].endswith("ai-provider-cannot-manage-models")
    assert (await client.get("/ai/models/fake-model/status", headers=user.headers)).status_code == 409


async def test_admins_choose_models_and_users_pick_among_the_enabled_per_conversation(
    settings, company, other_company, fake, app_client, h
):
    # The operator's model is not in the server's list: it is offered too (some servers list nothing).
    async for client in app_client(settings.model_copy(update={"model": "house-model"})):
        h = type(h)(client)
        admin, user = company.user("admin"), company.user()
        listed = (await client.get("/ai/models", headers=user.headers)).json()["items"]
        assert {m["id"]: m["default"] for m in listed} == {"house-model": True, "fake-model": False}

        r = await client.put("/ai/models/fake-model", json={"enabled": True, "default": True}, headers=user.headers)
        assert r.status_code == 403
        r = await client.put("/ai/models/no-such", json={"enabled": True}, headers=admin.headers)
        assert r.status_code == 422 and r.json()["errors"][0]["path"] == "model_id"
        choice = {"enabled": True, "default": True, "display_name": "Fake"}
        r = await client.put("/ai/models/fake-model", json=choice, headers=admin.headers)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "id": "fake-model",
            "display_name": "Fake",
            "enabled": True,
            "default": True,
            "context_length": None,
            "tool_calls": None,
        }
        listed = (await client.get("/ai/models", headers=user.headers)).json()["items"]
        assert {m["id"]: m["default"] for m in listed} == {"house-model": False, "fake-model": True}

        # No model chosen: the company's default answers.
        conv = await h.conversation(user)
        assert (await h.send(user, conv, "hi")).status_code == 200
        assert fake.chat_requests[-1]["model"] == "fake-model"
        # A conversation on another enabled model.
        r = await client.post("/ai/conversations", json={"model": "house-model"}, headers=user.headers)
        assert r.status_code == 201 and r.json()["model"] == "house-model"
        on_house = r.json()
        assert (await h.send(user, on_house, "hi")).status_code == 200
        assert fake.chat_requests[-1]["model"] == "house-model"

        # Disabled: no longer a choice (and the default cannot be disabled in the same breath).
        r = await client.put("/ai/models/house-model", json={"enabled": False, "default": True}, headers=admin.headers)
        assert r.status_code == 422 and r.json()["errors"][0]["path"] == "default"
        r = await client.put("/ai/models/house-model", json={"enabled": False}, headers=admin.headers)
        assert r.status_code == 200 and r.json()["enabled"] is False
        r = await client.patch(f"/ai/conversations/{conv['id']}", json={"model": "house-model"}, headers=user.headers)
        assert r.status_code == 422 and r.json()["errors"][0]["path"] == "model"
        r = await client.patch(f"/ai/conversations/{conv['id']}", json={"model": "fake-model"}, headers=user.headers)
        assert r.status_code == 200 and r.json()["model"] == "fake-model"
        # A conversation whose model was disabled since is told so, not switched silently.
        r = await h.send(user, on_house, "again")
        assert r.status_code == 409 and r.json()["type"].endswith("ai-model-disabled")

        # Another company's choices are its own.
        theirs = (await client.get("/ai/models", headers=other_company.user().headers)).json()["items"]
        assert {m["id"]: (m["enabled"], m["default"]) for m in theirs} == {
            "house-model": (True, True),
            "fake-model": (True, False),
        }


async def test_ollama_models_show_context_and_tools_and_start_stop_drive_the_native_api(
    ollama_settings, ollama, company, app_client
):
    async for client in app_client(ollama_settings):
        user = company.user()
        body = (await client.get("/ai/models", headers=user.headers)).json()
        assert body["provider_kind"] == "ollama" and body["can_start"] is True
        assert {m["id"]: (m["context_length"], m["tool_calls"]) for m in body["items"]} == {
            "llama3.1:8b": (131072, True),
            "phi3:mini": (4096, False),
        }

        assert (await client.get("/ai/models/phi3:mini/status", headers=user.headers)).json()["status"] == "unloaded"
        r = await client.post("/ai/models/start", json={"model": "phi3:mini"}, headers=user.headers)
        assert r.status_code == 202, r.text
        loaded = await _wait_status(client, user, "phi3:mini", "loaded")
        assert loaded["expires_at"] == "2099-01-01T00:00:00Z"
        load = [b for p, b in ollama.calls if p == "/api/generate"][-1]
        assert load == {"model": "phi3:mini", "keep_alive": "30m", "stream": False}
        assert "/api/pull" not in ollama.paths()  # it was on disk already

        r = await client.post("/ai/models/stop", json={"model": "phi3:mini"}, headers=user.headers)
        assert r.status_code == 200 and r.json()["status"] == "unloaded"
        assert [b for p, b in ollama.calls if p == "/api/generate"][-1]["keep_alive"] == 0
        metrics = (await client.get("/metrics")).text
        assert 'ampflux_ai_model_operations_total{operation="unload",outcome="ok"} 1.0' in metrics


async def test_models_answer_the_one_page_contract(ollama_settings, company, app_client):
    async for client in app_client(ollama_settings):
        user = company.user()
        whole = (await client.get("/ai/models", headers=user.headers)).json()
        assert whole["total"] == 2 and len(whole["items"]) == 2
        pages = []
        for page in (1, 2, 3):
            r = await client.get("/ai/models", params={"page": page, "page_size": 1}, headers=user.headers)
            assert r.status_code == 200, r.text
            body = r.json()
            assert (body["total"], body["page"], body["page_size"]) == (2, page, 1)
            # The provider's facts stay beside the page, whichever page it is.
            assert body["provider_kind"] == "ollama" and body["can_start"] is True
            pages.append([m["id"] for m in body["items"]])
        assert pages == [[whole["items"][0]["id"]], [whole["items"][1]["id"]], []]

        r = await client.get("/ai/models", params={"page_size": MAX_PAGE_SIZE + 1}, headers=user.headers)
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert [e["path"] for e in r.json()["errors"]] == ["query.page_size"]
        r = await client.get("/ai/models", params={"page": 0}, headers=user.headers)
        assert r.status_code == 422 and [e["path"] for e in r.json()["errors"]] == ["query.page"]


async def test_starting_a_missing_model_pulls_it_with_progress_then_loads_it(
    ollama_settings, ollama, company, app_client
):
    async for client in app_client(ollama_settings):
        user = company.user()
        assert (await client.get("/ai/models/qwen2.5:7b/status", headers=user.headers)).json()[
            "status"
        ] == "not-present"
        ollama.pull_gate.clear()  # the pull stops halfway until the test lets it go on
        r = await client.post("/ai/models/start", json={"model": "qwen2.5:7b"}, headers=user.headers)
        assert r.status_code == 202
        pulling = await _wait_status(client, user, "qwen2.5:7b", "pulling")
        # Held at the second layer's first step: 1000 of 1000 bytes and 1000 of 4000 -> 40 %.
        if pulling["percent"] != 40.0:
            pulling = await _wait_percent(client, user, "qwen2.5:7b", 40.0, timeout_s=5)
        assert pulling["status"] == "pulling"
        ollama.pull_gate.set()
        await _wait_status(client, user, "qwen2.5:7b", "loaded")
        assert ollama.paths().index("/api/pull") < max(i for i, p in enumerate(ollama.paths()) if p == "/api/generate")
        assert [b for p, b in ollama.calls if p == "/api/pull"] == [{"model": "qwen2.5:7b", "stream": True}]


async def test_a_model_the_registry_does_not_have_fails_with_ollamas_reason(ollama_settings, company, app_client):
    async for client in app_client(ollama_settings):
        user = company.user()
        r = await client.post("/ai/models/start", json={"model": "nope:1b"}, headers=user.headers)
        assert r.status_code == 202
        failed = await _wait_status(client, user, "nope:1b", "failed")
        assert "file does not exist" in failed["error"]


async def test_a_company_provider_of_kind_ollama_can_start_models(settings, ollama, company, other_company, app_client):
    async for client in app_client(settings.model_copy(update={"allow_private_provider_urls": True})):
        admin = company.user("admin")
        own = {"base_url": f"{ollama.url}/v1", "model": "llama3.1:8b", "kind": "ollama"}
        r = await client.put("/ai/settings/provider", json=own, headers=admin.headers)
        assert r.status_code == 200 and r.json()["kind"] == "ollama"
        listed = (await client.get("/ai/models", headers=admin.headers)).json()
        assert listed["provider_kind"] == "ollama"
        assert {m["id"] for m in listed["items"]} == {"llama3.1:8b", "phi3:mini"}
        r = await client.post("/ai/models/start", json={"model": "llama3.1:8b"}, headers=admin.headers)
        assert r.status_code == 202
        await _wait_status(client, admin, "llama3.1:8b", "loaded")
        # The operator's provider (OpenAI-style) still answers the other company.
        r = await client.post("/ai/models/start", json={"model": "fake-model"}, headers=other_company.user().headers)
        assert r.status_code == 409
