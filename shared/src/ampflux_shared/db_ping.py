"""A pool that checks a connection's liveness only when it has been idle a while.

By default the engine pings every connection it hands out (`pool_pre_ping`): a round trip
before the first query of every request. On the way to an AI reply's first token that ping
was a visible share of the service's own time (profiled, one stream at a time: ~2 of ~9.5 ms),
and a connection given back a moment ago is almost never dead. With
`<SERVICE>_DATABASE_PING_AFTER_IDLE_S` set, a connection idle for less than that is handed
out as it is; one idle longer is pinged first, and a dead one replaced before use, as before.
A connection that died while in use recently (the database restarted under load) fails its
query: the request answers 503 `database-unavailable` with Retry-After, and SQLAlchemy, seeing
the disconnect, discards every pooled connection older than it, so one request per blip pays
instead of a ping on every one.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine

_IDLE_SINCE = "ampflux_idle_since"


def ping_only_after_idle(engine: AsyncEngine, idle_s: float) -> None:
    """Ping, before use, the connections idle `idle_s` or more (on an engine made without
    `pool_pre_ping`: `make_engine` does both)."""
    sync_engine = engine.sync_engine
    pool = sync_engine.pool
    dialect = sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _idle_from_now(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < idle_s:
            return  # new, or given back a moment ago
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception:
            alive = False
        if not alive:
            # The pool discards this connection and checks out (or opens) another.
            raise exc.DisconnectionError("a pooled connection idle for a while was dead")
