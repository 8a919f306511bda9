"""The database-change feed: committed changes of the exposed tables, from the node's logical replication
slot, to the subscriptions that may see them, in commit order.

One reader per node (`slot.py`; an advisory lock elects it among the node's API processes) polls the
slot every `poll_interval_s` (at once again while a batch comes back full; idle, it reads only the WAL
position, and decodes once it moved), decodes pgoutput, and per batch:

1. turns each table's decoded rows into JSON records, one query per table (`visibility.RECORDS`);
2. groups the subscriptions of each table by (role, claims, filter), and those groups again by the
   values the table's policies read of the caller, where that is proven (context.py: members of one
   agency share `auth.agency_id()`): each group shares one visibility query per batch
   (`visibility.visible_query`), run as that role with one member's claims, so the cost grows with
   groups × batches, not subscribers × events;
3. hands each subscription its visible changes, in commit order, then advances the slot.

A subscription sees changes committed after it subscribed (by WAL position), never older ones. When
the slot had to be created again (it was missing after a failover, or invalidated), changes may have
been missed: every subscription is told through `sink.gap`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from gardenos.auth.principal import Principal
from gardenos.auth.revocation import RevocationCache
from gardenos.auth.tokens import InvalidToken
from gardenos.db.connect import connect_dedicated
from gardenos.db.pool import Database
from gardenos.errors import GardenError
from gardenos.realtime.changes import bus, catalog, context, pgoutput, visibility
from gardenos.realtime.changes.catalog import TableInfo
from gardenos.realtime.changes.slot import Slot, SlotUnavailable
from gardenos.realtime.changes.spec import ColumnFilter, CompiledSpec, compile_spec
from gardenos.realtime.contracts import ChangeMessage, ChangeSink, ChangeSpec, InvalidChangeSpec
from gardenos.rest.schema import EXPOSED_SCHEMA

log = logging.getLogger(__name__)

# Where a subscription starts: changes whose commit record ends after this position reach it.
START = "SELECT pg_current_wal_insert_lsn()::text"
# A filter's values must read as the column's type (checked at subscribe, so a bad value is a 4xx).
CAST = "SELECT %s::text[]::{}[]"
MAX_BACKOFF_S = 10.0
LOCK_RETRY_S = 1.0
# How long a process whose bus connection came back waits to see whether it reads the slot again
# itself (its reader reconnects too, after a failover): long enough for the reader's backoff.
RESUME_WAIT_S = MAX_BACKOFF_S + 2 * LOCK_RETRY_S
# Consecutive failures on the same batch before it is skipped (with a gap notice) rather than retried.
MAX_BATCH_FAILURES = 5


@dataclass(frozen=True)
class Change:
    table: str
    type: str  # INSERT, UPDATE, DELETE
    end_lsn: int
    commit_time: datetime
    new: dict[str, pgoutput.Value] | None
    old: dict[str, pgoutput.Value] | None
    old_is_key_only: bool

    @property
    def checked(self) -> dict[str, pgoutput.Value]:
        """The row whose visibility decides: the new row, or the deleted one."""
        row = self.new if self.new is not None else self.old
        assert row is not None
        return row


# A subscription's token and filter: (role, claims as JSON, filter).
_Key = tuple[str, str, ColumnFilter | None]


@dataclass
class _Subscription:
    feed: DatabaseChangeFeed
    principal: Principal
    spec: CompiledSpec
    sink: ChangeSink
    start_lsn: int
    closed: bool = False

    def __post_init__(self) -> None:
        self._claims = visibility.claims_key(self.principal)

    def set_principal(self, principal: Principal) -> None:
        self.principal = principal
        self._claims = visibility.claims_key(principal)

    async def close(self) -> None:
        self.closed = True
        self.feed._subscriptions.discard(self)

    def group_key(self) -> _Key:
        return self.principal.role, self._claims, self.spec.filter

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other


@dataclass
class _Tables:
    """The catalog's answers, per table, re-read after `ttl_s` (a policy changed) or a change of shape."""

    database: Database
    ttl_s: float
    entries: dict[str, tuple[float, TableInfo | None]] = field(default_factory=dict)

    async def get(self, name: str, *, fresh: bool = False) -> TableInfo | None:
        entry = self.entries.get(name)
        if entry is not None and not fresh and entry[0] > time.monotonic():
            return entry[1]
        async with self.database.transaction("service_role") as conn:
            info = await catalog.load_table(conn, name)
        self.entries[name] = (time.monotonic() + self.ttl_s, info)
        return info

    async def names(self) -> list[str]:
        async with self.database.transaction("service_role") as conn:
            return await catalog.table_names(conn)


