"""Company daily token budgets: the operator's default, a company admin's own, 429 once spent."""

from __future__ import annotations


async def test_a_company_admin_sets_the_budget_that_applies_to_the_company(
    settings, company, other_company, app_client, h
):
    async for client in app_client(settings.model_copy(update={"company_daily_token_budget": 15})):
        h = type(h)(client)
        engineer, admin = company.user(), company.user("admin")
        r = await client.get("/ai/usage/budget", headers=admin.headers)
        assert r.status_code == 200, r.text
        assert r.json()["daily_tokens"] == 15 and r.json()["source"] == "default"
        conv = await h.conversation(engineer)
        assert (await h.send(engineer, conv, "a question that costs tokens")).status_code == 200
        assert (await h.send(engineer, conv, "again")).status_code == 429  # the default is spent

        # The company's own budget replaces the default at once.
        r = await client.put("/ai/usage/budget", json={"daily_tokens": 1000}, headers=admin.headers)
        assert r.status_code == 200, r.text
        assert r.json()["daily_tokens"] == 1000 and r.json()["source"] == "company"
        spent = r.json()["spent_today"]
        assert spent >= 15
        assert (await h.send(engineer, conv, "now it answers")).status_code == 200
        assert (await client.get("/ai/usage", headers=admin.headers)).json()["budget"] == 1000

        # Lowered below what was spent: 429 with Retry-After, the problem names the company's budget.
        await client.put("/ai/usage/budget", json={"daily_tokens": spent}, headers=admin.headers)
        r = await h.send(engineer, conv, "and now?", stream=True)
        assert r.status_code == 429 and 0 < int(r.headers["retry-after"]) <= 86401
        assert r.json()["budget"] == spent and r.json()["type"].endswith("ai-budget-exhausted")
        r = await client.post("/ai/assistant", json={"prompt": "x"}, headers=engineer.headers)
        assert r.status_code == 429

        # Another company keeps the operator's default.
        stranger = other_company.user()
        assert (await client.post("/ai/assistant", json={"prompt": "x"}, headers=stranger.headers)).status_code == 200
        r = await client.get("/ai/usage/budget", headers=other_company.user("admin").headers)
        assert r.json()["source"] == "default" and r.json()["daily_tokens"] == 15

        # 0: no budget at all; null: the default again.
        await client.put("/ai/usage/budget", json={"daily_tokens": 0}, headers=admin.headers)
        assert (await h.send(engineer, conv, "unlimited")).status_code == 200
        r = await client.put("/ai/usage/budget", json={"daily_tokens": None}, headers=admin.headers)
        assert r.json()["source"] == "default" and r.json()["daily_tokens"] == 15
        assert (await h.send(engineer, conv, "spent again")).status_code == 429


async def test_only_company_admins_set_a_budget_and_bad_values_are_422(h, company):
    engineer, admin = company.user(), company.user("admin")
    r = await h.client.put("/ai/usage/budget", json={"daily_tokens": 5}, headers=engineer.headers)
    assert r.status_code == 403
    assert (await h.client.get("/ai/usage/budget", headers=engineer.headers)).status_code == 403
    for body in ({"daily_tokens": -1}, {"daily_tokens": "many"}, {}, {"daily_tokens": 5, "extra": 1}):
        r = await h.client.put("/ai/usage/budget", json=body, headers=admin.headers)
        assert r.status_code == 422, (body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert any(("daily_tokens" in e["path"]) or ("extra" in e["path"]) for e in r.json()["errors"]), r.json()
