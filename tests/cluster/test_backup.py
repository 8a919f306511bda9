"""Backups: a base backup from a replica, more writes, and a restore to a time between them, with the
backup folder and with S3-compatible storage (a real S3 server on loopback: moto's server mode)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import psycopg

from gardenos.backup import walcrypt
from gardenos.backup.archiving import archive_now
from gardenos.backup.backup import list_backups, restore, stop_restored, take_backup
from gardenos.cluster.cluster import Cluster
from tests.cluster.conftest import S3_BUCKET, gardenos, with_s3


def _write_around_a_target(cluster: Cluster, table: str) -> datetime:
    """50 rows after the backup, the target time, 20 rows too late; returns the target."""
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f"INSERT INTO {table} SELECT g, 'after backup' FROM generate_series(101, 150) g")
        target = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
        time.sleep(0.2)
        conn.execute(f"INSERT INTO {table} SELECT g, 'too late' FROM generate_series(151, 170) g")
    archive_now(cluster.url())
    assert isinstance(target, datetime)
    return target


def _assert_restored(cluster: Cluster, target: datetime, table: str) -> None:
    restored = restore(cluster, target)
    try:
        with psycopg.connect(restored.url, autocommit=True) as conn:
            rows = conn.execute(
                f"SELECT phase, count(*), min(id), max(id) FROM {table} GROUP BY 1 ORDER BY 1"
            ).fetchall()
            assert rows == [("after backup", 50, 101, 150), ("before backup", 100, 1, 100)]
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone() == (False,)
    finally:
        assert stop_restored(cluster, restored.folder)


def test_restore_to_a_time_brings_back_exactly_the_rows_before_it(cluster: Cluster) -> None:
    state = cluster.wait_healthy()
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE pitr (id int PRIMARY KEY, phase text NOT NULL)")
        conn.execute("INSERT INTO pitr SELECT g, 'before backup' FROM generate_series(1, 100) g")

    backup = take_backup(cluster)
    assert backup.encrypted
    assert backup.source in {m.name for m in state.replicas}
    assert backup.label in [b.label for b in list_backups(cluster)]
    assert not list(Path(backup.location).glob("*.tar.gz")), "an encrypted backup keeps no plain tar"

    target = _write_around_a_target(cluster, "pitr")
    _assert_restored(cluster, target, "pitr")


def test_backups_and_wal_go_to_s3_compatible_storage_when_configured(
    cluster: Cluster, s3_server: str
) -> None:
    prefix = f"tests/{uuid.uuid4().hex[:8]}"
    on_s3 = Cluster(with_s3(cluster.settings, s3_server, prefix))
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id="test-key",
        aws_secret_access_key="test-secret",
        region_name="us-east-1",
    )
    try:
        on_s3.up()  # rewrites the nodes' configuration; Patroni reloads the new archive_command
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            deadline = time.monotonic() + 30
            while "--store" not in str(conn.execute("SHOW archive_command").fetchone()):
                assert time.monotonic() < deadline, "the leader never took the new archive_command"
                time.sleep(0.1)
            conn.execute("CREATE TABLE pitr_s3 (id int PRIMARY KEY, phase text NOT NULL)")
            conn.execute("INSERT INTO pitr_s3 SELECT g, 'before backup' FROM generate_series(1, 100) g")

        backup = take_backup(on_s3)
        assert backup.location == f"s3://{S3_BUCKET}/{prefix}/base/{backup.label}/"
        target = _write_around_a_target(cluster, "pitr_s3")

        objects = {
            item["Key"]: item["Size"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET, Prefix=prefix)
            for item in page.get("Contents", [])
        }
        base = f"{prefix}/base/{backup.label}/"
        assert {f"{base}base.tar.gz.enc", f"{base}pg_wal.tar.gz.enc", f"{base}backup.json"} <= set(objects)
        segments = [key for key in objects if key.startswith(f"{prefix}/wal/")]
        assert segments, "no WAL segment was archived to S3"
        first = s3.get_object(Bucket=S3_BUCKET, Key=segments[0])["Body"].read()
        assert first.startswith(walcrypt.MAGIC), "WAL in S3 is encrypted when a key is set"

        listed = gardenos(cluster, "backup", "list", "--json", settings=on_s3.settings)
        assert listed.returncode == 0, listed.stderr
        assert backup.label in listed.stdout
        assert backup.label not in [b.label for b in list_backups(cluster)], "the folder has no S3 backup"

        _assert_restored(on_s3, target, "pitr_s3")
    finally:
        cluster.up()  # back to the backup folder for the tests that follow


def test_restore_to_a_moment_ago_needs_no_switch_from_the_user(cluster: Cluster) -> None:
    """The issue's accident: rows, T, more rows, restore to T at once. The restore archives the
    leader's WAL up to now itself (it failed with "recovery ended before configured recovery target
    was reached" while the segment holding T was not archived yet). A new backup: the S3 test's WAL
    went to S3, a hole in the folder's archive that older backups cannot cross."""
    take_backup(cluster)
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE moment_ago (id int PRIMARY KEY)")
        conn.execute("INSERT INTO moment_ago SELECT generate_series(1, 10)")
        target = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
        conn.execute("INSERT INTO moment_ago SELECT generate_series(11, 15)")
    restored = restore(cluster, target)
    try:
        assert restored.log_file.exists()
        with psycopg.connect(restored.url, autocommit=True) as conn:
            assert conn.execute("SELECT array_agg(id ORDER BY id) FROM moment_ago").fetchone() == (
                list(range(1, 11)),
            )
        # A managed object: listed with its port, stopped by its id.
        listed = gardenos(cluster, "restore", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        [entry] = [r for r in json.loads(listed.stdout) if r["id"] == restored.folder.name]
        assert (entry["running"], entry["port"]) == (True, restored.port)
        stopped = gardenos(cluster, "restore", "stop", restored.folder.name)
        assert stopped.returncode == 0, stopped.stderr
        listed = gardenos(cluster, "restore", "list", "--json")
        [entry] = [r for r in json.loads(listed.stdout) if r["id"] == restored.folder.name]
        assert entry["running"] is False
        unknown = gardenos(cluster, "restore", "stop", "no-such-restore")
        assert unknown.returncode == 1
        assert "restore list" in unknown.stderr
    finally:
        stop_restored(cluster, restored.folder)


def test_backup_commands(cluster: Cluster) -> None:
    taken = gardenos(cluster, "backup", "--json")
    assert taken.returncode == 0, taken.stderr
    label = json.loads(taken.stdout)["label"]
    listed = gardenos(cluster, "backup", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)
    assert label in [b["label"] for b in found["backups"]], found["backups"]
    window = found["window"]
    assert window["live"] is True
    assert window["earliest"] <= window["latest"]
    newest = max(found["window"]["timelines"], key=lambda t: t["timeline"])
    assert newest["latest"] == window["latest"]
    table = gardenos(cluster, "backup", "list")
    assert "latest restorable" in table.stdout
    assert "restorable from" in table.stdout

    refused = gardenos(cluster, "restore", "--to", "yesterday-ish")
    assert refused.returncode == 1
    assert "is not a time" in refused.stderr
    for outside in ("2001-01-01 00:00:00", (datetime.now(UTC) + timedelta(hours=1)).isoformat()):
        result = gardenos(cluster, "restore", "--to", outside)
        assert result.returncode == 1
        assert "is outside what can be restored: from 20" in result.stderr
        assert "FATAL" not in result.stderr
