"""Presence shared by every API process: who is tracked in each topic lives in `realtime.presences`,
written by the process that holds the connection, in the same transaction as the NOTIFY that tells
every process the diff (bus.py). A joining client reads the state from the table, so it sees the
presences of every process; a diff is what changed, in the order the database committed it.

Each process heartbeats its row in `realtime.nodes` (a lease); one that stopped (kill -9) is swept by the
others once its lease ran out (`realtime_node_timeout_s`), its presences leaving with a diff like any
other.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Callable
from typing import Any

from gardenos.db.pool import Database
from gardenos.realtime.bus import NOTIFY, Bus, PresenceDiff, Scope

log = logging.getLogger(__name__)

# Heartbeats per lease: a process survives a few failed ones (a failover's pause) before it is swept.
HEARTBEATS_PER_LEASE = 6
# One presence must fit a NOTIFY beside its scope.
MAX_META_BYTES = 3000

REGISTER = """
INSERT INTO realtime.nodes (id, expires_at) VALUES (%(node)s, now() + make_interval(secs => %(lease)s))
ON CONFLICT (id) DO UPDATE SET seen_at = now(), expires_at = excluded.expires_at
"""
HEARTBEAT = """
INSERT INTO realtime.nodes (id, connections, channels, expires_at)
VALUES (%(node)s, %(connections)s, %(channels)s, now() + make_interval(secs => %(lease)s))
ON CONFLICT (id) DO UPDATE
SET seen_at = now(), connections = excluded.connections, channels = excluded.channels,
    expires_at = excluded.expires_at
