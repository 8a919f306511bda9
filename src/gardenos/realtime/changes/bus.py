"""How the node's slot reader hands decoded changes to the node's other API processes: NOTIFY on one
channel, in chunks under PostgreSQL's 8,000-byte payload limit, sent in one transaction per batch (so
a listener gets them together, in commit order). Each process then checks visibility for its own
subscribers. The reader sends only while another process listens: each listener holds a shared
advisory lock, which the reader counts.

A chunk is `reader:batch:index:count:text`; the batch's text is the JSON of its changes. A reader's
notice that changes may have been missed is `reader:gap::0:reason`.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from gardenos.realtime.changes.pgoutput import UNCHANGED_TOAST, UnchangedToast, Value

CHANNEL = "gardenos_changes"
# Room for the header in PostgreSQL's payload limit (7,999 bytes); the JSON is ASCII.
CHUNK = 7800

LISTENER_LOCK = "SELECT pg_advisory_lock_shared(%s, %s)"
# Listeners other than the reader's own (by its backend pid; 0: it has none right now).
LISTENERS = """
SELECT count(*) FROM pg_locks
WHERE locktype = 'advisory' AND mode = 'ShareLock' AND granted
  AND classid = %s AND objid = %s AND objsubid = 2 AND pid <> %s
"""
NOTIFY = "SELECT pg_notify(%s, %s)"


def lock_keys(slot_name: str, purpose: str) -> tuple[int, int]:
    """Two 31-bit keys for pg_advisory_lock(int, int): this feed's, and the slot's for `purpose`."""
    return zlib.crc32(b"gardenos_change_feed") & 0x7FFFFFFF, zlib.crc32(
        f"{slot_name}:{purpose}".encode()
    ) & 0x7FFFFFFF


def chunks(reader: str, batch: int, text: str) -> Iterator[str]:
    count = max(1, -(-len(text) // CHUNK))
    for i in range(count):
        yield f"{reader}:{batch}:{i}:{count}:{text[i * CHUNK : (i + 1) * CHUNK]}"


def gap_notice(reader: str, reason: str) -> str:
    return f"{reader}:gap::0:{reason[:1000]}"


def split(payload: str) -> tuple[str, str, int, int, str]:
    """(reader, batch or 'gap', index, count, text)."""
    reader, batch, index, count, text = payload.split(":", 4)
    return reader, batch, int(index or 0), int(count), text


# A row travels as {column: text | null | false}; false stands for a TOASTed value the UPDATE left alone.
def _row(row: dict[str, Value] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {k: False if isinstance(v, UnchangedToast) else v for k, v in row.items()}


def _unrow(row: dict[str, Any] | None) -> dict[str, Value] | None:
    if row is None:
        return None
    return {k: UNCHANGED_TOAST if v is False else v for k, v in row.items()}


def encode(changes: list[Any]) -> str:
    return json.dumps(
        [
            [
                c.table,
                c.type,
                c.end_lsn,
                c.commit_time.isoformat(),
                _row(c.new),
                _row(c.old),
                c.old_is_key_only,
            ]
            for c in changes
        ],
        ensure_ascii=True,
        separators=(",", ":"),
    )


def decode(
    text: str,
) -> list[tuple[str, str, int, datetime, dict[str, Value] | None, dict[str, Value] | None, bool]]:
    return [
        (table, kind, lsn, datetime.fromisoformat(at), _unrow(new), _unrow(old), bool(key_only))
        for table, kind, lsn, at, new, old, key_only in json.loads(text)
    ]
