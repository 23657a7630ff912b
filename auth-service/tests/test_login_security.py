"""Login answers give nothing away, and repeated failures are throttled."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from ampflux_auth.domain import throttling
from ampflux_auth.models import User


class Clock:
    """The throttle's clock, moved forward instead of waiting out a backoff in real time."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    moved = Clock()
    monkeypatch.setattr(throttling, "utcnow", moved.now)
    return moved


def _comparable(r) -> tuple:
    body = r.json()
    return r.status_code, r.headers["content-type"], r.headers.get("www-authenticate"), body["type"], body["detail"]


async def test_unknown_email_and_wrong_password_answer_the_same(pg):
    await pg.register()
    timings = {}
    answers = {}
    for case, email in [("unknown", "nobody@example.com"), ("wrong", "ada@example.com")]:
        start = time.perf_counter()
        r = await pg.client.post("/auth/login", json={"email": email, "password": "not the password"})
        timings[case] = time.perf_counter() - start
        answers[case] = _comparable(r)
    assert answers["unknown"] == answers["wrong"]
    assert answers["wrong"][0] == 401
    # Both paths run one argon2 verification; allow generous noise, catch a skipped hash.
    assert timings["unknown"] > timings["wrong"] / 5


async def test_deactivated_account_gets_the_same_answer(pg):
    await pg.register()
    admin = await pg.login()
    u = await pg.create_user(admin, "gone@example.com", ["viewer"])
    await pg.client.post(f"/auth/users/{u['id']}/deactivate", headers=pg.bearer(admin))
    r1 = await pg.client.post("/auth/login", json={"email": "gone@example.com", "password": pg.password})
    r2 = await pg.client.post("/auth/login", json={"email": "nobody@example.com", "password": pg.password})
    assert _comparable(r1) == _comparable(r2)


async def test_account_is_throttled_with_backoff_after_repeated_failures(service_factory, postgres_url, clock):
    async with service_factory(postgres_url, login_max_failures_per_account=3, login_window_s=600) as svc:
        await svc.register()
        for _ in range(3):
            r = await svc.client.post("/auth/login", json={"email": "ada@example.com", "password": "guess guess"})
            assert r.status_code == 401
        # Past the allowance every attempt waits, even with the right password (or guessing
        # could go on): first 1 s, then twice as long after each further failure.
        r = await svc.client.post("/auth/login", json={"email": "ada@example.com", "password": svc.password})
        assert r.status_code == 429
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/too-many-login-attempts")
        assert int(r.headers["retry-after"]) == 1
        clock.advance(1.1)
        r = await svc.client.post("/auth/login", json={"email": "ada@example.com", "password": "guess guess"})
        assert r.status_code == 401
        r = await svc.client.post("/auth/login", json={"email": "ada@example.com", "password": svc.password})
        assert r.status_code == 429 and int(r.headers["retry-after"]) == 2
        # An account that does not exist is throttled the same way.
        for _ in range(3):
            await svc.client.post("/auth/login", json={"email": "ghost@example.com", "password": "guess guess"})
        r = await svc.client.post("/auth/login", json={"email": "ghost@example.com", "password": "guess guess"})
        assert r.status_code == 429
        metrics = (await svc.client.get("/metrics")).text
        assert 'ampflux_auth_login_throttled_total{scope="account"} 3.0' in metrics


