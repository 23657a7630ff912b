"""The API's shutdown ends its background tasks even when one of them loses a cancellation.

aio-pika can turn a cancellation that lands while a channel opens (the gauge refresher opens
one for the queue stats every refresh) into a RuntimeError, which the refresher, built to
live through broker outages, logs and survives. The shutdown cancelled it once and awaited
it: it waited until something cancelled it again, ~60 s in the worker tests (the harness's
own shutdown limit, which the `suppress(CancelledError)` around that await also hid).
"""

from __future__ import annotations

import asyncio
import time

from ampflux_simulation.domain import runs


async def test_the_api_stops_at_once_when_its_gauge_refresher_loses_a_cancellation(
    tmp_path, auth, helpers, monkeypatch
):
    count_by_status = runs.count_by_status
    refreshing = asyncio.Event()
    lost: list[str] = []

    async def count_losing_the_first_cancellation(session):
        if not lost:
            refreshing.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                lost.append("cancelled")
                # What aio-pika made of the cancellation in the hang this test recreates.
                raise RuntimeError("<Connection: amqp://...> closed") from None
        return await count_by_status(session)

    monkeypatch.setattr(runs, "count_by_status", count_losing_the_first_cancellation)
    running = helpers.running_api(helpers.study_settings(tmp_path), auth)
    await running.__aenter__()
    try:
        await asyncio.wait_for(refreshing.wait(), 10)
    finally:
        started = time.monotonic()
        # The old shutdown swallowed this limit's cancellation too: measured, not trusted.
        async with asyncio.timeout(10):
            await running.__aexit__(None, None, None)
        took = time.monotonic() - started
    assert lost == ["cancelled"]  # the refresher did lose a cancellation, and lived on
    assert took < 5, f"the API took {took:.1f} s to stop"
