"""Realtime database changes through a change of leader: a client of the API (the official Python client)
follows an agency's leads while a writer commits one lead after another straight to the leader, through
`gardenos cluster switchover` and then a kill -9 of the leader node.

The change feed's slot is a failover slot (created with `failover => true`; standbys run
`sync_replication_slots`), so the new leader has it at a position no later than what the feed had
confirmed: every committed change reaches the client (some perhaps twice), with no gap notice. Were the
slot missing on the new leader, the feed would make it again and tell the channel (`system`), never
lose silently: test_processes.py and test_two_processes.py cover that path.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from gardenos.cluster.api_target import ApiTarget, serve_api
from gardenos.cluster.cluster import Cluster
from tests.cluster.conftest import gardenos
from tests.integration.realtime.conftest import realtime_client, subscribed

pytestmark = pytest.mark.anyio

SLOT = "gardenos_realtime"  # the default slot name, which serve_api's API reads
# A synced slot that is usable after a promotion (not the temporary one a standby starts with).
SYNCED = """
SELECT 1 FROM pg_replication_slots
WHERE slot_name = %s AND synced AND NOT temporary
"""
WAIT_S = 180.0


@pytest.fixture(scope="module")
def api(cluster: Cluster) -> Iterator[ApiTarget]:
    with serve_api(cluster) as target:
        yield target


class Writer:
    """Commits `<prefix>-<n>` leads one after another through HAProxy's read-write port; keeps the names
    whose commit was acknowledged (a commit cut by the failover is in doubt, and not kept)."""

    def __init__(self, cluster: Cluster, agency: str, prefix: str) -> None:
        self.url = cluster.url(connect_timeout=3)
        self.agency = agency
        self.prefix = prefix
        self.acknowledged: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"writer-{prefix}", daemon=True)

    def __enter__(self) -> Writer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as conn:
                    while not self._stop.is_set():
                        n += 1
                        name = f"{self.prefix}-{n}"
                        conn.execute(
                            "INSERT INTO leads (agency_id, first_name) VALUES (%s, %s)", (self.agency, name)
                        )
                        self.acknowledged.append(name)
                        time.sleep(0.05)
            except psycopg.Error:
                time.sleep(0.2)  # no leader right now, or the connection went with the old one

    def acked_after(self, count: int) -> bool:
        return len(self.acknowledged) > count


async def wait_until(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.1)


def slot_synced_on_standbys(cluster: Cluster) -> bool:
    state = cluster.state()
    standbys = [m.name for m in state.members if state.leader is None or m.name != state.leader.name]
    if not standbys:
        return False
    for name in standbys:
        try:
            with psycopg.connect(cluster.node_url(name), autocommit=True, connect_timeout=3) as conn:
                if conn.execute(SYNCED, (SLOT,)).fetchone() is None:
                    return False
        except psycopg.Error:
            return False
    return True


async def _follow_through(
    cluster: Cluster, api: ApiTarget, fault: Callable[[], object], prefix: str
) -> tuple[list[str], list[str]]:
    """Subscribe, write through `fault`, and return (names received, the changes' gap notices)."""
    received: list[str] = []
    notes: list[tuple[str, str]] = []
    await wait_until(lambda: slot_synced_on_standbys(cluster), "every standby has the failover slot")
    token = api.headers["Authorization"].removeprefix("Bearer ")
    async with realtime_client(api.url, api.headers["apikey"], token) as client:
        channel = client.channel(f"leads-{prefix}")
        channel.on_postgres_changes(
            "INSERT",
            lambda payload: received.append(payload["data"]["record"]["first_name"]),
            table="leads",
            filter=f"agency_id=eq.{api.agency_id}",
        )
        channel.on_system(lambda payload: notes.append((payload.extension, payload.message)))
        assert (await subscribed(channel))[0] == "SUBSCRIBED"
        with Writer(cluster, api.agency_id, prefix) as writer:
            await wait_until(
                lambda: writer.acknowledged and writer.acknowledged[0] in received, "a first change"
            )
            await asyncio.to_thread(fault)
            # Writes acknowledged by the new leader, and what the client received of them.
            after = len(writer.acknowledged)
            await wait_until(lambda: len(writer.acknowledged) > after + 20, "writes on the new leader")
        await wait_until(
            lambda: set(writer.acknowledged) <= set(received),
            f"every acknowledged change delivered ({len(set(writer.acknowledged) - set(received))} missing)",
        )
    # The changes' notices past the subscription's (the broadcast bus may say its connection was lost:
    # broadcasts are not kept anywhere to be read again).
    return received, [m for e, m in notes if e == "postgres_changes" and m != "Subscribed to PostgreSQL"]


async def test_changes_flow_after_a_switchover(cluster: Cluster, api: ApiTarget) -> None:
    def switchover() -> None:
        result = gardenos(cluster, "cluster", "switchover")
        assert result.returncode == 0, result.stderr

    old = cluster.wait_healthy().leader
    received, notes = await _follow_through(cluster, api, switchover, "switchover")
    assert cluster.wait_healthy().leader != old
    assert notes == [], "the new leader had the slot: nothing was missed"
    assert received, "changes reached the client"


async def test_changes_flow_after_a_kill_9_of_the_leader(cluster: Cluster, api: ApiTarget) -> None:
    state = cluster.wait_healthy()
    assert state.leader is not None
    old = state.leader.name

    def kill_leader() -> None:
        cluster.stop_node(old, kill=True)

    try:
        received, notes = await _follow_through(cluster, api, kill_leader, "kill")
    finally:
        cluster.start_node(old)
        cluster.wait_member(old, timeout=180)
    assert notes == [], "the new leader had the slot: nothing was missed"
    assert received
