"""A base backup's manifest: the rows of every table of every database, counted at a WAL position
that a restore can stop at exactly, so that a verified restore can compare (see verify.py).

Why counted on the standby the backup came from, with its replay paused, and not in a snapshot on
the leader: a REPEATABLE READ snapshot on the leader has no WAL position of its own (commits of
other sessions interleave with any LSN read beside it), so nothing says which restore would hold
exactly its rows. A standby's replay position is such a position: with replay paused, the standby
shows precisely the transactions whose commit records start before `pg_last_wal_replay_lsn()`,
and a restore with `recovery_target_lsn` at that LSN (exclusive) replays precisely the same
records. The LSN is at or past the backup's end point (the standby backup's end is that standby's
minimum recovery point), so the backup reaches it; counting a restore of the backup itself instead
would compare the backup with itself. Replay is paused for the counting only (the standby keeps
receiving and flushing WAL, so synchronous commits on the leader go on: they wait for a standby's
flush, not its replay, unless synchronous_commit is remote_apply).

When no standby streams (the backup came from the leader) the manifest records why it has no
counts, and the backup's end point to restore to.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from gardenos.backup import walcrypt
from gardenos.backup.storage import BackupStore
from gardenos.errors import BadRequest

MANIFEST = "manifest.json"
VERSION = 1

DATABASES = "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1"
# Permanent tables only: unlogged ones cannot be read on a standby and are empty after a restore,
# temporary ones belong to a session. The system schemas change on their own (statistics).
TABLES = """
SELECT n.nspname, c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'r' AND c.relpersistence = 'p'
  AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
ORDER BY 1, 2
"""
PAUSE = "SELECT pg_wal_replay_pause()"
RESUME = "SELECT pg_wal_replay_resume()"
PAUSED_AT = """
SELECT pg_get_wal_replay_pause_state() = 'paused', pg_last_wal_replay_lsn()::text,
       pg_last_wal_replay_lsn() >= coalesce(%s::pg_lsn, '0/0')
"""
REPLAYED = "SELECT pg_last_wal_replay_lsn()::text"
IS_STANDBY = "SELECT pg_is_in_recovery()"

# database → "schema.table" → rows
Counts = dict[str, dict[str, int]]


class ManifestError(BadRequest):
    """A manifest that is missing or cannot be read: the backup cannot be verified against it."""


@dataclass(frozen=True)
class Manifest:
    backup: str
    # Where the backup's own WAL ends (pg_basebackup's end point): a restore is consistent there.
    end_lsn: str | None
    # The WAL position the counts describe (None with no counts).
    lsn: str | None
    counted_on: str | None
    counted_at: datetime | None
    counts: Counts | None
    # Why there are no counts.
    why_not: str | None = None

    @property
    def target_lsn(self) -> str | None:
        """Where a verifying restore stops: where the counts were taken, else the backup's end."""
        return self.lsn or self.end_lsn

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "version": VERSION,
                "backup": self.backup,
                "end_lsn": self.end_lsn,
                "lsn": self.lsn,
                "counted_on": self.counted_on,
                "counted_at": self.counted_at.isoformat() if self.counted_at else None,
                "counts": self.counts,
                "why_not": self.why_not,
            },
            indent=2,
        ).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        raw: dict[str, Any] = json.loads(data)
        if raw.get("version") != VERSION:
            raise ValueError(f"manifest version {raw.get('version')!r}, expected {VERSION}")
        counts = raw.get("counts")
        if counts is not None:
            counts = {str(db): {str(t): int(n) for t, n in tables.items()} for db, tables in counts.items()}
        return cls(
            backup=str(raw["backup"]),
            end_lsn=raw.get("end_lsn"),
            lsn=raw.get("lsn"),
            counted_on=raw.get("counted_on"),
            counted_at=datetime.fromisoformat(raw["counted_at"]) if raw.get("counted_at") else None,
            counts=counts,
            why_not=raw.get("why_not"),
        )


def count_rows(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """The rows of every permanent table of the connection's database, by "schema.table"."""
    counts: dict[str, int] = {}
    for schema, table in conn.execute(TABLES).fetchall():
        query = sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))
        row = conn.execute(query).fetchone()
        assert row is not None
        counts[f"{schema}.{table}"] = int(row[0])
    return counts


