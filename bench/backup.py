"""Backup figures on a private 3-node cluster (removed afterwards): the archive lag after
`pg_switch_wal()` (from the switch until the leader's `pg_stat_archiver` shows the segment archived),
over `switches` switches, each after a small write.

Target (issue 15): a switched segment is in the archive within seconds. The baseline in the same run
is one run of the archive command itself (the service user's Python starting walcrypt.py on an empty
file), the floor under every archived segment.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import time
from pathlib import Path

import psycopg
from rich.console import Console

from bench.cluster import bench_settings
from gardenos.backup.archiving import archive_now
from gardenos.cluster.cluster import Cluster


def run(switches: int = 20) -> None:
    console = Console(width=150)
    settings = bench_settings("backup", backup_encryption_key="bench-backup-key-0123456789abcdefghij")
    base = settings.data_dir.parent
    cluster = Cluster(settings)
    try:
        cluster.up(3)
        lags = []
        with psycopg.connect(cluster.url(), autocommit=True) as conn:
            conn.execute("CREATE TABLE bench_archive (id int)")
        for number in range(switches):
            with psycopg.connect(cluster.url(), autocommit=True) as conn:
                conn.execute("INSERT INTO bench_archive VALUES (%s)", (number,))
            lags.append(archive_now(cluster.url(), timeout=120).lag_s)
        floor = _archive_command_once(cluster, base)
        ordered = sorted(lags)
        p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
        console.print(
            f"backup: archive lag after pg_switch_wal over {switches} switches: "
            f"p50 {statistics.median(lags):.2f} s, p95 {p95:.2f} s, max {max(lags):.2f} s "
            f"(encrypted, backup folder); baseline: one archive command {floor:.2f} s"
        )
    finally:
        cluster.down()
        cluster.remove()
        shutil.rmtree(base, ignore_errors=True)


def _archive_command_once(cluster: Cluster, base: Path) -> float:
    empty = base / "empty"
    empty.write_bytes(b"")
    started = time.monotonic()
    subprocess.run(
        [
            str(cluster.python),
            str(cluster.layout.script_dir / "walcrypt.py"),
            "archive",
            str(empty),
            str(base / "out"),
        ],
        check=True,
    )
    return time.monotonic() - started
