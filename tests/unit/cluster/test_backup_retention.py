"""Retention's rule over synthetic backups and a synthetic WAL archive (timelines, history files), the
schedule's arithmetic and its setting (no processes here)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from gardenos.backup.backup import BaseBackup
from gardenos.backup.retention import backups_to_remove, wal_to_remove
from gardenos.backup.schedule import backoff_s, next_run_after
from gardenos.backup.window import segment_index
from gardenos.settings import Settings, parse_interval

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _backup(days_ago: float) -> BaseBackup:
    at = NOW - timedelta(days=days_ago)
    label = at.strftime("%Y%m%dT%H%M%S%fZ")
    return BaseBackup(label, "node2", at, at, True, 1, label, at, None)


def _removed(ages: list[float], count: int, days: float) -> list[float]:
    backups = [_backup(age) for age in ages]
    gone = {b.label for b in backups_to_remove(backups, now=NOW, keep_count=count, keep_days=days)}
    return [age for age, b in zip(ages, backups, strict=True) if b.label in gone]


def test_a_backup_goes_only_when_the_count_and_the_age_both_allow_it() -> None:
    daily = [9.0, 8.0, 7.5, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0, 0.1]
    # Count 3 alone would remove 9.0 to 3.0; the age (7 days) allows a removal only while the next
    # newer backup is more than 7 days old: 9.0 and 8.0 go, 7.5 stays (its newer one is 6 days old).
    assert _removed(daily, count=3, days=7) == [9.0, 8.0]
    # Age 0: the count decides; never the newest.
    assert _removed(daily, count=3, days=0) == daily[:-3]
    assert _removed(daily, count=1, days=0) == daily[:-1]
    # Many days: the age keeps everything the count would remove.
    assert _removed(daily, count=1, days=30) == []
    # Count larger than the list: nothing goes, however old.
    assert _removed([400.0, 300.0], count=5, days=0) == []


def test_the_newest_backup_is_never_removed() -> None:
    assert _removed([100.0], count=1, days=0) == []
    assert _removed([100.0, 50.0], count=1, days=1) == [100.0]


def test_the_age_rule_keeps_the_window_reaching_keep_days_back() -> None:
    """With backups every 2 days and 7 days kept, the backup 8 days old stays while its newer one is
    only 6 days old: without it restores would reach 6 days back, not 7."""
    ages = [10.0, 8.0, 6.0, 4.0, 2.0, 0.0]
    assert _removed(ages, count=1, days=7) == [10.0]
    backups = [_backup(age) for age in ages]
    kept = [b for b in backups if b not in backups_to_remove(backups, now=NOW, keep_count=1, keep_days=7)]
    assert kept[0].restorable_from <= NOW - timedelta(days=7)


def _seg(timeline: int, index: int, suffix: str = "") -> str:
    return f"{timeline:08X}{index // 256:08X}{index % 256:08X}{suffix}"


# An archive across two failovers: timeline 1 until segment 0x10 (its partial last segment archived
# too, and a segment the old leader wrote past the switch), timeline 2 until 0x120 (log 1 begins at
# 0x100), then timeline 3; history files for 2 and 3, and a backup history file.
ARCHIVE = [
    *(_seg(1, i) for i in range(1, 0x10)),
    _seg(1, 0x10, ".partial"),
    _seg(1, 0x11),
    "00000002.history",
    *(_seg(2, i) for i in range(0x10, 0x120)),
    _seg(2, 0x120, ".partial"),
    "00000003.history",
    *(_seg(3, i) for i in range(0x120, 0x125)),
    _seg(3, 0x121, ".00000028.backup"),
]


def test_wal_before_the_oldest_kept_backup_goes_on_every_timeline_and_history_stays() -> None:
    # The oldest kept backup starts on timeline 1 in segment 5: timeline 1 from 5 to the switch (and
    # its partial), then timeline 2 and 3, are what a restore from it replays; all stay.
    removed = wal_to_remove(ARCHIVE, 5)
    assert removed == [_seg(1, i) for i in range(1, 5)]

    # It starts on timeline 2 in segment 0x105 (log 1): timeline 1 entirely goes (its partial too),
    # timeline 2 before 0x105 goes, and both history files stay.
    removed = wal_to_remove(ARCHIVE, 0x105)
    kept = sorted(set(ARCHIVE) - set(removed))
    assert "00000002.history" in kept
    assert "00000003.history" in kept
    assert not [n for n in kept if n.startswith("00000001")]
    assert min(segment_index(n[8:24]) for n in kept if not n.endswith(".history")) == 0x105
    assert _seg(2, 0x105) in kept
    assert _seg(2, 0x104) in removed
    # The switch segment of timeline 3 (and its backup history file) are after it: kept.
    assert {_seg(3, 0x120), _seg(3, 0x121, ".00000028.backup"), _seg(2, 0x120, ".partial")} <= set(kept)


def test_without_a_known_start_no_wal_is_removed() -> None:
    assert wal_to_remove(ARCHIVE, None) == []
    assert wal_to_remove(["00000002.history", "00000003.history"], 10**6) == []


def test_the_schedule_counts_from_the_newest_backup_and_backs_off() -> None:
    assert next_run_after(None, 3600, NOW) == NOW
    assert next_run_after(NOW - timedelta(hours=1), 6 * 3600, NOW) == NOW + timedelta(hours=5)
    assert next_run_after(NOW - timedelta(days=2), 86400, NOW) == NOW  # overdue: now
    assert [backoff_s(n, 86400) for n in (1, 2, 3, 8, 20)] == [30, 60, 120, 3600, 3600]
    assert backoff_s(4, 5) == 5  # never later than the interval


def test_the_schedule_setting_takes_intervals_or_off() -> None:
    assert parse_interval("24h") == 86400
    assert parse_interval("1d12h") == 129600
    assert parse_interval(" 90m ") == 5400
    assert parse_interval("2s") == 2
    assert parse_interval("off") is None
    assert Settings(_env_file=None).backup_schedule_s == 86400  # type: ignore[call-arg]
    for wrong in ("daily", "24", "h", "5x", "0.5s"):
        with pytest.raises(ValueError, match=r"24h|shorter than a second"):
            parse_interval(wrong)
    with pytest.raises(ValidationError, match="is not an interval"):
        Settings(_env_file=None, backup_schedule="weekly")  # type: ignore[call-arg]
