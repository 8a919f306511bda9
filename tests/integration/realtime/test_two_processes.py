"""Two API processes over one database (the session's API and a `gardenos up` beside it): broadcasts and
presence reach clients of either, PostgreSQL being the bus; a process that stops takes its presences
with it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.integration.realtime.conftest import eventually, realtime_client, subscribed
from tests.live import Api, Member, UpProcess, agency_owner
from tests.support import SessionDatabase

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def second(database: SessionDatabase, tmp_path: Path) -> Iterator[UpProcess]:
    process = UpProcess(database, tmp_path / "up.log", GARDENOS_AI_WORKERS="false")
    try:
        yield process
    finally:
        if process.proc.poll() is None:
            process.interrupt()


async def test_broadcast_and_presence_cross_processes(api: Api, second: UpProcess) -> None:
    owner = agency_owner(api, "Two Process Agency")
    topic = f"shared-{uuid.uuid4().hex[:8]}"
    config = {"config": {"broadcast": {"self": False}, "presence": {"key": "", "enabled": True}}}
    heard_here: list[dict[str, Any]] = []
    heard_there: list[dict[str, Any]] = []
    left: list[str] = []
    async with (
        realtime_client(api.url, api.anon_key, owner.access_token) as here,
        realtime_client(second.url, second.anon_key, owner.access_token) as there,
    ):
        config_here = {"config": config["config"] | {"presence": {"key": "here", "enabled": True}}}
        config_there = {"config": config["config"] | {"presence": {"key": "there", "enabled": True}}}
        channel_here = here.channel(topic, config_here)
        channel_here.on_broadcast("*", heard_here.append)
        channel_here.on_presence_sync(lambda: None)
        channel_here.on_presence_leave(lambda key, current, gone: left.append(key))
        assert (await subscribed(channel_here))[0] == "SUBSCRIBED"
        await channel_here.track({"process": "first"})

        channel_there = there.channel(topic, config_there)
        channel_there.on_broadcast("*", heard_there.append)
        channel_there.on_presence_sync(lambda: None)
        assert (await subscribed(channel_there))[0] == "SUBSCRIBED"
        # Joined on the second process, it was handed the presence tracked on the first.
        await eventually(
            lambda: "here" in channel_there.presence_state(), "the second process sees the first's"
        )
        await channel_there.track({"process": "second"})
        await eventually(
            lambda: "there" in channel_here.presence_state(), "the first process sees the second's"
        )

        await channel_here.send_broadcast("hello", {"from": "first"})
        await channel_there.send_broadcast("hello", {"from": "second"})
        await eventually(lambda: heard_there, "the first's broadcast reached the second process")
        await eventually(lambda: heard_here, "the second's broadcast reached the first process")
        assert [m["payload"] for m in heard_there] == [{"from": "first"}]
        assert [m["payload"] for m in heard_here] == [{"from": "second"}]

        with second.http(owner.access_token) as http:
            sent = http.post(
                "/realtime/v1/api/broadcast",
                json={"messages": [{"topic": topic, "event": "over-http", "payload": {"n": 1}}]},
            )
            assert sent.status_code == 202, sent.text
        await eventually(
            lambda: len(heard_here) == 2, "an HTTP broadcast on the second process reached the first"
        )

        # The second process stops: its client's presence leaves everyone else's state.
        second.interrupt()
        await eventually(lambda: "there" in left, "the stopped process's presence left")
        assert set(channel_here.presence_state()) == {"here"}


# The advisory lock that elects a node's slot reader (realtime/changes/slot.py), and who holds it.
READER = """
SELECT l.pid FROM pg_locks l
WHERE l.locktype = 'advisory' AND l.granted
  AND l.classid = hashtext('gardenos_change_feed')::oid AND l.objid = hashtext(%s)::oid
