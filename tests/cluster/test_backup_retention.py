"""Scheduled base backups and retention on the real cluster: the schedule (started by `cluster up`,
stopped when turned off) takes backups, across a switchover too, and prunes old ones with the WAL before
them; the window shrinks to match, a time before it is refused, and a time in it still restores (across
the timeline switch when the older kept backup is on the old timeline). Then `gardenos backup prune` on
S3-compatible storage (moto's server on loopback)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import boto3
import psycopg

from gardenos.backup.archiving import archive_now, segment_number
from gardenos.backup.backup import (
    BaseBackup,
    backup_store,
    list_backups,
    restore,
    restore_window,
    stop_restored,
    take_backup,
)
from gardenos.backup.lock import backup_lock
from gardenos.backup.retention import backup_start, prune
from gardenos.backup.window import segment_index
from gardenos.cluster.cluster import Cluster
from tests.cluster.conftest import S3_BUCKET, gardenos, with_s3


def _poll(check: Callable[[], bool], what: str, timeout: float = 180) -> None:
    """A bounded wait for something that happens in another process."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f} s"
        time.sleep(0.2)


def _segments(names: list[str]) -> dict[str, int]:
    return {name: segment_index(number) for name in names if (number := segment_number(name)) is not None}


def _replayed(cluster: Cluster, lsn: str) -> bool:
    """Whether every replica has replayed the leader's WAL up to `lsn`."""
    for member in cluster.state().replicas:
        with psycopg.connect(cluster.node_url(member.name, dbname="postgres"), autocommit=True) as conn:
            row = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)).fetchone()
            if row is None or not row[0]:
                return False
    return True