class DatabaseChangeFeed:
    """`ChangeFeed` over logical decoding. `start()` in the app's lifespan, `stop()` at its end."""

    def __init__(
        self,
        database: Database,
        decode_url: str,
        *,
        slot_name: str,
        poll_interval_s: float = 0.1,
        batch_size: int = 1000,
        catalog_ttl_s: float = 5.0,
        revocation: RevocationCache | None = None,
    ) -> None:
        self.database = database
        self.decode_url = decode_url
        self.slot_name = slot_name
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self.revocation = revocation
        self.tables = _Tables(database, catalog_ttl_s)
        self._subscriptions: set[_Subscription] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        # Every process of the node listens on the bus; the one that reads the slot sends on it.
        self.reader_id = uuid.uuid4().hex[:12]
        self.listening = asyncio.Event()
        self._listen_pid = 0
        self._batches = 0
        self._parts: dict[tuple[str, str], list[str]] = {}
        # Fan-outs one at a time, each change once: a batch can come twice (from the bus, then from the
        # slot after a reader died before advancing it).
        self._fan_lock = asyncio.Lock()
        self._fanned_lsn = 0
        # Why changes cannot be served on this server (wal_level), once the reader found out.
        self.unavailable: str | None = None
        # This process holds the slot (tests and `realtime status` read it).
        self.reading = asyncio.Event()
        # Where this process's reader last moved (or asked to move) the slot on to (None: it never read
        # it), and whether it took the slot back no further on: then no other process consumed
        # anything meanwhile.
        self._advanced_to: int | None = None
        self._resumed_own = False
        # Counts the times this process took the slot: a listener that came back tells whether the
        # reader held it all along.
        self._epoch = 0
        self._settling: asyncio.Task[None] | None = None
        self.delivered = 0
        self._start_waiters: list[asyncio.Future[int]] = []
        self._start_reader: asyncio.Task[None] | None = None
        # Per (table oid, policy condition): the contexts it reads, or None if that is not proven.
        self._proofs: dict[tuple[int, str], tuple[str, ...] | None] = {}

    # -- ChangeFeed ---------------------------------------------------------------------------------

    async def subscribe(self, principal: Principal, spec: ChangeSpec, sink: ChangeSink) -> _Subscription:
        if self.unavailable is not None:
            raise InvalidChangeSpec(f"database changes are not available on this server: {self.unavailable}")
        if not self.listening.is_set() and not self.reading.is_set():
            # Changes reach this process through the bus: subscribed before it listens, some could
            # pass unseen.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.listening.wait(), self.database.timeout)
            if not self.listening.is_set():
                raise InvalidChangeSpec(
                    "database changes are not available right now: the change feed is connecting to the "
                    "database; join again shortly"
                )
        table = None
        if spec.table not in (None, "*") and spec.schema == EXPOSED_SCHEMA:
            assert spec.table is not None
            table = await self.tables.get(spec.table)
        exposed = await self.tables.names() if table is None and spec.table not in (None, "*") else []
        compiled = compile_spec(spec, table, exposed)
        if compiled.filter is not None:
            assert table is not None
            column = table.column(compiled.filter.column)
            assert column is not None
            cast = psycopg.sql.SQL(CAST).format(psycopg.sql.SQL(column.sql_type))
            try:
                await self.database.read("service_role", None, [(cast, (list(compiled.filter.values),))])
            except (psycopg.errors.DataError, psycopg.errors.SyntaxErrorOrAccessRuleViolation) as exc:
                raise InvalidChangeSpec(
                    f"filter {spec.filter!r}: {exc.diag.message_primary or exc}",
                    hint=f"the value must be a valid {column.sql_type}",
                ) from exc
        subscription = _Subscription(self, principal, compiled, sink, await self._start_lsn())
        self._subscriptions.add(subscription)
        return subscription

    async def _start_lsn(self) -> int:
        """The WAL insert position, read after this call began. Subscribers arriving together (a
        thousand clients joining at once) share one read: the next one to start, never one already in
        flight, whose position could predate them."""
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._start_waiters.append(waiter)
        if self._start_reader is None:
            self._start_reader = asyncio.get_running_loop().create_task(
                self._read_starts(), name="change-feed-start"
            )
        return await waiter

    async def _read_starts(self) -> None:
        try:
            while self._start_waiters:
                waiters, self._start_waiters = self._start_waiters, []
                try:
                    (row,) = await self.database.read("service_role", None, [(START, None)])
                    assert row is not None
                    lsn = pgoutput.parse_lsn(str(row[0]))
                except Exception as exc:
                    for waiter in waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    continue
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(lsn)
        finally:
            self._start_reader = None

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._run(), name="change-feed-reader"),
            loop.create_task(self._listen(), name="change-feed-bus"),
        ]

    async def stop(self) -> None:
        if self._settling is not None:
            self._tasks.append(self._settling)
            self._settling = None
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.reading.clear()
        self.listening.clear()

    # -- the reader ---------------------------------------------------------------------------------

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            try:
                async with await connect_dedicated(self.decode_url) as conn:
                    slot = Slot(conn, self.slot_name, catalog.PUBLICATION)
                    await self._lock(slot)
                    if await slot.ensure():
                        await self._gap("the change feed's replication slot was created again")
                    confirmed, mine = await slot.confirmed(), self._advanced_to
                    self._resumed_own = mine is not None and confirmed is not None and confirmed <= mine
                    self._epoch += 1
                    self.reading.set()
                    backoff = 0.5
                    await self._read(slot)
            except SlotUnavailable as exc:
                self.unavailable = str(exc)
                log.error("database changes unavailable: %s", exc)
                return
            except psycopg.OperationalError as exc:
                log.warning("change feed: connection lost (%s); reconnecting in %.1f s", exc, backoff)
            except Exception:
                log.exception("change feed: reader failed; restarting in %.1f s", backoff)
            self.reading.clear()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _lock(self, slot: Slot) -> None:
        """Wait for the node's reader lock: another process of this node reads the slot until its
        connection ends (the process exits or dies), then one of the waiting ones takes over."""
        while True:
            if await slot.try_lock():
                return
            await asyncio.sleep(LOCK_RETRY_S)

    async def _read(self, slot: Slot) -> None:
        relations: dict[int, pgoutput.Relation] = {}
        failures: tuple[int, int] = (0, 0)  # (lsn, count) of the batch that keeps failing
        idle_at = -1  # the flush position of the last peek that found nothing
        while True:
            flushed = await slot.flushed()
            # Idle, with nothing written since the last empty peek: one cheap query per poll, no decoding.
            messages = await slot.peek(self.batch_size) if flushed != idle_at else []
            if not messages:
                if flushed != idle_at:
                    # Nothing published committed before `flushed`: move on, or the slot keeps WAL forever.
                    await self._advance(slot, flushed)
                    idle_at = flushed
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
                continue
            idle_at = -1
            changes, last_lsn = _changes(messages, relations)
            await self._publish(slot, changes)
            try:
                await self._fan_out(changes)
            except (psycopg.OperationalError, asyncio.CancelledError):
                raise
            except Exception:
                count = failures[1] + 1 if failures[0] == last_lsn else 1
                failures = (last_lsn, count)
                if count < MAX_BATCH_FAILURES:
                    raise
                log.exception("change feed: skipping a batch that failed %d times", count)
                await self._gap("changes could not be delivered and were skipped")
            await self._advance(slot, last_lsn)
            await slot.mark()
            failures = (0, 0)

    async def _advance(self, slot: Slot, lsn: int) -> None:
        # Noted before the call: a connection cut during it may have moved the slot all the same, and
        # everything before `lsn` was handed on already.
        self._advanced_to = lsn
        await slot.advance(lsn)

    async def _publish(self, slot: Slot, changes: list[Change]) -> None:
        """Hand the batch to the node's other processes, if any listens (committed before this process
        delivers it, so the slot advances only once everyone has it)."""
        if not changes:
            return
        row = await (await slot.conn.execute(bus.LISTENERS, (*self._bus_keys, self._listen_pid))).fetchone()
        if not row or not row[0]:
            return
        self._batches += 1
        async with slot.conn.transaction():
            for chunk in bus.chunks(self.reader_id, self._batches, bus.encode(changes)):
                await slot.conn.execute(bus.NOTIFY, (bus.CHANNEL, chunk))

    @property
    def _bus_keys(self) -> tuple[int, int]:
        return bus.lock_keys(self.slot_name, "bus")

    async def _listen(self) -> None:
        """The bus: a dedicated connection that holds a listener's lock and LISTENs, reconnecting for as
        long as it runs. Changes sent while it was away are lost to this process: its subscriptions are
        told (`_bus_came_back`), unless nothing was sent."""
        backoff = 0.5
        dropped: tuple[int, bool] | None = None  # (reader epoch, reading) when the connection was lost
        while True:
            try:
                async with await connect_dedicated(self.decode_url) as conn:
                    await conn.execute(bus.LISTENER_LOCK, self._bus_keys)
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(bus.CHANNEL)))
                    self._listen_pid = conn.info.backend_pid
                    if dropped is not None and (self._settling is None or self._settling.done()):
                        self._settling = asyncio.get_running_loop().create_task(
                            self._bus_came_back(*dropped), name="change-feed-bus-gap"
                        )
                    dropped = None
                    backoff = 0.5
                    self.listening.set()
                    async for notification in conn.notifies():
                        await self._on_bus(notification.payload)
            except psycopg.OperationalError as exc:
                log.warning("change feed bus: connection lost (%s); reconnecting in %.1f s", exc, backoff)
            except Exception:
                log.exception("change feed bus: a batch failed; reconnecting in %.1f s", backoff)
            self.listening.clear()
            self._listen_pid = 0
            if dropped is None:
                dropped = (self._epoch, self.reading.is_set())
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    async def _bus_came_back(self, epoch: int, was_reading: bool) -> None:
        """Batches sent while this process's bus connection was away are lost to it, unless nobody else
        read the slot meanwhile: this process read it all along, or takes it back (its reader
        reconnects too, as after a failover) no further than it left it. Otherwise its subscriptions
        are told."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.reading.wait(), RESUME_WAIT_S)
        all_along = was_reading and self._epoch == epoch
        if not (self.reading.is_set() and (all_along or self._resumed_own)):
            await self._gap_here("the connection to the change feed was lost and restored")

    async def _on_bus(self, payload: str) -> None:
        reader, batch, index, count, text = bus.split(payload)
        if reader == self.reader_id:
            return
        if batch == "gap":
            await self._gap_here(text)
            return
        parts = self._parts.setdefault((reader, batch), [])
        parts.append(text)
        if index + 1 < count:
            return
        del self._parts[(reader, batch)]
        self._parts.clear()  # a batch is sent in one transaction: anything older is incomplete for good
        changes = [Change(*fields) for fields in bus.decode("".join(parts))]
        await self._fan_out(changes)

    async def _gap(self, reason: str) -> None:
        """Changes may have been missed by everyone: this process's subscriptions and the others'."""
        await self._gap_here(reason)
        with contextlib.suppress(psycopg.Error, GardenError):
            await self.database.read(
                "service_role", None, [(bus.NOTIFY, (bus.CHANNEL, bus.gap_notice(self.reader_id, reason)))]
            )

    async def _gap_here(self, reason: str) -> None:
        for subscription in list(self._subscriptions):
            try:
                await subscription.sink.gap(reason)
            except Exception:
                log.exception("change feed: a sink failed to take a gap notice")

    # -- fan-out ------------------------------------------------------------------------------------

    async def _fan_out(self, changes: list[Change]) -> None:
        async with self._fan_lock:
            changes = [c for c in changes if c.end_lsn > self._fanned_lsn]
            if changes:
                await self._fan_out_once(changes)
                self._fanned_lsn = changes[-1].end_lsn

    async def _fan_out_once(self, changes: list[Change]) -> None:
        subscriptions = [s for s in self._subscriptions if not s.closed]
        if not subscriptions:
            return
        by_table: dict[str, list[Change]] = defaultdict(list)
        for change in changes:
            by_table[change.table].append(change)
        # Per subscription, the visible changes' (position in `changes`, payload).
        out: dict[_Subscription, list[tuple[int, ChangeMessage]]] = defaultdict(list)
        position = {id(c): i for i, c in enumerate(changes)}
        for name, table_changes in by_table.items():
            interested = [s for s in subscriptions if s.spec.table in (None, name)]
            if not interested:
                continue
            table = await self._table_for(name, table_changes)
            if table is None:
                continue
            groups: dict[_Key, list[_Subscription]] = defaultdict(list)
            for s in interested:
                groups[s.group_key()].append(s)
            standing = await self._standing(list(groups.items()))
            checks = [
                visibility.Check(members[0].principal, key[2], await self._reads(table, key[0]), key[1])
                for key, members in standing
            ]
            batch = visibility.Batch(table, [(c.new, c.old) for c in table_changes])
            records, seen = await batch.evaluate(self.database, checks)
            payloads = [ChangeMessage(p) for p in _payloads(table, table_changes, records)]
            for (_, members), visible in zip(standing, seen, strict=True):
                for i in sorted(visible):
                    change = table_changes[i]
                    for s in members:
                        if s.spec.matches(name, change.type) and change.end_lsn > s.start_lsn:
                            out[s].append((position[id(change)], payloads[i]))
        # In turn, not as tasks: a sink only queues (a task per subscriber and batch cost more than the
        # delivery), and one that fails closes its own subscription only.
        for s, items in out.items():
            items.sort(key=lambda x: x[0])
            await self._deliver(s, items)

    async def _deliver(self, subscription: _Subscription, items: list[tuple[int, ChangeMessage]]) -> None:
        for _, payload in items:
            if subscription.closed:
                return
            try:
                await subscription.sink.deliver(payload)
                self.delivered += 1
            except Exception:
                log.exception("change feed: a sink failed; its subscription is closed")
                await subscription.close()
                return

    async def _reads(self, table: TableInfo, role: str) -> tuple[str, ...] | None:
        """The contexts `role`'s policies on `table` read (context.py), proven once per policy text."""
        condition = table.condition(role)
        key = (table.oid, condition)
        if key not in self._proofs:
            async with self.database.transaction("service_role") as conn:
                self._proofs[key] = await context.prove(conn, table, condition)
        return self._proofs[key]

    async def _table_for(self, name: str, changes: list[Change]) -> TableInfo | None:
        table = await self.tables.get(name)
        columns = {c.name for c in table.columns} if table else set()
        if table is None or any(not set(c.checked) <= columns for c in changes):
            table = await self.tables.get(name, fresh=True)  # the table changed shape since
        return table

    async def _standing(
        self, groups: list[tuple[_Key, list[_Subscription]]]
    ) -> list[tuple[_Key, list[_Subscription]]]:
        """The groups whose token still stands. Answers the revocation cache holds are read in turn; the
        ones it must ask the database for are asked at once (every few seconds, when they expire)."""
        revocation = self.revocation
        if revocation is None:
            return groups
        cached = [g for g in groups if revocation.answered(g[1][0].principal.claims)]
        asked = [g for g in groups if not revocation.answered(g[1][0].principal.claims)]
        stands = [await self._still_stands(g[1][0].principal) for g in cached]
        stands += await asyncio.gather(*(self._still_stands(g[1][0].principal) for g in asked))
        return [g for g, ok in zip(cached + asked, stands, strict=True) if ok]

    async def _still_stands(self, principal: Principal) -> bool:
        """The token's session, user and claimed membership still hold (auth/revocation.py's cache:
        a dict lookup per group and batch): a signed-out or banned subscriber receives nothing more."""
        if self.revocation is None:
            return True
        try:
            await self.revocation.check(principal.claims)
        except InvalidToken:
            return False
        return True


