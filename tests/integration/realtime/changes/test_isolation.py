"""Two agencies writing the same tables in random interleavings (hypothesis), some of their writes in the
same transactions: each agency's members receive exactly their own agency's changes, all of them, in
commit order, and never a row of the other agency. Checked as the members' own role and claims."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gardenos.auth.tokens import TokenService
from gardenos.db.pool import Database
from gardenos.realtime.changes.feed import DatabaseChangeFeed
from gardenos.realtime.contracts import ChangeSpec
from tests.integration.realtime.changes.conftest import WAIT_S, Sink, World
from tests.support import SessionDatabase

T = TypeVar("T")
# (agency 0 or 1, table, action, ends its transaction)
Op = tuple[int, str, str, bool]
OPS = st.lists(
    st.tuples(
        st.integers(0, 1),
        st.sampled_from(["leads", "clients"]),
        st.sampled_from(["INSERT", "INSERT", "UPDATE", "DELETE"]),
        st.booleans(),
    ),
    min_size=1,
    max_size=25,
)
INSERT = {
    "leads": "INSERT INTO leads (agency_id, first_name) VALUES (%s, 'x') RETURNING id::text",
    "clients": "INSERT INTO clients (agency_id, company) VALUES (%s, 'x') RETURNING id::text",
}


def run(
    conn: psycopg.Connection[Any], agencies: list[str], ops: list[Op]
) -> list[list[tuple[str, str, str]]]:
    """Apply `ops`; what each agency's members should receive, in commit order: (type, table, id)."""
    expected: list[list[tuple[str, str, str]]] = [[], []]
    rows: dict[tuple[int, str], list[str]] = {}
    pending: list[tuple[int, tuple[str, str, str]]] = []
    for who, table, action, commit in ops:
        ids = rows.setdefault((who, table), [])
        if action == "INSERT" or not ids:
            row = conn.execute(INSERT[table], (agencies[who],)).fetchone()
            assert row is not None
            ids.append(row[0])
            pending.append((who, ("INSERT", table, row[0])))
        elif action == "UPDATE":
            conn.execute(f"UPDATE {table} SET notes = 'u' WHERE id = %s", (ids[-1],))
            pending.append((who, ("UPDATE", table, ids[-1])))
        else:
            deleted = ids.pop(0)
            conn.execute(f"DELETE FROM {table} WHERE id = %s", (deleted,))
            pending.append((who, ("DELETE", table, deleted)))
        if commit:
            conn.commit()
            for who_, event in pending:
                expected[who_].append(event)
            pending = []
    conn.commit()
    for who_, event in pending:
        expected[who_].append(event)
    return expected


def received(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return [(e["type"], e["table"], str((e.get("record") or e["old_record"])["id"])) for e in events]


class Running:
    """One feed for every example, on an event loop of its own (hypothesis runs examples synchronously)."""

    def __init__(self, database: SessionDatabase) -> None:
        self.database = database
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="feed-loop", daemon=True)
        self.thread.start()
        self.slot = f"test_{uuid.uuid4().hex[:16]}"
        self.pool = Database(database.api_url, min_size=1, max_size=6)
        self.feed = DatabaseChangeFeed(
            self.pool, database.owner_url, slot_name=self.slot, poll_interval_s=0.02
        )
        self.run(self._start())
        self.world = World(
            database, self.feed, TokenService(database.settings, database.target.secrets.jwt_secret)
        )

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    async def _start(self) -> None:
        await self.pool.open()
        await self.feed.start()
        await asyncio.wait_for(self.feed.reading.wait(), WAIT_S)

    async def _stop(self) -> None:
        await self.feed.stop()
        await self.pool.close()

    def close(self) -> None:
        self.run(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()
        with psycopg.connect(self.database.owner_url, autocommit=True) as conn:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (self.slot,))


@pytest.fixture(scope="module")
def running(database: SessionDatabase) -> Iterator[Running]:
    running = Running(database)
    try:
        yield running
    finally:
        running.close()


@settings(max_examples=15, deadline=None)
@given(ops=OPS)
def test_random_interleavings_of_two_agencies(running: Running, ops: list[Op]) -> None:
    running.run(scenario(running.world, ops))


async def scenario(world: World, ops: list[Op]) -> None:
    agencies = [world.agency(), world.agency()]
    sinks: list[list[Sink]] = [[], []]
    subscriptions = []
    for who, agency in enumerate(agencies):
        for spec in (ChangeSpec("*", "public", "leads"), ChangeSpec("*", "public", "*")):
            sink = Sink()
            subscriptions.append(await world.feed.subscribe(world.member(agency).principal, spec, sink))
            sinks[who].append(sink)
    try:
        with psycopg.connect(world.database.owner_url) as conn:
            expected = run(conn, agencies, ops)
        # A last lead per agency, after everything: once it is in, everything before it is.
        with world.owner() as conn:
            for who, agency in enumerate(agencies):
                row = conn.execute(INSERT["leads"], (agency,)).fetchone()
                assert row is not None
                expected[who].append(("INSERT", "leads", row[0]))
        for who in (0, 1):
            leads_only, every_table = sinks[who]
            last = expected[who][-1]
            await every_table.wait_for(lambda events, last=last: last in received(events))
            await leads_only.wait_for(lambda events, last=last: last in received(events))
            # Triggers write other tables too (audit_log, agent_tasks): those reach the `*` subscriber.
            crm = [e for e in received(every_table.events) if e[1] in ("leads", "clients")]
            assert crm == expected[who]
            assert received(leads_only.events) == [e for e in expected[who] if e[1] == "leads"]
            for sink in sinks[who]:
                assert {_agency(e) for e in sink.events} == {agencies[who]}
    finally:
        for subscription in subscriptions:
            await subscription.close()


def _agency(event: dict[str, Any]) -> str:
    return str((event.get("record") or event["old_record"])["agency_id"])