def _shown(moment: datetime) -> str:
    """A time as the refusal prints it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _refused_before_the_window(cluster: Cluster, gone: BaseBackup, oldest: BaseBackup) -> None:
    moment = gone.restorable_from.isoformat()
    refused = gardenos(cluster, "restore", "--to", moment, settings=cluster.settings)
    assert refused.returncode == 1, refused.stdout
    assert f"is outside what can be restored: from {_shown(oldest.restorable_from)}" in refused.stderr


def test_the_schedule_takes_backups_and_retention_prunes_backups_and_wal(cluster: Cluster) -> None:
    cluster.wait_healthy()
    store = backup_store(cluster)
    histories = {n for n in store.wal_names() if n.endswith(".history")}
    first = take_backup(cluster)
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE scheduled_rows (id int)")
        conn.execute("INSERT INTO scheduled_rows SELECT generate_series(1, 10)")
    archive_now(cluster.url())
    before = _segments(store.wal_names())

    scheduled = Cluster(
        cluster.settings.model_copy(
            update={"backup_schedule": "2s", "backup_keep_count": 2, "backup_keep_days": 0.0}
        )
    )
    try:
        scheduled.up()  # the cluster runs: this starts the schedule alone
        assert scheduled.backup_schedule().is_running()

        def two_newer_and_first_pruned() -> bool:
            labels = [b.label for b in list_backups(cluster)]
            return first.label not in labels and len([x for x in labels if x > first.label]) >= 2

        _poll(two_newer_and_first_pruned, "two scheduled backups and the prune of the first")
        # One at a time: `gardenos backup` while the lock is held is refused, naming the holder.
        with backup_lock(cluster.layout, "test's backup"):
            refused = gardenos(cluster, "backup")
        assert refused.returncode == 1
        assert "a test's backup (pid" in refused.stderr
        status = gardenos(cluster, "cluster", "status", "--json")
        assert status.returncode == 0, status.stderr
        shown = json.loads(status.stdout)["backup"]
        assert shown["schedule_running"] is True
        assert shown["next_run"] is not None
        assert shown["age_s"] is not None
        assert shown["newest"] == list_backups(cluster)[-1].label
        table = gardenos(cluster, "cluster", "status")
        assert "newest backup" in table.stdout

        # After a switchover the next scheduled backup is taken all the same, from the new leader's
        # replicas, on the new timeline.
        _, new_leader = cluster.switchover()
        switched = datetime.now(UTC)
        _poll(
            lambda: any(b.started_at > switched for b in list_backups(cluster)),
            "a scheduled backup after the switchover",
        )
    finally:
        cluster.up()  # the tests' settings: the schedule is off, so `up` stops it
    assert not cluster.backup_schedule().is_running()
    assert "stopped" in cluster.backup_schedule().log_tail()

    kept = list_backups(cluster)
    assert len(kept) == 2, [b.label for b in kept]
    assert kept[-1].started_at > switched
    assert kept[-1].source != new_leader
    start = backup_start(store, kept[0])
    assert start is not None
    assert kept[0].wal_end is not None
    assert start <= kept[0].wal_end, "the manifest's WAL start is where the backup's WAL begins"
    # The schedule pruned the first backup's WAL ...
    pruned = _segments(store.wal_names())
    assert [n for n, index in before.items() if index < start], "the first backup's WAL was archived"
    assert not [n for n, index in before.items() if index < start and n in pruned]
    # ... but every member archives (`archive_mode = always`): a replica can archive the old timeline's
    # last segment after the schedule's last prune. The next prune removes it, and anything else before.
    prune(cluster)
    after = _segments(store.wal_names())
    assert min(after.values()) >= start
    assert histories <= set(store.wal_names()), "history files stay"

    window = restore_window(cluster)
    assert window.earliest == kept[0].restorable_from
    _refused_before_the_window(cluster, first, kept[0])

    # A time between the two kept backups restores from the older one: its WAL is all there.
    target = kept[0].restorable_from + (kept[1].restorable_from - kept[0].restorable_from) / 2
    restored = restore(cluster, target)
    try:
        assert restored.backup == kept[0].label
        with psycopg.connect(restored.url, autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM scheduled_rows").fetchone() == (10,)
    finally:
        stop_restored(cluster, restored.folder)


def test_prune_on_s3_compatible_storage(cluster: Cluster, s3_server: str) -> None:
    prefix = f"tests/{uuid.uuid4().hex[:8]}"
    settings = with_s3(cluster.settings, s3_server, prefix).model_copy(
        update={"backup_keep_count": 1, "backup_keep_days": 0.0}
    )
    on_s3 = Cluster(settings)
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id="test-key",
        aws_secret_access_key="test-secret",
        region_name="us-east-1",
    )

    def objects() -> set[str]:
        return {
            item["Key"][len(prefix) + 1 :]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET, Prefix=prefix)
            for item in page.get("Contents", [])
        }

    try:
        on_s3.up()  # the nodes archive to S3 once Patroni has reloaded
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            deadline = time.monotonic() + 30
            while "--store" not in str(conn.execute("SHOW archive_command").fetchone()):
                assert time.monotonic() < deadline, "the leader never took the new archive_command"
                time.sleep(0.1)
        old = take_backup(on_s3)
        for _ in range(2):
            archive_now(cluster.url())
        # A backup from a replica starts at the replica's last restartpoint, which follows the leader's
        # checkpoints: one now makes the next backup start after the segments just archived.
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CHECKPOINT")
            lsn = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]  # type: ignore[index]
        _poll(lambda: _replayed(cluster, lsn), "the replicas' replay of the checkpoint", timeout=60)
        new = take_backup(on_s3)
        archive_now(cluster.url())
        s3.put_object(Bucket=S3_BUCKET, Key=f"{prefix}/wal/00000009.history", Body=b"9\t0/0\tnot a switch\n")
        stored = objects()
        assert f"base/{old.label}/backup_manifest" in stored

        dry = gardenos(cluster, "backup", "prune", "--dry-run", "--json", settings=settings)
        assert dry.returncode == 0, dry.stderr
        plan = json.loads(dry.stdout)
        assert (plan["dry_run"], plan["removed"], plan["kept"]) == (True, [old.label], [new.label])
        assert plan["wal_removed"] > 0, (plan, sorted(stored))
        assert objects() == stored, "a dry run removes nothing"

        done = gardenos(cluster, "backup", "prune", "--json", settings=settings)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["removed"] == [old.label]
        left = objects()
        assert not [k for k in left if k.startswith(f"base/{old.label}/")]
        assert f"base/{new.label}/backup.json" in left
        assert "wal/00000009.history" in left
        start = backup_start(backup_store(on_s3), new)
        assert start is not None
        wal = _segments([k.removeprefix("wal/") for k in left if k.startswith("wal/")])
        assert wal, "the WAL the newest backup needs stays"
        assert min(wal.values()) >= start

        listed = gardenos(cluster, "backup", "list", "--json", settings=settings)
        assert listed.returncode == 0, listed.stderr
        found = json.loads(listed.stdout)
        assert [b["label"] for b in found["backups"]] == [new.label]
        assert found["window"]["earliest"] == new.restorable_from.isoformat()
        _refused_before_the_window(on_s3, old, new)

        again = gardenos(cluster, "backup", "prune", "--json", settings=settings)
        assert json.loads(again.stdout)["removed"] == []
        assert json.loads(again.stdout)["wal_removed"] == 0
    finally:
        cluster.up()  # back to the backup folder for the tests that follow