def _payloads(table: TableInfo, changes: list[Change], records: list[Any]) -> list[dict[str, Any]]:
    """Supabase Realtime's `data` for each change (before the subscription ids the channel adds), from
    the rows as JSON in `visibility.Batch`'s order: each change's new row, then its old row."""
    columns = [{"name": c.name, "type": c.type} for c in table.columns]
    key = table.primary_key
    out = []
    at = 0
    for c in changes:
        new = old = None
        if c.new is not None:
            new = _known(records[at], c.new)
            at += 1
        if c.old is not None:
            old = _known(records[at], c.old)
            at += 1
        payload: dict[str, Any] = {
            "schema": table.schema,
            "table": table.name,
            "commit_timestamp": _timestamp(c.commit_time),
            "type": c.type,
            "columns": columns,
            "errors": None,
        }
        if new is not None:
            payload["record"] = new
        if c.type == "UPDATE":
            # The whole old row under REPLICA IDENTITY FULL; otherwise its key, as Supabase sends.
            full = old is not None and not c.old_is_key_only
            payload["old_record"] = old if full else {k: (old or new or {}).get(k) for k in key}
        elif c.type == "DELETE":
            assert old is not None
            # Supabase's rule: a deleted row of a table under RLS is told by its key alone.
            full = not c.old_is_key_only and not table.rls
            payload["old_record"] = old if full else {k: old.get(k) for k in key}
        out.append(payload)
    return out


