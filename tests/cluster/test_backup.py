"""Backups: a base backup from a replica, more writes, and a restore to a time between them."""

from __future__ import annotations

import time

import psycopg

from gardenos.backup.backup import list_backups, restore, stop_restored, take_backup
from gardenos.cluster.cluster import Cluster
from tests.cluster.test_cluster import gardenos


def _wait_archived(conn: psycopg.Connection) -> None:
    row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
    assert row is not None
    deadline = time.monotonic() + 60
    while True:
        last = conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()
        if last is not None and last[0] is not None and last[0][8:] >= row[0][8:]:
            return
        assert time.monotonic() < deadline, "the WAL segment was never archived"
        time.sleep(0.1)


def test_restore_to_a_time_brings_back_exactly_the_rows_before_it(cluster: Cluster) -> None:
    state = cluster.wait_healthy()
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE pitr (id int PRIMARY KEY, phase text NOT NULL)")
        conn.execute("INSERT INTO pitr SELECT g, 'before backup' FROM generate_series(1, 100) g")

    backup = take_backup(cluster)
    assert backup.encrypted
    assert backup.source in {m.name for m in state.replicas}
    assert backup.label in [b.label for b in list_backups(cluster)]
    assert not list(backup.folder.glob("*.tar.gz")), "an encrypted backup keeps no plain tar"

    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute("INSERT INTO pitr SELECT g, 'after backup' FROM generate_series(101, 150) g")
        target = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
        time.sleep(0.2)
        conn.execute("INSERT INTO pitr SELECT g, 'too late' FROM generate_series(151, 170) g")
        _wait_archived(conn)

    restored = restore(cluster, target)
    try:
        with psycopg.connect(restored.url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT phase, count(*), min(id), max(id) FROM pitr GROUP BY 1 ORDER BY 1"
            ).fetchall()
            assert rows == [("after backup", 50, 101, 150), ("before backup", 100, 1, 100)]
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
    finally:
        assert stop_restored(cluster, restored.folder)


def test_backup_commands(cluster: Cluster) -> None:
    listed = gardenos(cluster, "backup", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip().startswith("[")
    refused = gardenos(cluster, "restore", "--to", "yesterday-ish")
    assert refused.returncode == 1
    assert "is not a time" in refused.stderr
    too_early = gardenos(cluster, "restore", "--to", "2001-01-01 00:00:00")
    assert too_early.returncode == 1
    assert "no base backup finished before" in too_early.stderr
