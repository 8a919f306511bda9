"""The WAL archive keeps up: a switched segment is archived within a bounded wait, also when the
leader that wrote it dies right after the switch (a standby archives it)."""

from __future__ import annotations

import time

import psycopg

from gardenos.backup.archiving import archive_now, segment_number
from gardenos.cluster.cluster import Cluster


def _wait_in_archive(cluster: Cluster, segment: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while not (cluster.layout.wal_archive / segment).exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_a_switched_segment_is_reported_archived_by_the_leader(cluster: Cluster) -> None:
    cluster.wait_healthy()
    archived = archive_now(cluster.url(), timeout=60)
    assert (cluster.layout.wal_archive / archived.segment).exists()
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        row = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
    assert row is not None
    last = segment_number(row[0])
    assert last is not None
    assert last >= archived.segment[8:]


def test_a_segment_the_leader_finished_just_before_it_crashed_is_archived(cluster: Cluster) -> None:
    """With `archive_mode = on` only the leader archived: killed right after a switch, its last
    segment reached the archive only if the old leader came back (Patroni archives before a
    rewind), a hole for every restore meanwhile. Here the old leader stays down until it is there."""
    state = cluster.wait_healthy()
    assert state.leader is not None
    leader = state.leader.name
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS archive_crash (id int)")
        conn.execute("INSERT INTO archive_crash VALUES (1)")
        row = conn.execute("SELECT end_lsn, pg_walfile_name(end_lsn) FROM pg_switch_wal() end_lsn").fetchone()
        assert row is not None
        end, segment = row
        # The leader goes on writing, as a live one does: a synchronous commit in the next segment, so a
        # standby has received the whole switched segment and moved past it (a standby's receiver closes
        # a segment, and offers it to its archiver, when WAL of the next one arrives; a crash exactly at
        # the boundary with nothing after it is left to the promoted node's end of recovery).
        conn.execute("INSERT INTO archive_crash VALUES (2)")
        assert conn.execute(
            "SELECT count(*) FROM pg_stat_replication WHERE flush_lsn > %s", (end,)
        ).fetchone() != (0,), "the synchronous commit reached no standby"
    cluster.stop_node(leader, kill=True)
    try:
        assert _wait_in_archive(cluster, segment), f"{segment} never reached the archive"
        # The old leader comes back only after the failover, as a replica (restarted within the
        # lease it would take its own key back).
        deadline = time.monotonic() + 90
        while (found := cluster.state().leader) is None or found.name == leader:
            assert time.monotonic() < deadline, "no other node took over"
            time.sleep(0.2)
    finally:
        cluster.start_node(leader)
        cluster.wait_member(leader)
