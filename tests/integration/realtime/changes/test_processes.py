"""Several API processes on one node, played by several feeds on one slot (each with its own connections,
as each process has): one reads the slot, the others receive its batches over the bus; when the reader
goes away another takes over and nothing committed meanwhile is lost. A slot that vanished is made again
and every subscription is told that changes may have been missed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest

from gardenos.db.pool import Database
from gardenos.realtime.changes.feed import DatabaseChangeFeed
from gardenos.realtime.contracts import ChangeSpec
from tests.integration.realtime.changes.conftest import WAIT_S, Sink, World

pytestmark = pytest.mark.anyio


@contextlib.asynccontextmanager
async def second_process(world: World) -> AsyncIterator[DatabaseChangeFeed]:
    pool = Database(world.database.api_url, min_size=1, max_size=4)
    await pool.open()
    feed = DatabaseChangeFeed(
        pool, world.database.owner_url, slot_name=world.feed.slot_name, poll_interval_s=0.02
    )
    await feed.start()
    try:
        await asyncio.wait_for(feed.listening.wait(), WAIT_S)
        yield feed
    finally:
        await feed.stop()
        await pool.close()


def insert_leads(world: World, agency: str, names: list[str]) -> None:
    with world.owner() as conn:
        for name in names:
            conn.execute("INSERT INTO leads (agency_id, first_name) VALUES (%s, %s)", (agency, name))


async def test_a_process_that_does_not_read_the_slot_receives_through_the_bus(world: World) -> None:
    agency = world.agency()
    member = world.member(agency)
    async with second_process(world) as other:
        assert not other.reading.is_set()  # the fixture's feed holds the slot
        here, there = Sink(), Sink()
        await world.feed.subscribe(member.principal, ChangeSpec("INSERT", "public", "leads"), here)
        await other.subscribe(member.principal, ChangeSpec("INSERT", "public", "leads"), there)
        names = [f"n{i}" for i in range(50)]
        insert_leads(world, agency, names)
        assert [e["record"]["first_name"] for e in await there.wait(50)] == names
        assert [e["record"]["first_name"] for e in await here.wait(50)] == names


async def test_when_the_reader_goes_away_another_process_takes_over_and_loses_nothing(world: World) -> None:
    agency = world.agency()
    member = world.member(agency)
    async with second_process(world) as other:
        sink = Sink()
        await other.subscribe(member.principal, ChangeSpec("INSERT", "public", "leads"), sink)
        insert_leads(world, agency, ["before"])
        await sink.wait(1)
        # The reading process dies (its connections end with it); commits go on meanwhile.
        await world.feed.stop()
        insert_leads(world, agency, ["while", "away"])
        await asyncio.wait_for(other.reading.wait(), WAIT_S)
        insert_leads(world, agency, ["after"])
        assert [e["record"]["first_name"] for e in await sink.wait(4)] == ["before", "while", "away", "after"]
        assert sink.gaps == []


async def test_a_slot_made_again_tells_every_subscription_of_a_possible_gap(world: World) -> None:
    agency = world.agency()
    member = world.member(agency)
    async with second_process(world) as other:
        here, there = Sink(), Sink()
        await world.feed.subscribe(member.principal, ChangeSpec("INSERT", "public", "leads"), here)
        await other.subscribe(member.principal, ChangeSpec("INSERT", "public", "leads"), there)
        with world.owner() as conn:
            # As after a failover to a standby that never got the slot: it is gone.
            for _ in range(200):
                try:
                    conn.execute("SELECT pg_drop_replication_slot(%s)", (world.feed.slot_name,))
                    break
                except psycopg.errors.ObjectInUse:
                    await asyncio.sleep(0.01)  # the reader is peeking right now
        insert_leads(world, agency, ["after"])
        assert await here.wait_gap()
        assert await there.wait_gap()
        insert_leads(world, agency, ["later"])
        # "after" may or may not come, by when the slot was made again (hence the gap notice); "later" does.
        for sink in (here, there):
            names = [e["record"]["first_name"] for e in await sink.wait_for(lambda got: _named(got, "later"))]
            assert names[-1] == "later"


def _named(events: list[dict[str, Any]], name: str) -> bool:
    return any(e["record"]["first_name"] == name for e in events)


def terminate(world: World, pid: int) -> None:
    with world.owner() as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


def reader_pid(world: World) -> int:
    with world.owner() as conn:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = hashtext('gardenos_change_feed')::oid AND objid = hashtext(%s)::oid",
            (world.feed.slot_name,),
        ).fetchone()
    assert row is not None
    return int(row[0])


async def test_the_reader_losing_its_connections_misses_nothing_and_says_no_gap(world: World) -> None:
    """As in a failover: the only process's connections (its slot reader's and its bus listener's) are
    cut at once. It reads the slot again where it left it: nothing was missed, so no notice."""
    agency = world.agency()
    member = world.member(agency)
    sink = Sink()
    await world.feed.subscribe(member.principal, ChangeSpec("INSERT", "public", "leads"), sink)
    insert_leads(world, agency, ["before"])
    await sink.wait(1)
    listener = world.feed._listen_pid
    terminate(world, reader_pid(world))
    terminate(world, listener)
    insert_leads(world, agency, ["while", "away"])
    await sink.wait(3)
    insert_leads(world, agency, ["after"])
    assert [e["record"]["first_name"] for e in await sink.wait(4)] == ["before", "while", "away", "after"]
    # Long enough for a notice to have come (the feed waits a while to see whether it reads the slot).
    await asyncio.sleep(15)
    assert sink.gaps == []


async def test_a_process_whose_bus_connection_was_lost_while_another_read_is_told(world: World) -> None:
    agency = world.agency()
    member = world.member(agency)
    async with second_process(world) as other:
        sink = Sink()
        await other.subscribe(member.principal, ChangeSpec("INSERT", "public", "leads"), sink)
        insert_leads(world, agency, ["before"])
        await sink.wait(1)
        terminate(world, other._listen_pid)
        # Read by the fixture's feed while nobody else listens: not sent on the bus.
        insert_leads(world, agency, ["unheard"])
        assert await sink.wait_gap()
