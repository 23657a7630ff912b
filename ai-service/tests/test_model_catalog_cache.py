"""The provider's model list is remembered per provider for `models_cache_s`, so a message
does not cost a listing call; the fake provider's `/v1/models` answers are counted by the
authorization headers it records."""

from __future__ import annotations

import dataclasses

from ampflux_ai.domain.model_catalog import ModelCatalog
from ampflux_ai.domain.provider import Providers


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_the_list_is_remembered_per_provider_until_models_cache_s(settings, fake):
    providers = Providers(settings.model_copy(update={"models_cache_s": 60}))
    clock = Clock()
    catalog = ModelCatalog(providers, timer=clock)
    config = providers.operator()
    assert config is not None
    try:
        first = await catalog.provider_models(config)
        assert [m.id for m in first] == [fake.model] and len(fake.auth_headers) == 1
        clock.now += 59
        assert await catalog.provider_models(config) == first
        assert len(fake.auth_headers) == 1
        clock.now += 1  # 60 s old: listed again
        assert await catalog.provider_models(config) == first
        assert len(fake.auth_headers) == 2
        # Another key is another provider: a list of its own, asked with that key.
        other = dataclasses.replace(config, api_key="sk-other")
        await catalog.provider_models(other)
        assert fake.auth_headers[-2:] == ["Bearer sk-operator-test", "Bearer sk-other"]
        await catalog.provider_models(config)
        await catalog.provider_models(other)
        assert len(fake.auth_headers) == 3
    finally:
        await providers.close()


async def test_a_models_cache_s_of_zero_lists_every_time(settings, fake):
    providers = Providers(settings.model_copy(update={"models_cache_s": 0}))
    catalog = ModelCatalog(providers, timer=Clock())  # the clock stands still: still no reuse
    config = providers.operator()
    assert config is not None
    try:
        for _ in range(3):
            await catalog.provider_models(config)
        assert len(fake.auth_headers) == 3
    finally:
        await providers.close()
