"""What a point-in-time restore can reach: from the first moment a base backup is consistent to the
last commit the WAL archive holds, per timeline.

Recovery to a time stops at the first commit after that time; with no such commit in the archive it
ends with "recovery ended before configured recovery target was reached". So the latest restorable
time is the last archived commit. On a running cluster `archive_now` makes that "now" (a commit
stamped now, a WAL switch, a wait for the archiver); on a stopped one the newest archived segments
are read with `pg_waldump`. A timeline starts at its END_OF_RECOVERY record (the promotion).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gardenos.backup.archiving import segment_number
from gardenos.backup.storage import BackupStore

# pg_waldump's descriptions of the records that carry a time (printed in TZ, which we set to UTC).
_STAMP = re.compile(
    r"desc: (COMMIT|ABORT|END_OF_RECOVERY[^;]*;[^;]*; time) "
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) UTC"
)
# How many segments back from a timeline's last one to look for its last commit.
LOOK_BACK = 4


@dataclass(frozen=True)
class TimelineSpan:
    timeline: int
    # None when no base backup reaches this timeline's commits (all of them are older than the
    # oldest backup).
    earliest: datetime | None
    latest: datetime | None
    segments: int

    def to_dict(self) -> dict[str, object]:
        return {
            "timeline": self.timeline,
            "earliest": self.earliest.isoformat() if self.earliest else None,
            "latest": self.latest.isoformat() if self.latest else None,
            "segments": self.segments,
        }


@dataclass(frozen=True)
class Window:
    earliest: datetime | None
    latest: datetime | None
    timelines: tuple[TimelineSpan, ...]
    # Whether `latest` was made now on the running cluster (else read from the archive).
    live: bool
    # The first segment of the archive's unbroken run (see `unbroken_from`).
    first_segment: int | None = None
    backups: int = 0

    def contains(self, moment: datetime) -> bool:
        return (
            self.earliest is not None and self.latest is not None and self.earliest <= moment <= self.latest
        )

    def describe(self) -> str:
        if self.earliest is None or self.latest is None:
            if self.first_segment is not None and self.backups:
                return (
                    "nothing: no base backup reaches the archive's unbroken WAL (it has a hole before "
                    f"segment {self.first_segment // 256:08X}{self.first_segment % 256:08X}); take a new "
                    "base backup with `gardenos backup`"
                )
            return "nothing yet: take a base backup with `gardenos backup`"
        return f"from {_show(self.earliest)} to {_show(self.latest)} (UTC)"

    def to_dict(self) -> dict[str, object]:
        return {
            "earliest": self.earliest.isoformat() if self.earliest else None,
            "latest": self.latest.isoformat() if self.latest else None,
            "live": self.live,
            "timelines": [t.to_dict() for t in self.timelines],
        }


def _show(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def segment_index(number: str) -> int:
    """A segment's place in the WAL ('0000000100000002' → 258 with 16 MiB segments: 256 a log)."""
    return int(number[:8], 16) * 256 + int(number[8:16], 16)


def lsn_segment(lsn: str) -> int:
    """The segment index of an LSN ('0/3000028')."""
    high, _, low = lsn.partition("/")
    return ((int(high, 16) << 32) | int(low, 16)) // (16 << 20)


def unbroken_from(names: list[str]) -> int | None:
    """The first segment index of the unbroken run of archived segments that ends with the newest
    one (any timeline holding a segment counts): a restore cannot cross a hole before it."""
    present = {segment_index(n) for name in names if (n := segment_number(name)) is not None}
    if not present:
        return None
    first = max(present)
    while first - 1 in present:
        first -= 1
    return first


def usable(backup_wal_end: int | None, first: int | None) -> bool:
    """Whether a base backup whose own WAL ends in segment `backup_wal_end` reaches the unbroken run
    of the archive (a backup taken before a hole in the archive cannot be rolled past it)."""
    return backup_wal_end is None or first is None or backup_wal_end + 1 >= first


