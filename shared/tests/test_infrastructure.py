"""Infrastructure faults are told apart from the job's own errors and waited out: a database
that cannot be reached is retried with the backoff until it answers; any other error raises
at once (it is the job's, and the caller decides what it costs)."""

from __future__ import annotations

import aiormq.exceptions
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from ampflux_shared.backoff import Backoff
from ampflux_shared.infrastructure import is_infrastructure_error, retry_infrastructure
from ampflux_testing.processes import free_port

FAST = Backoff(base_s=0.01, max_s=0.02)


@pytest.mark.parametrize(
    ("error", "infrastructure"),
    [
        (sa_exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")), True),
        (sa_exc.TimeoutError("QueuePool limit reached"), True),
        (sa_exc.DBAPIError("SELECT 1", {}, Exception("lost"), connection_invalidated=True), True),
        (aiormq.exceptions.ChannelInvalidStateError("closed"), True),
        (ConnectionRefusedError(111, "refused"), True),
        (TimeoutError(), True),
        (sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")), False),
        (ValueError("bad input"), False),
        (KeyError("step"), False),
    ],
)
def test_what_counts_as_an_infrastructure_error(error: BaseException, infrastructure: bool) -> None:
    assert is_infrastructure_error(error) is infrastructure


async def test_an_unreachable_database_is_waited_out_until_it_answers(pg_admin_url, caplog) -> None:
    down = create_async_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/postgres")
    up = create_async_engine(pg_admin_url)
    calls = 0

    async def read() -> int:
        nonlocal calls
        calls += 1
        async with (down if calls <= 3 else up).connect() as connection:
            return int((await connection.execute(text("SELECT 41 + 1"))).scalar_one())

    try:
        assert await retry_infrastructure(read, what="reading the answer", backoff=FAST) == 42
    finally:
        await down.dispose()
        await up.dispose()
    assert calls == 4  # three refused connections, then the answer
    retries = [r.getMessage() for r in caplog.records if "reading the answer" in r.getMessage()]
    assert len(retries) == 3 and "OperationalError" in retries[0]


async def test_any_other_error_raises_at_once() -> None:
    calls = 0

    async def broken() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("a bug in the step")

    with pytest.raises(ValueError, match="a bug in the step"):
        await retry_infrastructure(broken, what="a broken step", backoff=FAST)
    assert calls == 1