def count_databases(url: Callable[[str], str]) -> Counts:
    """`count_rows` of every database a client can connect to; `url(dbname)` reaches one."""
    with psycopg.connect(url("postgres"), autocommit=True, connect_timeout=5) as conn:
        names = [name for (name,) in conn.execute(DATABASES).fetchall()]
    counts: Counts = {}
    for name in names:
        with psycopg.connect(url(name), connect_timeout=5) as conn:
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            counts[name] = count_rows(conn)
    return counts


def count_on_standby(
    url: Callable[[str], str], node: str, backup: str, end_lsn: str | None, *, timeout: float = 30
) -> Manifest:
    """Counts on the standby at `url` with its replay paused at or past `end_lsn` (see the module's
    docstring). Without counts, saying why, when the server is not a standby or cannot be counted
    on: the backup itself is good, and a verification restores it to its end and reports that."""

    def without(why: str) -> Manifest:
        return Manifest(backup, end_lsn, None, None, None, None, why_not=why)

    try:
        with psycopg.connect(url("postgres"), autocommit=True, connect_timeout=5) as ctl:
            row = ctl.execute(IS_STANDBY).fetchone()
            if row is None or not row[0]:
                return without(
                    f"the backup came from the leader ({node}): no standby's replay position to "
                    "count the rows at"
                )
            try:
                return _count_paused(ctl, url, node, backup, end_lsn, timeout)
            finally:
                ctl.execute(RESUME)
    except psycopg.Error as exc:
        return without(f"counting the rows on {node} failed: {exc}")


def _count_paused(
    ctl: psycopg.Connection[Any],
    url: Callable[[str], str],
    node: str,
    backup: str,
    end_lsn: str | None,
    timeout: float,
) -> Manifest:
    deadline = time.monotonic() + timeout
    while True:
        ctl.execute(PAUSE)
        row = ctl.execute(PAUSED_AT, (end_lsn,)).fetchone()
        assert row is not None
        paused, lsn, reached = row
        if paused and reached:
            counts = count_databases(url)
            if ctl.execute(REPLAYED).fetchone() == (lsn,):
                return Manifest(backup, end_lsn, lsn, node, datetime.now(UTC), counts)
            # Something resumed replay while we counted (Patroni does on a parameter change):
            # the counts mix positions, count again.
        elif paused:
            ctl.execute(RESUME)  # not yet at the backup's end: let it replay further
        if time.monotonic() > deadline:
            return Manifest(
                backup,
                end_lsn,
                None,
                None,
                None,
                None,
                why_not=f"{node} did not hold a replay position at or past the backup's end "
                f"({end_lsn}) within {timeout:.0f} s (it was at {lsn})",
            )
        time.sleep(0.05)


def write_manifest(manifest: Manifest, folder: Path, key: bytes | None) -> None:
    """Into a backup's staging folder, encrypted as its tar files are when there is a key."""
    data = manifest.to_json()
    if key is None:
        (folder / MANIFEST).write_bytes(data)
        return
    plain = folder / f".{MANIFEST}.plain"
    plain.write_bytes(data)
    try:
        with plain.open("rb") as fin, (folder / f"{MANIFEST}.enc").open("wb") as fout:
            walcrypt.encrypt_stream(fin, fout, key)
    finally:
        plain.unlink()


def read_manifest(store: BackupStore, label: str, key: bytes | None) -> Manifest:
    """A backup's manifest; ManifestError saying what to do when it is missing or unreadable."""
    again = "take a new backup with `gardenos backup` and verify that one"
    encrypted = store.read_file(label, f"{MANIFEST}.enc")
    data = encrypted if encrypted is not None else store.read_file(label, MANIFEST)
    if data is None:
        raise ManifestError(
            f"backup {label} has no manifest (it was taken before GardenOS wrote them): {again}"
        )
    try:
        if encrypted is not None:
            if key is None:
                raise ManifestError(
                    f"the manifest of backup {label} is encrypted: set GARDENOS_BACKUP_ENCRYPTION_KEY"
                )
            plain = io.BytesIO()
            walcrypt.decrypt_stream(io.BytesIO(encrypted), plain, key)
            data = plain.getvalue()
        manifest = Manifest.from_json(data)
    except (walcrypt.DecryptionError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ManifestError(f"the manifest of backup {label} is damaged ({exc}): {again}") from exc
    if manifest.backup != label:
        raise ManifestError(f"the manifest of backup {label} describes backup {manifest.backup}: {again}")
    return manifest