"""
FORGET_NODE = "DELETE FROM realtime.nodes WHERE id = %s"
TRACK = """
INSERT INTO realtime.presences (ref, node_id, agency_id, topic, private, key, meta)
VALUES (%(ref)s, %(node)s, %(agency)s, %(topic)s, %(private)s, %(key)s, %(meta)s)
"""
UNTRACK = (
    "DELETE FROM realtime.presences WHERE ref = ANY(%s) RETURNING agency_id, topic, private, key, ref, meta"
)
STATE = """
SELECT key, ref, meta FROM realtime.presences
WHERE topic = %s AND agency_id IS NOT DISTINCT FROM %s AND private = %s
ORDER BY inserted_at, ref
"""
# The presences of processes whose lease ran out, removed with their node.
SWEEP = """
WITH dead AS (
    DELETE FROM realtime.nodes WHERE expires_at < now() AND id <> %s RETURNING id
)
DELETE FROM realtime.presences p USING dead WHERE p.node_id = dead.id
RETURNING p.agency_id, p.topic, p.private, p.key, p.ref, p.meta
"""
# Broadcasts stored for their size or sent from the database are read at once; old ones are dropped.
PRUNE = "DELETE FROM realtime.messages WHERE inserted_at < now() - interval '1 day'"


class PresenceTooLarge(ValueError):
    pass


def _entry(ref: str, meta: Any) -> dict[str, Any]:
    return {**(meta if isinstance(meta, dict) else {}), "phx_ref": ref}


class PresenceStore:
    def __init__(self, database: Database, bus: Bus, node_timeout_s: float) -> None:
        self.database = database
        self.bus = bus
        self.node_timeout_s = node_timeout_s

    @property
    def node_id(self) -> uuid.UUID:
        return self.bus.node_id

    def _lease(self) -> dict[str, Any]:
        return {"node": self.node_id, "lease": self.node_timeout_s}

    async def register(self, conn: Any) -> None:
        """This process's row in realtime.nodes, which its presences and connections refer to (the
        heartbeat may not have run yet)."""
        await conn.execute(REGISTER, self._lease())

    async def track(self, scope: Scope, private: bool, key: str, meta: Any, replaces: str | None) -> str:
        """Track `meta` under `key`, replacing this channel's earlier presence; returns the new ref."""
        text = json.dumps(meta if isinstance(meta, dict) else {})
        if len(text.encode()) > MAX_META_BYTES:
            raise PresenceTooLarge(f"a presence may hold at most {MAX_META_BYTES} bytes of JSON")
        ref = uuid.uuid4().hex
        agency, topic = scope
        async with self.database.transaction("service_role") as conn:
            await self.register(conn)
            leaves: dict[str, Any] = {}
            if replaces is not None:
                cur = await conn.execute(UNTRACK, ([replaces],))
                for row in await cur.fetchall():
                    leaves.setdefault(row[3], {"metas": []})["metas"].append(_entry(row[4], row[5]))
            params = {"ref": ref, "node": self.node_id, "agency": agency, "topic": topic}
            await conn.execute(TRACK, params | {"private": private, "key": key, "meta": text})
            joins = {key: {"metas": [_entry(ref, meta)]}}
            await conn.execute(
                NOTIFY, (self.bus.presence_notice(PresenceDiff(scope, private, joins, leaves)),)
            )
        return ref

    async def untrack(self, refs: list[str]) -> None:
        if not refs:
            return
        async with self.database.transaction("service_role") as conn:
            cur = await conn.execute(UNTRACK, (refs,))
            await self._announce_leaves(conn, await cur.fetchall())

    async def state(self, scope: Scope, private: bool) -> dict[str, Any]:
        agency, topic = scope
        async with self.database.transaction("service_role") as conn:
            cur = await conn.execute(STATE, (topic, agency, private))
            rows = await cur.fetchall()
        state: dict[str, Any] = {}
        for key, ref, meta in rows:
            state.setdefault(key, {"metas": []})["metas"].append(_entry(ref, meta))
        return state

    async def _announce_leaves(self, conn: Any, rows: list[tuple[Any, ...]]) -> None:
        diffs: dict[tuple[Scope, bool], dict[str, Any]] = {}
        for agency, topic, private, key, ref, meta in rows:
            leaves = diffs.setdefault(((str(agency) if agency else None, topic), private), {})
            leaves.setdefault(key, {"metas": []})["metas"].append(_entry(ref, meta))
        for (scope, private), leaves in diffs.items():
            # One NOTIFY per presence: a diff of many would not fit in one.
            for key, entry in leaves.items():
                for meta in entry["metas"]:
                    diff = PresenceDiff(scope, private, {}, {key: {"metas": [meta]}})
                    await conn.execute(NOTIFY, (self.bus.presence_notice(diff),))

    async def run(self, counts: Callable[[], tuple[int, int]]) -> None:
        """Heartbeat this process's node (with its `counts()`: connections, channels) and sweep dead
        ones, until cancelled; then forget this node."""
        try:
            while True:
                try:
                    async with self.database.transaction("service_role") as conn:
                        connections, channels = counts()
                        params = self._lease() | {"connections": connections, "channels": channels}
                        await conn.execute(HEARTBEAT, params)
                        cur = await conn.execute(SWEEP, (self.node_id,))
                        await self._announce_leaves(conn, await cur.fetchall())
                        await conn.execute(PRUNE)
                except Exception:
                    log.exception("realtime presence: heartbeat failed; trying again")
                await asyncio.sleep(self.node_timeout_s / HEARTBEATS_PER_LEASE)
        finally:
            # Awaited here, after the cancellation: the lifespan closes the pool only once this returns.
            await self._forget()

    async def _forget(self) -> None:
        """A clean stop: this process's presences leave at once (its clients are disconnected)."""
        try:
            async with self.database.transaction("service_role") as conn:
                cur = await conn.execute(
                    "DELETE FROM realtime.presences WHERE node_id = %s "
                    "RETURNING agency_id, topic, private, key, ref, meta",
                    (self.node_id,),
                )
                await self._announce_leaves(conn, await cur.fetchall())
                await conn.execute(FORGET_NODE, (self.node_id,))
        except Exception:
            log.warning("realtime presence: could not remove this process's presences; they will be swept")
