"""The LISTEN loop outlives a lost connection and a failing catch-up: it connects again, calls
`on_reconnect` again, and keeps delivering notifications."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import psycopg
import pytest

from gardenos.db.listen import listen
from gardenos.errors import DatabaseUnavailable
from tests.support import SessionDatabase

pytestmark = pytest.mark.anyio


def _terminate_listeners(database: SessionDatabase, channel: str) -> None:
    with psycopg.connect(database.owner_url, autocommit=True) as owner:
        owner.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
            (f'LISTEN "{channel}"',),
        )


async def test_the_listener_survives_a_failing_catch_up_after_a_reconnect(database: SessionDatabase) -> None:
    channel = f"test_{uuid.uuid4().hex[:8]}"
    received: list[str] = []
    reconnects = 0
    ready = asyncio.Event()

    got = asyncio.Event()

    async def on_message(payload: str) -> None:
        received.append(payload)
        got.set()

    async def on_reconnect() -> None:
        nonlocal reconnects
        reconnects += 1
        if reconnects == 1:  # as the schema reload does while the pool still finds no primary
            raise DatabaseUnavailable("the database is not reachable right now")

    task = asyncio.create_task(
        listen(database.api_url, channel, on_message, on_reconnect=on_reconnect, ready=ready)
    )
    try:
        await asyncio.wait_for(ready.wait(), 10)
        ready.clear()
        _terminate_listeners(database, channel)
        for _ in range(2):  # the failed catch-up, then the one that works
            await asyncio.wait_for(ready.wait(), 20)
            ready.clear()
        with psycopg.connect(database.owner_url, autocommit=True) as owner:
            owner.execute("SELECT pg_notify(%s, 'after')", (channel,))
        await asyncio.wait_for(got.wait(), 10)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    assert reconnects == 2
    assert received == ["after"]
