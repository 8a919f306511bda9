"""`prune` on a backup folder laid out by hand (no cluster runs): base backups with their manifests
across a timeline switch, the WAL archive with history and partial files, debris of backups cut short,
and a restored server still in recovery, which holds everything back."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gardenos.backup.backup import list_backups
from gardenos.backup.retention import plan_prune, prune
from gardenos.backup.storage import META
from gardenos.cluster.cluster import Cluster
from gardenos.cluster.layout import ClusterSpec
from tests.support import make_settings, remove_runtime

NOW = datetime.now(UTC)


def _seg(timeline: int, index: int, suffix: str = "") -> str:
    return f"{timeline:08X}{index // 256:08X}{index % 256:08X}{suffix}"


def _lsn(index: int) -> str:
    """An LSN 40 bytes into segment `index` (16 MiB segments)."""
    position = index * (16 << 20) + 40
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:08X}"


def _label(at: datetime) -> str:
    return at.strftime("%Y%m%dT%H%M%S%fZ")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    settings = make_settings(tmp_path, backup_keep_count=2, backup_keep_days=0.0, backup_schedule="off")
    cluster = Cluster(settings)
    layout = cluster.layout
    layout.spec_file.parent.mkdir(parents=True)
    ClusterSpec.new(settings, 3).save(layout.spec_file)
    layout.base_backups.mkdir(parents=True)
    layout.wal_archive.mkdir(parents=True)
    # Four backups, a day apart: two on timeline 1 (starting in segments 2 and 5), two on timeline 2
    # after the switch in segment 0x10 (starting in 0x12 and 0x15).
    for days_ago, timeline, start in ((4, 1, 2), (3, 1, 5), (2, 2, 0x12), (1, 2, 0x15)):
        at = NOW - timedelta(days=days_ago)
        folder = layout.base_backups / _label(at)
        folder.mkdir()
        ranges = [{"Timeline": timeline, "Start-LSN": _lsn(start), "End-LSN": _lsn(start + 1)}]
        (folder / "backup_manifest").write_text(json.dumps({"WAL-Ranges": ranges}))
        (folder / "base.tar.gz.enc").write_bytes(b"x")
        meta = {
            "label": _label(at),
            "source": "node2",
            "started_at": at.isoformat(),
            "finished_at": at.isoformat(),
            "consistent_at": at.isoformat(),
            "encrypted": True,
            "size_bytes": 1,
            "wal_end": start + 1,
        }
        (folder / META).write_text(json.dumps(meta))
    # Debris: a backup cut short while stored (no backup.json) and one cut short while staged.
    (layout.base_backups / _label(NOW - timedelta(days=2, hours=1))).mkdir()
    (layout.base_backups / f".{_label(NOW - timedelta(days=3, hours=1))}.partial").mkdir()
    names = [
        *(_seg(1, i) for i in range(1, 0x10)),
        _seg(1, 0x10, ".partial"),
        "00000002.history",
        *(_seg(2, i) for i in range(0x10, 0x18)),
    ]
    for name in names:
        (layout.wal_archive / name).write_bytes(b"")
    try:
        yield cluster
    finally:
        remove_runtime(settings)


def test_prune_keeps_the_newest_backups_and_the_wal_from_the_oldest_kept_ones_start(
    cluster: Cluster,
) -> None:
    labels = [b.label for b in list_backups(cluster)]
    dry = plan_prune(cluster, dry_run=True)
    assert dry.removed == tuple(labels[:2])
    assert dry.kept == tuple(labels[2:])
    assert dry.wal_kept_from == 0x12

    done = prune(cluster)
    assert done.removed == dry.removed
    assert [b.label for b in list_backups(cluster)] == labels[2:]
    left = sorted(p.name for p in cluster.layout.wal_archive.iterdir())
    # Timeline 1 entirely (its partial last segment too) and timeline 2 before the oldest kept start.
    assert left == ["00000002.history", *(_seg(2, i) for i in range(0x12, 0x18))]
    # Gone whole: the removed backups' folders and the debris older than the newest backup.
    assert sorted(p.name for p in cluster.layout.base_backups.iterdir()) == labels[2:]

    again = prune(cluster)
    assert (again.removed, again.wal_removed, again.unfinished, again.partial) == ((), (), (), ())


def test_nothing_is_removed_while_a_restored_server_replays_the_archive(cluster: Cluster) -> None:
    folder = cluster.layout.restores_dir / "20261203T000000000000Z"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "recovery.signal").write_text("")
    # A process standing in for its postmaster: its command line names the data folder, as one does.
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", str(folder / "data")])
    try:
        (folder / "postgres.pid").write_text(f"{stand_in.pid}\n")
        plan = prune(cluster)
        assert (plan.removed, plan.wal_removed) == ((), ())
        assert "restores in recovery (20261203T000000000000Z)" in plan.notes[0]
        assert len(list_backups(cluster)) == 4

        # Promoted (its recovery.signal gone): pruning goes ahead.
        (folder / "data" / "recovery.signal").unlink()
        assert len(prune(cluster).removed) == 2
    finally:
        stand_in.kill()
        stand_in.wait()