async def test_the_backoff_is_capped_and_never_a_lockout(service_factory, tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    async with service_factory(url, login_max_failures_per_account=1, login_max_backoff_s=2) as svc:
        await svc.register()
        failures = 0
        while failures < 5:  # uncapped, the fifth failure would mean a 16 s wait
            r = await svc.client.post("/auth/login", json={"email": "ada@example.com", "password": "guess guess"})
            if r.status_code == 401:
                failures += 1
            else:
                assert r.status_code == 429 and int(r.headers["retry-after"]) <= 2
                clock.advance(int(r.headers["retry-after"]))
        r = await svc.client.post("/auth/login", json={"email": "ada@example.com", "password": svc.password})
        assert r.status_code == 429 and int(r.headers["retry-after"]) == 2
        clock.advance(2.1)
        await svc.login()


async def test_failures_elsewhere_never_lock_the_owner_out_of_a_known_client(service_factory, tmp_path):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    # The test client's peer (203.0.113.7) plays the gateway, so each request names its client.
    async with service_factory(
        url,
        login_max_failures_per_account=3,
        login_max_failures_per_address=1000,
        trusted_proxy_count=1,
        trusted_proxy_addresses=["203.0.113.0/24"],
    ) as svc:
        await svc.register()

        async def login(address: str, password: str):
            return await svc.client.post(
                "/auth/login",
                json={"email": "ada@example.com", "password": password},
                headers={"X-Forwarded-For": address},
            )

        assert (await login("198.51.100.10", svc.password)).status_code == 200  # the owner's usual place
        # An attacker guesses from many addresses: no one address reaches its own allowance.
        for i in range(12):
            assert (await login(f"192.0.2.{i}", "guess guess")).status_code in (401, 429)
        # The owner's known client is not held back by the attacker's failures...
        assert (await login("198.51.100.10", svc.password)).status_code == 200
        # ...while an address the account never used waits (the attacker's next guess too).
        r = await login("192.0.2.200", svc.password)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


async def test_address_is_throttled_across_accounts(service_factory, tmp_path):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    async with service_factory(url, login_max_failures_per_address=4, login_max_failures_per_account=100) as svc:
        await svc.register()
        for i in range(4):
            r = await svc.client.post("/auth/login", json={"email": f"victim{i}@example.com", "password": "123456789"})
            assert r.status_code == 401
        r = await svc.client.post("/auth/login", json={"email": "ada@example.com", "password": svc.password})
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1


async def test_throttle_window_slides(service_factory, tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    async with service_factory(url, login_max_failures_per_account=2, login_window_s=3) as svc:
        await svc.register()
        for _ in range(2):
            await svc.client.post("/auth/login", json={"email": "ada@example.com", "password": "nope nope"})
        r = await svc.client.post("/auth/login", json={"email": "ada@example.com", "password": svc.password})
        assert r.status_code == 429
        retry_after = int(r.headers["retry-after"])
        assert 1 <= retry_after <= 3
        # Once the oldest failure leaves the window, the account is usable again.
        clock.advance(retry_after + 0.1)
        await svc.login()


async def test_forwarded_address_is_used_only_behind_trusted_proxies(service_factory, tmp_path):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    # The test client's peer (203.0.113.7) plays the gateway.
    async with service_factory(
        url, login_max_failures_per_address=2, trusted_proxy_count=1, trusted_proxy_addresses=["203.0.113.0/24"]
    ) as svc:
        await svc.register()
        for i in range(2):
            await svc.client.post(
                "/auth/login",
                json={"email": f"x{i}@example.com", "password": "nope nope"},
                headers={"X-Forwarded-For": "spoofed, 198.51.100.1"},
            )
        blocked = await svc.client.post(
            "/auth/login",
            json={"email": "ada@example.com", "password": svc.password},
            headers={"X-Forwarded-For": "198.51.100.1"},
        )
        assert blocked.status_code == 429
        # A different client behind the same gateway is unaffected.
        r = await svc.client.post(
            "/auth/login",
            json={"email": "ada@example.com", "password": svc.password},
            headers={"X-Forwarded-For": "198.51.100.2"},
        )
        assert r.status_code == 200


async def test_a_client_that_is_not_a_trusted_proxy_cannot_choose_its_address(service_factory, tmp_path):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    # As `make run` has it: one trusted hop, but only the gateway's own address may use it.
    async with service_factory(
        url, login_max_failures_per_address=2, trusted_proxy_count=1, trusted_proxy_addresses=["127.0.0.1"]
    ) as svc:
        await svc.register()
        for i in range(2):
            r = await svc.client.post(
                "/auth/login",
                json={"email": f"x{i}@example.com", "password": "nope nope"},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            )
            assert r.status_code == 401
        # Every spoofed address was counted as the peer's own: the peer is throttled.
        r = await svc.client.post(
            "/auth/login",
            json={"email": "x9@example.com", "password": "nope nope"},
            headers={"X-Forwarded-For": "192.0.2.9"},
        )
        assert r.status_code == 429


async def test_with_a_proxy_secret_only_the_gateway_may_name_the_client(service_factory, tmp_path):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    # `make run`: every local process is a trusted address; the gateway alone knows the secret.
    async with service_factory(
        url,
        login_max_failures_per_address=2,
        trusted_proxy_count=1,
        trusted_proxy_addresses=["203.0.113.0/24"],
        trusted_proxy_secret="gateway-only",
    ) as svc:

        async def fail(address: str, secret: str | None):
            headers = {"X-Forwarded-For": address}
            if secret is not None:
                headers["X-AmpFlux-Forwarded-Secret"] = secret
            return await svc.client.post(
                "/auth/login", json={"email": f"{address}@example.com", "password": "nope nope"}, headers=headers
            )

        # Without the secret (or with a wrong one) each spoofed address counts as the peer.
        assert [(await fail(f"198.51.100.{i}", s)).status_code for i, s in enumerate([None, "guess"])] == [401, 401]
        assert (await fail("198.51.100.7", None)).status_code == 429
        # With it, the gateway's word counts: a fresh client is not held back.
        assert (await fail("192.0.2.50", "gateway-only")).status_code == 401


async def test_outdated_password_hash_is_upgraded_on_login(service_factory, postgres_url):
    async with service_factory(postgres_url) as svc:
        await svc.register()
    async with service_factory(postgres_url, argon2_memory_kib=2048, argon2_time_cost=2) as svc:
        async with svc.app.state.db.session() as session:
            before = await session.scalar(select(User.password_hash))
        assert "m=1024,t=1" in before
        await svc.login()
        async with svc.app.state.db.session() as session:
            after = await session.scalar(select(User.password_hash))
        assert after.startswith("$argon2id$") and "m=2048,t=2" in after
        await svc.login()
