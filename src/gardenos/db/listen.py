"""LISTEN on a channel with a dedicated connection, outside the pool, reconnecting for as long as it runs.

After a restart or a failover the connection is gone; the loop connects again (to whatever the URL
points at now: HAProxy sends it to the new primary) and calls `on_reconnect`, because notifications
sent while it was away are lost and the listener must catch up by other means.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

MAX_BACKOFF_S = 10.0


async def listen(
    conninfo: str,
    channel: str,
    on_message: Callable[[str], Awaitable[None]],
    *,
    on_reconnect: Callable[[], Awaitable[None]] | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """Run until cancelled."""
    backoff = 0.5
    first = True
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as conn:
                await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                if ready is not None:
                    ready.set()
                if not first and on_reconnect is not None:
                    await on_reconnect()
                first = False
                backoff = 0.5
                async for notification in conn.notifies():
                    await on_message(notification.payload)
        except psycopg.OperationalError as exc:
            log.warning("LISTEN %s: connection lost (%s); reconnecting in %.1f s", channel, exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
        except Exception:
            # A handler failed, e.g. catching up through the pool while the database is still failing over:
            # the listener must outlive it. Connecting again calls `on_reconnect` again.
            log.exception("LISTEN %s: a handler failed; reconnecting in %.1f s", channel, backoff)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