def _changes(messages: Iterable[bytes], relations: dict[int, pgoutput.Relation]) -> tuple[list[Change], int]:
    """The row changes of whole transactions, in commit order, and the end of the last commit."""
    changes: list[Change] = []
    pending: list[
        tuple[str, str, dict[str, pgoutput.Value] | None, dict[str, pgoutput.Value] | None, bool]
    ] = []
    last_lsn = 0
    for data in messages:
        message = pgoutput.decode(data)
        if isinstance(message, pgoutput.Relation):
            relations[message.oid] = message
        elif isinstance(message, pgoutput.Begin):
            pending = []
        elif isinstance(message, pgoutput.Insert):
            rel = relations[message.relation_oid]
            pending.append((rel.name, "INSERT", _row(rel, message.new), None, False))
        elif isinstance(message, pgoutput.Update):
            rel = relations[message.relation_oid]
            old = _row(rel, message.old) if message.old is not None else None
            new = _row(rel, message.new)
            if old is not None:
                # pgoutput leaves out TOASTed values an UPDATE did not change: the old row has them.
                new = {k: old.get(k) if isinstance(v, pgoutput.UnchangedToast) else v for k, v in new.items()}
            pending.append((rel.name, "UPDATE", new, old, message.old_is_key_only))
        elif isinstance(message, pgoutput.Delete):
            rel = relations[message.relation_oid]
            pending.append((rel.name, "DELETE", None, _row(rel, message.old), message.old_is_key_only))
        elif isinstance(message, pgoutput.Commit):
            changes.extend(
                Change(t, k, message.end_lsn, message.commit_time, n, o, ko) for t, k, n, o, ko in pending
            )
            pending = []
            last_lsn = message.end_lsn
        # Relations of other schemas cannot be in the publication; Type, Origin, Truncate and logical
        # messages carry nothing a postgres_changes subscriber receives.
    return changes, last_lsn


def _row(relation: pgoutput.Relation, values: tuple[pgoutput.Value, ...]) -> dict[str, pgoutput.Value]:
    return {column.name: value for column, value in zip(relation.columns, values, strict=True)}


def _known(record: dict[str, Any], decoded: dict[str, pgoutput.Value]) -> dict[str, Any]:
    """The record without the values the WAL did not carry (a key-only old row, an unchanged TOAST)."""
    return {
        k: v
        for k, v in record.items()
        if k in decoded and not isinstance(decoded[k], pgoutput.UnchangedToast)
    }


def _timestamp(moment: datetime) -> str:
    """Supabase's `commit_timestamp`: UTC, milliseconds, `Z`."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
