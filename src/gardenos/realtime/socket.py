"""One websocket connection speaking Supabase Realtime's Phoenix-channel protocol: heartbeats, joins
with their config (broadcast self/ack, presence key, postgres_changes, private), broadcast, presence,
access_token refreshes and leaves. Every caller is resolved as at every other door (apikey, then the
join's or refresh's `access_token`, checked for revocation).

Frames to the client go through a bounded queue: a client that reads slower than its channels send is
closed with a reason rather than buffered without bound. A frame sent to many clients (a broadcast, a
database change) is encoded once per serializer, not once per client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, cast

from starlette.websockets import WebSocket, WebSocketDisconnect

from gardenos.auth.principal import Principal
from gardenos.auth.revocation import RevocationCache
from gardenos.auth.tokens import InvalidToken, TokenService
from gardenos.db.pool import Database
from gardenos.errors import GardenError
from gardenos.realtime import frames
from gardenos.realtime.authorization import Permissions, authorize
from gardenos.realtime.bus import Broadcast, Bus, BusNotReady, Hub, PresenceDiff, Scope
from gardenos.realtime.contracts import (
    ChangeFeed,
    ChangeMessage,
    ChangeSpec,
    ChangeSubscription,
    InvalidChangeSpec,
)
from gardenos.realtime.frames import Frame
from gardenos.realtime.limits import AgencyCounters, TokenBucket
from gardenos.realtime.presence import PresenceStore, PresenceTooLarge
from gardenos.settings import Settings

log = logging.getLogger(__name__)

PREFIX = "realtime:"
MAX_TOPIC_CHARS = 200
CHANGE_EVENTS = ("INSERT", "UPDATE", "DELETE", "*")
# Close codes (RFC 6455): policy violation, and a frame past the hard size limit.
POLICY = 1008
CLOSE_WAIT_S = 10.0
CHANGES = "postgres_changes"


@dataclass
class Realtime:
    """This process's realtime state, kept on `app.state.realtime`."""

    settings: Settings
    database: Database
    tokens: TokenService
    revocation: RevocationCache | None
    hub: Hub
    bus: Bus
    presence: PresenceStore
    counters: AgencyCounters
    connections: set[Connection] = field(default_factory=set)

    def counts(self) -> tuple[int, int]:
        """(websocket connections, joined channels) on this process."""
        return len(self.connections), sum(len(connection.channels) for connection in self.connections)

    async def check(self, principal: Principal) -> None:
        if self.revocation is not None:
            await self.revocation.check(principal.claims)

    def principal(self, token: str) -> Principal:
        claims = self.tokens.verify(token)
        if claims.role not in ("anon", "authenticated", "service_role"):
            raise InvalidToken("the token's role must be anon, authenticated or service_role")
        return Principal(claims, token)


class Refused(Exception):
    """A push answered `{status: error, response: {reason}}`."""


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _agency(principal: Principal) -> str | None:
    return str(principal.agency_id) if principal.agency_id is not None else None


