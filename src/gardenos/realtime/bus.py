"""PostgreSQL as the bus between API processes: every broadcast and presence change is a NOTIFY on
`CHANNEL`, heard by every process (this one too, so each subscriber sees one order), which hands it to
the channels it holds for that scope.

A topic is scoped by agency: `Scope = (agency_id or None, topic)`, so two agencies using one topic name
share nothing. A NOTIFY carries at most 8000 bytes; a broadcast past that is stored in
`realtime.messages` and travels by id (migration 0021's trigger), and each process reads the row.
Raw-bytes payloads travel base64-encoded under `BINARY_KEY`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from gardenos.db.pool import Database

log = logging.getLogger(__name__)

CHANNEL = "gardenos_realtime"
NOTIFY_LIMIT = 7900
BINARY_KEY = "$binary"

NOTIFY = "SELECT pg_notify('gardenos_realtime', %s)"
# Through the table, which notifies by id (realtime.notify_message); `realtime.sender` names the
# connection that sent it, for `self: false`.
STORE = """
SELECT set_config('realtime.sender', %(sender)s, true);
"""
INSERT = """
INSERT INTO realtime.messages (agency_id, topic, extension, event, payload, private)
VALUES (%(agency)s, %(topic)s, 'broadcast', %(event)s, %(payload)s, %(private)s)
"""
READ = "SELECT agency_id, topic, event, payload, private FROM realtime.messages WHERE id = %s"

Scope = tuple[str | None, str]


class BusNotReady(Exception):
    """The process does not hear the bus yet (it is starting, or its LISTEN connection is away)."""


@dataclass(frozen=True, slots=True)
class Broadcast:
    scope: Scope
    event: str
    payload: Any  # JSON value, or bytes
    private: bool
    sender: str | None  # the connection that sent it, or None (HTTP, the database)
    # Its frame as each (serializer, topic spelling) reads it, encoded by the first channel that needs it
    # (socket.py): a fan-out encodes once, not once per client.
    encoded: dict[tuple[str, str], str | bytes] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class PresenceDiff:
    scope: Scope
    private: bool
    joins: dict[str, Any]
    leaves: dict[str, Any]


class Subscriber(Protocol):
    """A joined channel, as the bus sees it."""

    private: bool

    async def on_broadcast(self, message: Broadcast) -> None: ...

    async def on_presence_diff(self, diff: PresenceDiff) -> None: ...

    async def on_bus_gap(self) -> None: ...


class Hub:
    """The channels joined on this process, by scope."""

    def __init__(self) -> None:
        self._channels: dict[Scope, set[Subscriber]] = {}

    def add(self, scope: Scope, channel: Subscriber) -> None:
        self._channels.setdefault(scope, set()).add(channel)

    def remove(self, scope: Scope, channel: Subscriber) -> None:
        channels = self._channels.get(scope)
        if channels is not None:
            channels.discard(channel)
            if not channels:
                del self._channels[scope]

    def subscribers(self, scope: Scope, private: bool) -> list[Subscriber]:
        return [channel for channel in self._channels.get(scope, ()) if channel.private == private]

    def all(self) -> list[Subscriber]:
        return [channel for channels in self._channels.values() for channel in channels]

    @property
    def topics(self) -> int:
        return len(self._channels)


class Bus:
    def __init__(self, database: Database, hub: Hub) -> None:
        self.database = database
        self.hub = hub
        self.node_id = uuid.uuid4()
        # Set once this process LISTENs on CHANNEL: a channel joined before then could miss a broadcast or
        # a presence change sent between its snapshot and the LISTEN.
        self.listening = asyncio.Event()

    async def wait_listening(self) -> None:
        """Returns once the bus hears every process's messages; at most the database's timeout."""
        if self.listening.is_set():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.listening.wait(), self.database.timeout)
        if not self.listening.is_set():
            raise BusNotReady(
                "this server is still connecting to the database to hear other servers' messages; "
                "join again shortly"
            )

    async def publish(self, message: Broadcast) -> None:
        """Returns once the message is committed to the bus: every process will deliver it."""
        agency, topic = message.scope
        payload = message.payload
        if isinstance(payload, bytes):
            payload = {BINARY_KEY: base64.b64encode(payload).decode()}
        body = json.dumps(
            {
                "k": "b",
                "a": agency,
                "t": topic,
                "e": message.event,
                "p": payload,
                "pv": message.private,
                "x": message.sender,
            },
            separators=(",", ":"),
        )
        async with self.database.transaction("service_role") as conn:
            if len(body.encode()) <= NOTIFY_LIMIT:
                await conn.execute(NOTIFY, (body,))
                return
            await conn.execute(STORE, {"sender": message.sender or ""})
            params = {"agency": agency, "topic": topic, "event": message.event, "private": message.private}
            await conn.execute(INSERT, params | {"payload": json.dumps(payload)})

    def presence_notice(self, diff: PresenceDiff) -> str:
        """The NOTIFY body of a presence change, sent by presence.py in the transaction that stores it."""
        agency, topic = diff.scope
        return json.dumps(
            {"k": "p", "a": agency, "t": topic, "pv": diff.private, "j": diff.joins, "l": diff.leaves},
            separators=(",", ":"),
        )

    async def on_notify(self, body: str) -> None:
        try:
            note = json.loads(body)
        except ValueError:
            log.warning("realtime bus: ignored a notification that is not JSON")
            return
        if note.get("k") == "p":
            diff = PresenceDiff((note["a"], note["t"]), bool(note["pv"]), note["j"], note["l"])
            await _each(self.hub.subscribers(diff.scope, diff.private), lambda ch: ch.on_presence_diff(diff))
            return
        if "id" in note:
            (row,) = await self.database.read("service_role", None, [(READ, (note["id"],))])
            if row is None:
                return
            agency, topic, event, payload, private = row
            note = {"a": str(agency) if agency else None, "t": topic, "e": event, "p": payload, "pv": private}
        payload = note.get("p")
        if isinstance(payload, dict) and set(payload) == {BINARY_KEY}:
            payload = base64.b64decode(payload[BINARY_KEY])
        message = Broadcast(
            (note.get("a"), note["t"]), note.get("e") or "", payload, bool(note["pv"]), note.get("x")
        )
        await _each(self.hub.subscribers(message.scope, message.private), lambda ch: ch.on_broadcast(message))

    async def on_reconnect(self) -> None:
        """Notifications sent while the LISTEN connection was away are lost: every channel is told."""
        await _each(self.hub.all(), lambda ch: ch.on_bus_gap())


async def _each(channels: list[Subscriber], call: Callable[[Subscriber], Awaitable[None]]) -> None:
    # One channel's failure (its client went away mid-send) must not stop delivery to the others.
    for channel in channels:
        try:
            await call(channel)
        except Exception:
            log.exception("realtime: delivery to a channel failed")