def compute_window(
    store: BackupStore,
    bin_dir: Path,
    key: bytes | None,
    backups: list[tuple[datetime, int | None]],
    live_latest: datetime | None = None,
    cache: Path | None = None,
) -> Window:
    """The window from the archive's content and the backups (when each is consistent, the segment
    its own WAL ends in); `live_latest`: the time of a commit just archived on the running cluster
    (then the newest timeline is not read). `cache`: a file keeping what was read from each archived
    segment (see `_load`)."""
    names = store.wal_names()
    listed = set(names)
    known = _load(cache, store.wal_location)
    before = len(known)
    first = unbroken_from(names)
    earliest_backup = min((at for at, end in backups if usable(end, first)), default=None)
    by_timeline: dict[int, list[str]] = {}
    for name in names:
        number = segment_number(name)
        if number is None or name.endswith(".backup") or len(name) not in (24, 32):
            continue
        by_timeline.setdefault(int(name[:8], 16), []).append(name)
    spans = []
    newest = max(by_timeline, default=None)
    with tempfile.TemporaryDirectory(prefix="gardenos-window-") as scratch:
        for timeline in sorted(by_timeline):
            names = sorted(by_timeline[timeline], key=lambda n: (n[8:24], n))
            start = _first_stamp(store, bin_dir, key, names[0], Path(scratch), known)
            if timeline == newest and live_latest is not None:
                end: datetime | None = live_latest
            else:
                end = None
                for name in reversed(names[-LOOK_BACK:]):
                    end = _last_stamp(store, bin_dir, key, name, Path(scratch), known)
                    if end is not None:
                        break
            earliest: datetime | None = None
            if earliest_backup is not None and end is not None and earliest_backup <= end:
                earliest = max(earliest_backup, start) if start is not None else earliest_backup
            spans.append(TimelineSpan(timeline, earliest, end if earliest else None, len(names)))
    if cache is not None and len(known) != before:
        # Only what the archive still holds (retention prunes it).
        _save(cache, store.wal_location, {name: found for name, found in known.items() if name in listed})
    latest = max((s.latest for s in spans if s.latest is not None), default=None)
    if latest is None and live_latest is not None and earliest_backup is not None:
        latest = live_latest
    return Window(
        earliest_backup if latest is not None else None,
        latest,
        tuple(spans),
        live=live_latest is not None,
        first_segment=first,
        backups=len(backups),
    )


Stamps = dict[str, list[tuple[str, datetime]]]


def _load(cache: Path | None, location: str) -> Stamps:
    """What earlier windows read from archived segments, by name. An archived file never changes
    (walcrypt.py refuses other content under a name), so it is read once: every restore computes the
    window, and reading each timeline's first and last segments again (fetch, decrypt 16 MiB,
    pg_waldump) took seconds of each restore. Kept per archive location; unreadable means empty."""
    if cache is None:
        return {}
    try:
        raw = json.loads(cache.read_text())
        if raw.get("location") != location:
            return {}
        return {
            name: [(kind, datetime.fromisoformat(at)) for kind, at in found]
            for name, found in raw["stamps"].items()
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _save(cache: Path, location: str, known: Stamps) -> None:
    raw = {
        "location": location,
        "stamps": {name: [(kind, at.isoformat()) for kind, at in found] for name, found in known.items()},
    }
    tmp = cache.with_name(f".{cache.name}.tmp{os.getpid()}")
    with contextlib.suppress(OSError):
        tmp.write_text(json.dumps(raw))
        tmp.replace(cache)


def _stamps(
    store: BackupStore, bin_dir: Path, key: bytes | None, name: str, scratch: Path, known: Stamps
) -> list[tuple[str, datetime]]:
    """The commits, aborts and promotion in one archived segment with their times, in WAL order."""
    if name in known:
        return known[name]
    # pg_waldump reads a segment by its plain name (a `.partial` one too, renamed).
    folder = scratch / name
    folder.mkdir(exist_ok=True)
    plain = folder / name[:24]
    if not plain.exists():
        store.fetch_wal(name, plain, key)
    result = subprocess.run(
        [str(bin_dir / "pg_waldump"), str(plain)],
        check=False,
        capture_output=True,
        text=True,
        env={"TZ": "UTC", "LC_ALL": "C"},
    )
    # It exits non-zero at the end of a segment that is not followed by another: the records read
    # before are what we want.
    found = [
        (match.group(1).split()[0], datetime.fromisoformat(f"{match.group(2)}+00:00"))
        for match in _STAMP.finditer(result.stdout)
    ]
    if result.stdout:  # pg_waldump read the file (an empty answer may be a failure to run it)
        known[name] = found
    return found


def _first_stamp(
    store: BackupStore, bin_dir: Path, key: bytes | None, name: str, scratch: Path, known: Stamps
) -> datetime | None:
    found = _stamps(store, bin_dir, key, name, scratch, known)
    return found[0][1] if found else None


def _last_stamp(
    store: BackupStore, bin_dir: Path, key: bytes | None, name: str, scratch: Path, known: Stamps
) -> datetime | None:
    """Just before the last commit (or abort): recovery to a time stops only when it meets one of
    those later than the target, so the last one itself is out of reach."""
    found = [
        at for kind, at in _stamps(store, bin_dir, key, name, scratch, known) if kind in ("COMMIT", "ABORT")
    ]
    return max(found) - timedelta(microseconds=1) if found else None
