"""Make the WAL archive current: what a restore to "a minute ago" and a clean stop need.

`archive_now` asks the leader for a commit record stamped now (recovery to a time needs a commit after
that time to know it got there), switches to a new WAL segment, and waits until the leader's archiver
reports that segment archived (`pg_stat_archiver`). Every node archives (`archive_mode = always`, see
the Patroni template), so a segment the leader finished just before dying is archived by the standby
that received it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import psycopg

from gardenos.cluster.processes import ClusterError

POLL_S = 0.1


@dataclass(frozen=True)
class Archived:
    segment: str
    # When the leader stamped the commit (its clock), and how long the archiver took after the switch.
    marked_at: datetime
    lag_s: float


def segment_number(name: str) -> str | None:
    """The log and segment part of a WAL file name ('000000010000000000000005' or its '.partial',
    '.backup' forms), without the timeline: the order in which WAL was written across timelines.
    None for a history file."""
    if len(name) < 24 or not all(c in "0123456789ABCDEF" for c in name[:24]):
        return None
    return name[8:24]


def _at_or_after(archived: str, segment: str) -> bool:
    """Whether the archiver's last file shows `segment` archived. The timeline counts (a standby
    that followed a promotion archives the old timeline's last segment under its plain name, with
    a number as high as the new timeline's), and a `.backup` or `.partial` file named after the
    segment is not the segment itself."""
    if segment_number(archived) is None:
        return False
    return archived == segment or archived[:24] > segment


def archive_now(url: str, *, timeout: float = 60.0) -> Archived:
    """On the server at `url` (the leader): a commit stamped now, a WAL switch, and a wait until its
    archiver has archived the switched segment. Raises ClusterError naming the last failure when
    it has not within `timeout`."""
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        # An assigned transaction id makes the commit write a commit record (with its time) even
        # though the transaction changes nothing.
        row = conn.execute("SELECT pg_current_xact_id(), clock_timestamp()").fetchone()
        assert row is not None
        marked_at: datetime = row[1]
        switched = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
        assert switched is not None
        segment: str = switched[0]
        started = time.monotonic()
        deadline = started + timeout
        while True:
            found = conn.execute(
                "SELECT last_archived_wal, last_failed_wal, last_failed_time, failed_count"
                " FROM pg_stat_archiver"
            ).fetchone()
            assert found is not None
            if _at_or_after(found[0] or "", segment):
                return Archived(segment, marked_at, time.monotonic() - started)
            if time.monotonic() > deadline:
                failed = (
                    f"; the last failure was {found[1]} at {found[2]:%H:%M:%S} ({found[3]} failures"
                    " since the statistics were reset: see the node's log)"
                    if found[1]
                    else ""
                )
                raise ClusterError(
                    f"WAL segment {segment} was not archived within {timeout:.0f} s "
                    f"(last archived: {found[0] or 'none'}){failed}"
                )
            time.sleep(POLL_S)