class Channel:
    def __init__(
        self, conn: Connection, topic: str, join_ref: str | None, principal: Principal, config: dict[str, Any]
    ) -> None:
        self.conn = conn
        self.topic = topic
        self.sub_topic = topic.removeprefix(PREFIX)
        self.join_ref = join_ref
        self.principal = principal
        self.scope: Scope = (_agency(principal), self.sub_topic)
        self.private = bool(config.get("private"))
        broadcast = _object(config.get("broadcast"))
        self.echo = bool(broadcast.get("self"))
        self.ack = bool(broadcast.get("ack"))
        presence = _object(config.get("presence"))
        self.presence_enabled = bool(presence.get("enabled", True))
        self.presence_key = str(presence.get("key") or "") or str(uuid.uuid4())
        self.presence_ref: str | None = None
        self.permissions = Permissions.everything()
        self.subscriptions: list[ChangeSubscription] = []
        # A timer, not a task: an idle channel costs no coroutine.
        self.expiry: asyncio.TimerHandle | None = None

    def send(self, event: str, payload: dict[str, Any], ref: str | None = None) -> None:
        self.conn.send(Frame(self.join_ref if ref else None, ref, self.topic, event, payload))

    def system(self, extension: str, message: str, status: str) -> None:
        self.send(
            "system",
            {"channel": self.sub_topic, "extension": extension, "message": message, "status": status},
        )

    async def on_broadcast(self, message: Broadcast) -> None:
        if message.sender == self.conn.tag and not self.echo:
            return
        # Encoded once per serializer and topic spelling, for every channel of the fan-out.
        key = (self.conn.vsn, self.topic)
        data = message.encoded.get(key)
        if data is None:
            payload = {"type": "broadcast", "event": message.event, "payload": message.payload}
            try:
                data = frames.encode(self.conn.vsn, Frame(None, None, self.topic, "broadcast", payload))
            except frames.BinaryForJson:
                data = b""  # a raw-bytes broadcast: a vsn=1.0.0 client has no way to read it
            message.encoded[key] = data
        if data:
            self.conn.send_data(data)

    async def on_presence_diff(self, diff: PresenceDiff) -> None:
        if self.presence_enabled:
            self.send("presence_diff", {"joins": diff.joins, "leaves": diff.leaves})

    async def on_bus_gap(self) -> None:
        self.system(
            "broadcast",
            "the server lost its database connection for a moment: broadcasts may have been missed",
            "ok",
        )
        if self.presence_enabled:
            await self.send_presence_state()

    async def send_presence_state(self) -> None:
        self.send("presence_state", await self.conn.rt.presence.state(self.scope, self.private))

    def watch_expiry(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
        exp = self.principal.raw_claims.get("exp")
        if isinstance(exp, (int, float)):
            loop = asyncio.get_running_loop()
            self.expiry = loop.call_later(max(0.0, float(exp) - time.time()), self._expire)

    def _expire(self) -> None:
        self.expiry = None
        self.conn.spawn(self.conn.shut(self, "InvalidJWTToken: Token has expired"), "realtime-expiry")

    async def close(self) -> None:
        rt = self.conn.rt
        rt.hub.remove(self.scope, self)
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
        for subscription in self.subscriptions:
            with contextlib.suppress(Exception):
                await subscription.close()
        self.subscriptions = []
        if self.presence_ref is not None:
            ref, self.presence_ref = self.presence_ref, None
            with contextlib.suppress(Exception):
                await rt.presence.untrack([ref])


class _Sink:
    """Where the change feed hands one subscription's changes."""

    def __init__(self, channel: Channel, sub_id: int) -> None:
        self.channel = channel
        self.sub_id = sub_id
        # The frame around the change's JSON, fixed for this subscription.
        head, tail = frames.around_payload(channel.conn.vsn, None, None, channel.topic, CHANGES)
        self.head = head + '{"ids":[' + str(sub_id) + '],"data":'
        self.tail = "}" + tail

    async def deliver(self, change: ChangeMessage) -> None:
        # The change's JSON is encoded once for every subscriber; only the frame around it differs.
        self.channel.conn.send_data(self.head + change.json + self.tail)

    async def gap(self, reason: str) -> None:
        self.channel.system("postgres_changes", reason, "ok")


class Connection:
    """One websocket. Idle, it is one suspended coroutine (the ASGI task, waiting to read): frames to
    the client wait in a deque, written by a task that exists only while the deque is not empty."""

    def __init__(self, rt: Realtime, websocket: WebSocket, vsn: frames.Vsn, principal: Principal) -> None:
        self.rt = rt
        self.websocket = websocket
        self.vsn = vsn
        self.principal = principal
        self.tag = uuid.uuid4().hex  # unique across processes: `self: false` compares it
        self.queue: deque[str | bytes] = deque()
        self.limit = rt.settings.realtime_send_queue
        self.channels: dict[str, Channel] = {}
        self.joins = TokenBucket(rt.settings.realtime_max_joins_per_s)
        self.closing: tuple[int, str] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[Any] | None = None  # the task in `run`, cancelled by `_stop`
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()

    # Sending -------------------------------------------------------------------------------------------

    def send(self, frame: Frame) -> None:
        if self.closing is not None:
            return
        try:
            data = frames.encode(self.vsn, frame)
        except frames.BinaryForJson:
            return  # a raw-bytes broadcast: a vsn=1.0.0 client has no way to read it
        self.send_data(data)

    def send_data(self, data: str | bytes) -> None:
        """An encoded frame, after the ones already waiting."""
        if self.closing is not None:
            return
        if len(self.queue) >= self.limit:
            self.cut(POLICY, f"slow consumer: more than {self.limit} messages waiting to be read")
            return
        self.queue.append(data)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write(), name="realtime-writer")

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Work of this connection's own outside the reader (a token's expiry), ended with it."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cut(self, code: int, reason: str) -> None:
        """Close the connection with a reason; what was queued for it is dropped."""
        if self.closing is not None:
            return
        self.closing = (code, reason)
        log.info("realtime: closing a connection: %s", reason)
        self.queue.clear()
        self._stop()

    def _stop(self) -> None:
        """Stop reading: `run` closes the connection."""
        self._stopping = True
        if self._reader is not None:
            self._reader.cancel()

    def reply(self, frame: Frame, status: str, response: dict[str, Any]) -> None:
        self.send(
            Frame(
                frame.join_ref, frame.ref, frame.topic, "phx_reply", {"status": status, "response": response}
            )
        )

    async def _write(self) -> None:
        try:
            while self.queue:
                data = self.queue.popleft()
                if isinstance(data, bytes):
                    await self.websocket.send_bytes(data)
                else:
                    await self.websocket.send_text(data)
        except Exception:
            # The client went away mid-send.
            self._stop()
        finally:
            self._writer = None

    # Reading -------------------------------------------------------------------------------------------

    async def reader(self) -> None:
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            try:
                frame = frames.decode(data)
            except frames.FrameError as exc:
                # No topic to answer on: `phoenix`, which no channel listens to; the socket stays usable.
                self.send(
                    Frame(
                        None,
                        None,
                        "phoenix",
                        "phx_reply",
                        {"status": "error", "response": {"reason": str(exc)}},
                    )
                )
                continue
            try:
                await self.handle(frame, len(data))
            except Refused as exc:
                self.reply(frame, "error", {"reason": str(exc)})
            except GardenError as exc:
                self.reply(frame, "error", {"reason": exc.message})
            except Exception:
                # A fault of ours answers this push only; the connection and its other channels go on.
                log.exception("realtime: %s on %s failed", frame.event[:50], frame.topic[:200])
                self.reply(frame, "error", {"reason": "the server failed to handle this message"})

    async def run(self) -> None:
        """Reads until the client leaves or `cut` cancels the read; then closes and drops the channels."""
        task = asyncio.current_task()
        assert task is not None
        self._reader = task
        try:
            await self.reader()
        except asyncio.CancelledError:
            if not self._stopping:
                raise  # not ours: the server is stopping this task
            task.uncancel()
        except WebSocketDisconnect:
            pass
        finally:
            self._reader = None
            for work in [self._writer, *self._tasks]:
                if work is not None and work is not task:
                    work.cancel()
            if self.closing is not None:
                # A client that never reads is dropped when this returns (the server closes the
                # transport) if the close frame cannot be written within CLOSE_WAIT_S.
                code, reason = self.closing
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.websocket.close(code, reason[:120]), CLOSE_WAIT_S)
            for channel in list(self.channels.values()):
                await self.drop(channel)

    # Events --------------------------------------------------------------------------------------------

    async def handle(self, frame: Frame, size: int) -> None:
        if frame.topic == "phoenix":
            if frame.event != "heartbeat":
                raise Refused(f"unknown event {frame.event[:50]!r} on topic phoenix")
            self.reply(frame, "ok", {})
            return
        if frame.event == "phx_join":
            await self.join(frame)
            return
        channel = self.channels.get(frame.topic)
        if channel is None:
            raise Refused("unmatched topic: join the channel first")
        if frame.event == "phx_leave":
            await self.drop(channel)
            self.reply(frame, "ok", {})
        elif frame.event == "access_token":
            await self.refresh(channel, frame.payload.get("access_token"))
        elif frame.event in ("broadcast", "presence"):
            settings = self.rt.settings
            if size > settings.realtime_max_payload_bytes:
                raise Refused(
                    f"PayloadTooLarge: at most {settings.realtime_max_payload_bytes} bytes per message"
                )
            if not self.rt.counters.event(channel.scope[0]):
                raise Refused(
                    f"TooManyEvents: over {settings.realtime_max_events_per_s:g} events/s in this agency; "
                    "slow down"
                )
            if frame.event == "broadcast":
                await self.broadcast(channel, frame)
            else:
                await self.track(channel, frame)
        else:
            raise Refused(f"unknown event {frame.event[:50]!r}")

    async def join(self, frame: Frame) -> None:
        settings = self.rt.settings
        old = self.channels.get(frame.topic)
        if old is not None:
            await self.drop(old)
            old.send("phx_close", {}, ref=old.join_ref)
        if not frame.topic or len(frame.topic) > MAX_TOPIC_CHARS:
            raise Refused(f"a topic must have 1 to {MAX_TOPIC_CHARS} characters")
        if len(self.channels) >= settings.realtime_max_channels_per_connection:
            raise Refused(
                "ChannelRateLimitReached: at most "
                f"{settings.realtime_max_channels_per_connection} channels per connection"
            )
        if not self.joins.take():
            raise Refused(
                f"ClientJoinRateLimitReached: over {settings.realtime_max_joins_per_s:g} joins per second"
            )
        config = frame.payload.get("config") or {}
        if not isinstance(config, dict):
            raise Refused("`config` must be an object")
        token = frame.payload.get("access_token")
        principal = self.principal
        if isinstance(token, str) and token:
            try:
                principal = self.rt.principal(token)
            except GardenError as exc:
                raise Refused(f"InvalidJWTToken: {exc.message}") from None
        try:
            await self.rt.check(principal)
        except GardenError as exc:
            raise Refused(f"InvalidJWTToken: {exc.message}") from None
        agency = _agency(principal)
        if not await self.rt.counters.claim(agency, self.tag):
            raise Refused(
                "ConnectionRateLimitReached: at most "
                f"{settings.realtime_max_connections_per_agency} connections per agency"
            )
        try:
            await self._join(frame, principal, config)
        except BaseException:
            # A refused join gives back the place it took, unless another channel holds it.
            if not any(other.scope[0] == agency for other in self.channels.values()):
                await self.rt.counters.release(agency, self.tag)
            raise

    async def _join(self, frame: Frame, principal: Principal, config: dict[str, Any]) -> None:
        channel = Channel(self, frame.topic, frame.join_ref, principal, config)
        if channel.private:
            channel.permissions = await authorize(self.rt.database, principal, channel.sub_topic)
            if not channel.permissions.read:
                raise Refused(_unauthorized("read from", channel.sub_topic))
        try:
            await self.rt.bus.wait_listening()
        except BusNotReady as exc:
            raise Refused(str(exc)) from None
        bindings = await self.subscribe_changes(channel, config.get("postgres_changes") or [])
        self.channels[frame.topic] = channel
        self.rt.hub.add(channel.scope, channel)
        self.reply(frame, "ok", {"postgres_changes": bindings})
        if bindings:
            channel.system("postgres_changes", "Subscribed to PostgreSQL", "ok")
        if channel.presence_enabled:
            await channel.send_presence_state()
        channel.watch_expiry()

    async def subscribe_changes(self, channel: Channel, entries: Any) -> list[dict[str, Any]]:
        if not isinstance(entries, list):
            raise Refused("`config.postgres_changes` must be a list")
        # Read at each join: app.state.change_feed is whichever feed create_app installed.
        feed: ChangeFeed = self.websocket.app.state.change_feed
        bindings = []
        try:
            for number, entry in enumerate(entries, start=1):
                spec = _spec(entry)
                sub_id = number
                subscription = await feed.subscribe(channel.principal, spec, _Sink(channel, sub_id))
                channel.subscriptions.append(subscription)
                bindings.append({**entry, "id": sub_id})
        except GardenError:
            for subscription in channel.subscriptions:
                with contextlib.suppress(Exception):
                    await subscription.close()
            channel.subscriptions = []
            raise
        return bindings

    async def drop(self, channel: Channel) -> None:
        if self.channels.get(channel.topic) is channel:
            del self.channels[channel.topic]
        await channel.close()
        agency = channel.scope[0]
        if not any(other.scope[0] == agency for other in self.channels.values()):
            await self.rt.counters.release(agency, self.tag)

    async def shut(self, channel: Channel, reason: str) -> None:
        """Close a channel with a reason, as Supabase: a `system` error, then `phx_close`."""
        channel.system("system", reason, "error")
        channel.send("phx_close", {}, ref=channel.join_ref)
        await self.drop(channel)

    async def refresh(self, channel: Channel, token: Any) -> None:
        if not isinstance(token, str) or not token:
            return  # the client cleared its token: the channel keeps the caller it joined as
        try:
            principal = self.rt.principal(token)
            await self.rt.check(principal)
        except GardenError as exc:
            await self.shut(channel, f"InvalidJWTToken: {exc.message}")
            return
        if _agency(principal) != channel.scope[0]:
            await self.shut(channel, "the new token is for another agency: join the channel again")
            return
        if channel.private:
            permissions = await authorize(self.rt.database, principal, channel.sub_topic)
            if not permissions.read:
                await self.shut(
                    channel,
                    _unauthorized("read from", channel.sub_topic),
                )
                return
            channel.permissions = permissions
        channel.principal = principal
        for subscription in channel.subscriptions:
            subscription.set_principal(principal)
        channel.watch_expiry()

    async def broadcast(self, channel: Channel, frame: Frame) -> None:
        if "broadcast" not in channel.permissions.send:
            raise Refused(_unauthorized("write to", channel.sub_topic))
        event = frame.payload.get("event")
        if not isinstance(event, str):
            raise Refused("a broadcast needs `event` (a string)")
        message = Broadcast(channel.scope, event, frame.payload.get("payload"), channel.private, self.tag)
        await self.rt.bus.publish(message)
        if channel.ack and frame.ref is not None:
            self.reply(frame, "ok", {})

    async def track(self, channel: Channel, frame: Frame) -> None:
        if "presence" not in channel.permissions.send:
            raise Refused(_unauthorized("track presence on", channel.sub_topic))
        event = frame.payload.get("event")
        store = self.rt.presence
        if event == "track":
            try:
                channel.presence_ref = await store.track(
                    channel.scope,
                    channel.private,
                    channel.presence_key,
                    frame.payload.get("payload"),
                    channel.presence_ref,
                )
            except PresenceTooLarge as exc:
                raise Refused(f"PayloadTooLarge: {exc}") from None
            if not channel.presence_enabled:
                channel.presence_enabled = True
                await channel.send_presence_state()
        elif event == "untrack":
            if channel.presence_ref is not None:
                ref, channel.presence_ref = channel.presence_ref, None
                await store.untrack([ref])
        else:
            raise Refused("a presence message's `event` is `track` or `untrack`")
        self.reply(frame, "ok", {})


def _unauthorized(action: str, topic: str) -> str:
    # Supabase's words: clients match on the `Unauthorized` prefix.
    return f"Unauthorized: You do not have permissions to {action} this Channel topic: {topic}"


def _spec(entry: Any) -> ChangeSpec:
    if not isinstance(entry, dict):
        raise InvalidChangeSpec("each `postgres_changes` entry must be an object")
    event = entry.get("event")
    if event not in CHANGE_EVENTS:
        raise InvalidChangeSpec("a `postgres_changes` event is one of INSERT, UPDATE, DELETE or *")
    schema, table, filter_ = entry.get("schema", "public"), entry.get("table"), entry.get("filter")
    if not isinstance(schema, str) or not all(v is None or isinstance(v, str) for v in (table, filter_)):
        raise InvalidChangeSpec("`schema`, `table` and `filter` must be strings")
    return ChangeSpec(cast(Any, event), schema, table, filter_)


async def serve(rt: Realtime, websocket: WebSocket, principal: Principal, vsn: frames.Vsn) -> None:
    await websocket.accept()
    connection = Connection(rt, websocket, vsn, principal)
    rt.connections.add(connection)
    try:
        await connection.run()
    finally:
        rt.connections.discard(connection)