"""


def reader_pid(database: SessionDatabase, slot: str) -> int | None:
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        row = conn.execute(READER, (slot,)).fetchone()
    return int(row[0]) if row else None


def insert_lead(database: SessionDatabase, agency: str, name: str) -> None:
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        conn.execute("INSERT INTO leads (agency_id, first_name) VALUES (%s, %s)", (agency, name))


async def wait_until(check: Callable[[], Any], what: str) -> Any:
    """As `eventually`, with room for a process to be swept or to take the slot over on a loaded machine."""
    for _ in range(1200):
        value = check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"never happened: {what}")


async def test_a_kill_9_of_the_slot_reader_loses_nothing_for_clients_on_the_other_process(
    api: Api, database: SessionDatabase, tmp_path: Path
) -> None:
    """Two processes of one node (one slot, a slot name of their own here): the first reads the slot;
    it is killed with SIGKILL. The second takes the slot over; its own client receives every change,
    those committed while no process read the slot too, with no gap notice (nothing was missed); a client
    of the killed process that joins again on the second receives every change committed after it
    joined; the killed process's presence leaves the others' state once its lease runs out. When the
    slot itself is lost, every channel is told with a `system` message."""
    owner = agency_owner(api, "Kill Nine Agency")
    slot = f"test_{uuid.uuid4().hex[:16]}"
    env = {
        "GARDENOS_AI_WORKERS": "false",
        "GARDENOS_REALTIME_SLOT_NAME": slot,
        "GARDENOS_REALTIME_POLL_INTERVAL_S": "0.02",
        "GARDENOS_REALTIME_NODE_TIMEOUT_S": "3",
    }
    first = UpProcess(database, tmp_path / "first.log", **env)
    try:
        killed_reader = await wait_until(
            lambda: reader_pid(database, slot), "the first process reads the slot"
        )
        second = UpProcess(database, tmp_path / "second.log", **env)
        try:
            await _kill_the_reader(api, database, owner, first, second, slot, killed_reader)
        finally:
            if second.proc.poll() is None:
                second.interrupt()
    finally:
        first.kill()
        with psycopg.connect(database.owner_url, autocommit=True) as conn:
            for _ in range(100):
                try:
                    conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                    break
                except psycopg.errors.ObjectInUse:
                    await asyncio.sleep(0.1)
                except psycopg.errors.UndefinedObject:
                    break


def _names(events: list[dict[str, Any]]) -> list[str]:
    return [e["data"]["record"]["first_name"] for e in events]


async def _kill_the_reader(
    api: Api,
    database: SessionDatabase,
    owner: Member,
    first: UpProcess,
    second: UpProcess,
    slot: str,
    killed_reader: int,
) -> None:
    agency = owner.agency_id
    topic = f"kill-{uuid.uuid4().hex[:8]}"
    stayed: list[dict[str, Any]] = []
    stayed_notes: list[str] = []
    moved: list[dict[str, Any]] = []
    rejoined: list[dict[str, Any]] = []
    rejoined_notes: list[str] = []
    left: list[str] = []
    changes = {"event": "INSERT", "table": "leads", "filter": f"agency_id=eq.{agency}"}

    def config(key: str) -> dict[str, Any]:
        return {"config": {"presence": {"key": key, "enabled": True}}}

    async with realtime_client(second.url, second.anon_key, owner.access_token) as there:
        on_second = there.channel(topic, config("there"))
        on_second.on_postgres_changes(callback=stayed.append, **changes)
        on_second.on_system(lambda payload: stayed_notes.append(payload.message))
        on_second.on_presence_sync(lambda: None)
        on_second.on_presence_leave(lambda key, current, gone: left.append(key))
        assert (await subscribed(on_second))[0] == "SUBSCRIBED"

        async with realtime_client(first.url, first.anon_key, owner.access_token) as here:
            on_first = here.channel(topic, config("here"))
            on_first.on_postgres_changes(callback=moved.append, **changes)
            on_first.on_presence_sync(lambda: None)
            assert (await subscribed(on_first))[0] == "SUBSCRIBED"
            await on_first.track({"process": "first"})
            await eventually(lambda: "here" in on_second.presence_state(), "the first's presence")

            insert_lead(database, agency, "before")
            await eventually(lambda: _names(moved) == ["before"], "the first process's client got it")
            await eventually(lambda: _names(stayed) == ["before"], "the second process's client got it")

            first.kill()
            insert_lead(database, agency, "while-nobody-reads")
            taken = await wait_until(
                lambda: (pid := reader_pid(database, slot)) not in (None, killed_reader) and pid,
                "the second process took the slot over",
            )
            assert taken != killed_reader

        async with realtime_client(second.url, second.anon_key, owner.access_token) as again:
            on_again = again.channel(topic, config("here-again"))
            on_again.on_postgres_changes(callback=rejoined.append, **changes)
            on_again.on_system(lambda payload: rejoined_notes.append(payload.message))
            on_again.on_presence_sync(lambda: None)
            assert (await subscribed(on_again))[0] == "SUBSCRIBED"
            insert_lead(database, agency, "after")
            await eventually(lambda: "after" in _names(rejoined), "the rejoined client got a later change")
            await eventually(lambda: "after" in _names(stayed), "the staying client got the later change")
            assert _names(stayed) == ["before", "while-nobody-reads", "after"]
            assert _names(rejoined) == ["after"]
            gaps = [n for n in stayed_notes + rejoined_notes if n != "Subscribed to PostgreSQL"]
            assert gaps == [], "nothing was missed: no gap notice"

            # The killed process's presence is swept once its lease runs out.
            await wait_until(lambda: "here" in left, "the killed process's presence left")
            assert "here" not in on_second.presence_state()
            assert "here" not in on_again.presence_state()

            # The slot itself is lost (as on a new leader that never had it): it is made again, and every
            # channel is told that changes may have been missed.
            with psycopg.connect(database.owner_url, autocommit=True) as conn:
                for _ in range(200):
                    try:
                        conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
                        break
                    except psycopg.errors.ObjectInUse:
                        await asyncio.sleep(0.01)  # the reader is peeking right now
            insert_lead(database, agency, "after-the-loss")
            await wait_until(
                lambda: (
                    any("created again" in n for n in stayed_notes)
                    and any("created again" in n for n in rejoined_notes)
                ),
                "a gap notice on both channels",
            )
            insert_lead(database, agency, "later")
            await eventually(lambda: "later" in _names(stayed), "changes flow on the new slot")
            await eventually(lambda: "later" in _names(rejoined), "changes flow on the new slot")
