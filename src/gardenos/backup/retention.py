"""Retention: which base backups go, and the WAL archive pruned to what the kept ones need.

The rule (GARDENOS_BACKUP_KEEP_COUNT = N, GARDENOS_BACKUP_KEEP_DAYS = D): a base backup is removed only
when all of these hold:
  - it is not the newest one;
  - at least N backups are newer than it (the count allows it);
  - a newer backup is itself more than D days old (the age allows it): restores then still reach D days
    back from the newer one, so removing this one never shortens the window below D days.

The WAL archive keeps every file from the segment where the oldest kept backup starts (its manifest's
first WAL range) on, on every timeline, and every `.history` file. Segments are compared by their
position in the WAL (log and segment number), not by their timeline, as `pg_archivecleanup` does: when
the oldest kept backup is on an older timeline, that timeline's segments from the backup's start up to
the switch, then the newer timeline's after it, are what a restore replays, and all of them are at or
after that position. A segment before it (of any timeline) can serve no kept backup: each begins later.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from gardenos.backup.archiving import segment_number
from gardenos.backup.backup import BaseBackup, backup_store, list_backups, list_restores
from gardenos.backup.storage import BackupStore
from gardenos.backup.window import lsn_segment, segment_index
from gardenos.cluster.cluster import Cluster

# pg_basebackup's manifest, stored (plain: it holds checksums and paths, no data) with the tars.
MANIFEST = "backup_manifest"
# In a restore's folder while its server replays WAL.
RECOVERING = "data/recovery.signal"


@dataclass(frozen=True)
class PrunePlan:
    """What a prune removes (or, dry, would remove) and what it keeps."""

    removed: tuple[str, ...]
    kept: tuple[str, ...]
    # The segment index from which the WAL archive is kept (None: the WAL is left as it is).
    wal_kept_from: int | None
    wal_removed: tuple[str, ...]
    # Base backups that were never finished (no `backup.json`), older than the newest finished one.
    unfinished: tuple[str, ...]
    # Folders a backup cut short left where it stages its files (`.<label>.partial`), by name.
    partial: tuple[str, ...]
    dry_run: bool
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "removed": list(self.removed),
            "kept": list(self.kept),
            "wal_kept_from": _segment_name(self.wal_kept_from),
            "wal_removed": len(self.wal_removed),
            "wal_removed_first": self.wal_removed[0] if self.wal_removed else None,
            "wal_removed_last": self.wal_removed[-1] if self.wal_removed else None,
            "unfinished_removed": [*self.unfinished, *self.partial],
            "notes": list(self.notes),
        }


def _segment_name(index: int | None) -> str | None:
    return None if index is None else f"{index // 256:08X}{index % 256:08X}"


def backups_to_remove(
    backups: Sequence[BaseBackup], *, now: datetime, keep_count: int, keep_days: float
) -> list[BaseBackup]:
    """The backups the rule (see the module's docstring) removes; `backups` oldest first."""
    ordered = sorted(backups, key=lambda b: b.finished_at)
    cutoff = now - timedelta(days=keep_days)
    removed = []
    for index, backup in enumerate(ordered[:-1]):
        newer = ordered[index + 1 :]
        # The oldest newer backup is the one that reaches furthest back once this one is gone.
        if len(newer) >= keep_count and newer[0].restorable_from < cutoff:
            removed.append(backup)
    return removed


def wal_to_remove(names: Sequence[str], keep_from: int | None) -> list[str]:
    """The archived WAL files before segment index `keep_from` (any timeline; `.partial` and `.backup`
    files go with their segment); history files always stay. None keeps everything."""
    if keep_from is None:
        return []
    return sorted(
        name
        for name in names
        if (number := segment_number(name)) is not None and segment_index(number) < keep_from
    )


def backup_start(store: BackupStore, backup: BaseBackup) -> int | None:
    """The segment index where a base backup's WAL starts, from its manifest's WAL ranges (newest
    timeline first, each with its start LSN). Without a manifest: the segment its own WAL ends in
    (the backup carries the WAL from its start to there), else None."""
    raw = store.read_file(backup.label, MANIFEST)
    if raw is not None:
        try:
            ranges = json.loads(raw)["WAL-Ranges"]
            return min(lsn_segment(r["Start-LSN"]) for r in ranges)
        except (ValueError, KeyError, TypeError):
            pass
    return backup.wal_end


def plan_prune(cluster: Cluster, *, now: datetime | None = None, dry_run: bool = False) -> PrunePlan:
    """What the rule removes now, read from the backup storage (nothing is changed)."""
    settings = cluster.settings
    store = backup_store(cluster)
    backups = list_backups(cluster)
    gone = backups_to_remove(
        backups,
        now=now or datetime.now(UTC),
        keep_count=settings.backup_keep_count,
        keep_days=settings.backup_keep_days,
    )
    notes = []
    keep_from: int | None = None
    # A restored server still in recovery reads the archive (and was unpacked from a base backup):
    # nothing goes until it is promoted (PostgreSQL removes its recovery.signal then).
    recovering = [r.id for r in list_restores(cluster) if r.running and (r.folder / RECOVERING).exists()]
    if recovering:
        gone = []
        notes.append(f"restores in recovery ({', '.join(recovering)}): nothing is removed until they finish")
    kept = [b for b in backups if b not in gone]
    if kept and not recovering:
        keep_from = backup_start(store, kept[0])
        if keep_from is None:
            notes.append(f"the oldest kept backup {kept[0].label} has no manifest: the WAL is kept whole")
    finished = {b.label for b in backups}
    newest = max(finished, default="")
    # Labels are start times (sortable): one older than the newest finished backup is not being taken
    # (the caller holds the backup lock), it was cut short.
    unfinished = sorted(label for label in store.labels() - finished if label < newest)
    staging = cluster.layout.base_backups
    partial = sorted(
        p.name
        for p in (staging.glob(".*.partial") if staging.exists() else [])
        if p.name[1 : -len(".partial")] < newest
    )
    return PrunePlan(
        removed=tuple(b.label for b in gone),
        kept=tuple(b.label for b in kept),
        wal_kept_from=keep_from,
        wal_removed=tuple(wal_to_remove(store.wal_names(), keep_from)),
        unfinished=tuple(unfinished),
        partial=tuple(partial),
        dry_run=dry_run,
        notes=tuple(notes),
    )


def prune(cluster: Cluster, *, now: datetime | None = None, dry_run: bool = False) -> PrunePlan:
    """Apply the rule: remove the backups it names, then the WAL before the oldest kept backup's start,
    then unfinished backups. The caller holds the backup lock (backup/lock.py). A prune cut short
    leaves only what the next one removes: a backup's `backup.json` goes first, the WAL after the
    backups that needed it."""
    plan = plan_prune(cluster, now=now, dry_run=dry_run)
    if dry_run:
        return plan
    store = backup_store(cluster)
    for label in plan.removed:
        store.delete_backup(label)
    if plan.wal_removed:
        store.delete_wal(list(plan.wal_removed))
    for label in plan.unfinished:
        store.delete_backup(label)
    for name in plan.partial:
        shutil.rmtree(cluster.layout.base_backups / name, ignore_errors=True)
    return plan
