"""`cluster down` then `cluster up` resumes the same timeline: a clean stop and start is not a
failover (it used to promote a node at every start, one timeline and one `.partial` segment each)."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from gardenos.backup.backup import restore_window, take_backup
from gardenos.cluster.cluster import Cluster
from tests.cluster.conftest import gardenos


def _timeline_and_rows(cluster: Cluster) -> tuple[str, int]:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8), (SELECT count(*) FROM restart_rows)"
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def test_down_and_up_keep_the_timeline(cluster: Cluster) -> None:
    cluster.wait_healthy()
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE restart_rows (id int)")
        conn.execute("INSERT INTO restart_rows SELECT generate_series(1, 10)")
    timeline, rows = _timeline_and_rows(cluster)
    histories = sorted(p.name for p in cluster.layout.wal_archive.glob("*.history"))

    take_backup(cluster)
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        last_write = conn.execute(
            "INSERT INTO restart_rows VALUES (0) RETURNING clock_timestamp()"
        ).fetchone()
    assert last_write is not None
    rows += 1

    for round_ in range(2):
        down = gardenos(cluster, "cluster", "down")
        assert down.returncode == 0, down.stderr
        if round_ == 0:
            # Stopped: the window comes from the archive, which `down` brought up to the stop.
            window = restore_window(cluster)
            assert not window.live
            assert window.latest is not None
            assert window.latest >= last_write[0]
            after = gardenos(cluster, "restore", "--to", (window.latest + timedelta(seconds=1)).isoformat())
            assert after.returncode == 1
            assert "is outside what can be restored: from 20" in after.stderr
        up = gardenos(cluster, "cluster", "up")
        assert up.returncode == 0, up.stderr
        assert _timeline_and_rows(cluster) == (timeline, rows)

    assert sorted(p.name for p in cluster.layout.wal_archive.glob("*.history")) == histories
    assert not list(cluster.layout.wal_archive.glob(f"{timeline}*.partial"))
