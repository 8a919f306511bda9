"""The node's logical replication slot, read through PostgreSQL's SQL interface to logical decoding.

psycopg has no replication protocol, so changes are read with `pg_logical_slot_peek_binary_changes` and
the slot is moved on with `pg_replication_slot_advance` only once the changes were handed to the
subscribers: a reader that dies between the two leaves them in the slot for the next reader (delivered
again rather than lost). Peek returns whole transactions, in commit order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import psycopg

from gardenos.db.pool import Conn
from gardenos.realtime.changes.pgoutput import format_lsn, parse_lsn

# One reader per slot: the others wait on this lock and take over when its holder's connection ends.
LOCK = "SELECT pg_try_advisory_lock(hashtext('gardenos_change_feed'), hashtext(%s))"
STATE = """
SELECT wal_status FROM pg_replication_slots WHERE slot_name = %s AND database = current_database()
"""
# failover: PostgreSQL 17's failover slots, synchronised to standbys that run `sync_replication_slots`.
CREATE = "SELECT lsn::text FROM pg_create_logical_replication_slot(%s, 'pgoutput', false, false, true)"
DROP = "SELECT pg_drop_replication_slot(%s)"
# Read before each peek: every transaction committed before it is in what the peek decodes.
FLUSHED = "SELECT pg_current_wal_flush_lsn()::text"
PEEK = """
SELECT data FROM pg_logical_slot_peek_binary_changes(
    %s, NULL, %s, 'proto_version', '1', 'publication_names', %s, 'messages', 'true')
"""
ADVANCE = "SELECT pg_replication_slot_advance(%s, %s::pg_lsn)"
# Where the slot's next reader starts: everything before it was handed on (or had nothing published).
CONFIRMED = "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = %s"
# Each peek decodes again from the slot's restart_lsn, which moves only past a running-transactions
# record in the WAL; PostgreSQL writes one every 15 s (bgwriter) or at checkpoints. Writing one more
# often keeps what every peek decodes again small: without it, at 200 commits/s, each peek decoded
# up to 15 s of WAL again.
SNAPSHOT = "SELECT pg_log_standby_snapshot()"
SNAPSHOT_EVERY_S = 1.0
WAL_LEVEL = "SELECT current_setting('wal_level')"


class SlotUnavailable(Exception):
    """The server cannot decode changes (wal_level is not logical): nothing a retry would fix."""


@dataclass
class Slot:
    conn: Conn
    name: str
    publication: str
    _marked: float = field(default=0.0)
    _may_mark: bool = field(default=True)

    async def try_lock(self) -> bool:
        row = await (await self.conn.execute(LOCK, (self.name,))).fetchone()
        return bool(row and row[0])

    async def ensure(self) -> bool:
        """Create the slot if it is missing or was invalidated (its WAL removed). True if created now:
        whatever was committed before this moment and not yet read is gone."""
        row = await (await self.conn.execute(WAL_LEVEL)).fetchone()
        if row is None or row[0] != "logical":
            raise SlotUnavailable(
                f"wal_level is {row[0] if row else '?'!s}, not logical: set wal_level = logical and restart "
                "PostgreSQL for database changes"
            )
        state = await (await self.conn.execute(STATE, (self.name,))).fetchone()
        if state is not None and state[0] != "lost":
            return False
        if state is not None:
            await self.conn.execute(DROP, (self.name,))
        try:
            await self.conn.execute(CREATE, (self.name,))
        except psycopg.errors.DuplicateObject:
            return False  # another node's reader of the same name made it first
        except psycopg.errors.InsufficientPrivilege as exc:
            raise SlotUnavailable(
                "the database login GardenOS migrates with may not create replication slots: grant it "
                "REPLICATION (ALTER ROLE … REPLICATION) for database changes"
            ) from exc
        return True

    async def flushed(self) -> int:
        """The WAL flush position: every transaction committed before it is in what a peek decodes."""
        row = await (await self.conn.execute(FLUSHED)).fetchone()
        assert row is not None
        return parse_lsn(str(row[0]))

    async def peek(self, limit: int) -> list[bytes]:
        """The pgoutput messages of whole transactions (at most about `limit`)."""
        cur = await self.conn.execute(PEEK, (self.name, limit, self.publication))
        return [bytes(data) for (data,) in await cur.fetchall()]

    async def advance(self, lsn: int) -> None:
        await self.conn.execute(ADVANCE, (self.name, format_lsn(lsn)))

    async def confirmed(self) -> int | None:
        row = await (await self.conn.execute(CONFIRMED, (self.name,))).fetchone()
        return parse_lsn(str(row[0])) if row and row[0] else None

    async def mark(self) -> None:
        """A running-transactions record in the WAL now (see SNAPSHOT), at most every SNAPSHOT_EVERY_S;
        skipped for good where the login may not write one."""
        now = time.monotonic()
        if not self._may_mark or now - self._marked < SNAPSHOT_EVERY_S:
            return
        self._marked = now
        try:
            await self.conn.execute(SNAPSHOT)
        except psycopg.errors.InsufficientPrivilege:
            self._may_mark = False
