"""Helpers for the realtime tests: the official Python client (supabase-py's `realtime`, async) pointed
at a live API, and waiting for what it receives."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import jwt
from supabase import AsyncClientOptions, acreate_client

WAIT_S = 15.0


@asynccontextmanager
async def realtime_client(url: str, apikey: str, token: str | None = None) -> AsyncIterator[Any]:
    """supabase-py's realtime client, as an app reaches it: `acreate_client(...).realtime`."""
    options = AsyncClientOptions(
        auto_refresh_token=False, persist_session=False, realtime={"auto_reconnect": False}
    )
    supabase = await acreate_client(url, apikey, options=options)
    client = supabase.realtime
    await client.connect()
    if token is not None:
        await client.set_auth(token)
    try:
        yield client
    finally:
        await client.close()


async def eventually(check: Callable[[], Any], what: str) -> Any:
    """Until `check()` is truthy, at most WAIT_S (messages arrive after the call that sent them)."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.02)


async def subscribed(channel: Any) -> tuple[str, Exception | None]:
    """Subscribe and return the state the client reported (SUBSCRIBED, CHANNEL_ERROR…) and its error."""
    states: list[tuple[str, Exception | None]] = []
    await channel.subscribe(lambda state, error: states.append((str(state.value), error)))
    return states[0] if states else ("NONE", None)


def resign(tokens: Any, token: str, **changes: Any) -> str:
    """`token`'s claims with `changes`, signed with the project's key (an expired token, say)."""
    claims = jwt.decode(token, options={"verify_signature": False})
    signed: str = tokens.sign(claims | changes)
    return signed


def forge(token: str) -> str:
    """The same claims signed with a key that is not the project's."""
    claims = jwt.decode(token, options={"verify_signature": False})
    return jwt.encode(claims, "not-the-project-secret-" * 2, algorithm="HS256")


class Closed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed: {code} {reason}")
        self.code = code
        self.reason = reason


class Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"upgrade refused: {status}")
        self.status = status


class Raw:
    """A websocket speaking the protocol by hand (vsn=1.0.0 objects), for what the clients never send.
    RFC 6455 framing written out here (client frames masked), so a test controls every byte."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.ref = 0

    async def send(self, data: str | bytes) -> None:
        opcode, body = (1, data.encode()) if isinstance(data, str) else (2, data)
        head = bytes([0x80 | opcode])
        if len(body) < 126:
            head += bytes([0x80 | len(body)])
        elif len(body) < 1 << 16:
            head += bytes([0x80 | 126]) + struct.pack("!H", len(body))
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", len(body))
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(body)) if len(body) < 4096 else _mask(body, mask)
        self.writer.write(head + mask + masked)
        await self.writer.drain()

    async def recv(self) -> str | bytes:
        while True:
            first, second = await self.reader.readexactly(2)
            length = second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", await self.reader.readexactly(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", await self.reader.readexactly(8))
            body = await self.reader.readexactly(length)
            opcode = first & 0x0F
            if opcode == 1:
                return body.decode()
            if opcode == 2:
                return body
            if opcode == 8:
                code = struct.unpack("!H", body[:2])[0] if len(body) >= 2 else None
                raise Closed(code, body[2:].decode(errors="replace"))
            # ping/pong: nothing to answer within a test's lifetime

    async def push(self, topic: str, event: str, payload: dict[str, Any]) -> str:
        self.ref += 1
        frame = {"topic": topic, "event": event, "payload": payload, "ref": str(self.ref), "join_ref": "1"}
        await self.send(json.dumps(frame))
        return str(self.ref)

    async def receive(self) -> dict[str, Any]:
        try:
            data = await asyncio.wait_for(self.recv(), WAIT_S)
        except asyncio.IncompleteReadError:
            raise Closed(None, "connection dropped") from None
        frame: dict[str, Any] = json.loads(data)
        return frame

    async def reply_to(self, ref: str) -> dict[str, Any]:
        """The phx_reply to `ref`, skipping other frames."""
        while True:
            frame = await self.receive()
            if frame["event"] == "phx_reply" and frame["ref"] == ref:
                return frame

    async def until(self, event: str) -> dict[str, Any]:
        while True:
            frame = await self.receive()
            if frame["event"] == event:
                return frame


def _mask(body: bytes, mask: bytes) -> bytes:
    whole = mask * (len(body) // 4 + 1)
    return (int.from_bytes(body, "big") ^ int.from_bytes(whole[: len(body)], "big")).to_bytes(
        len(body), "big"
    )


@asynccontextmanager
async def raw_socket(url: str, apikey: str, vsn: str = "1.0.0") -> AsyncIterator[Raw]:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port), limit=1 << 24)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /realtime/v1/websocket?apikey={apikey}&vsn={vsn} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        if status != 101:
            raise Refused(status)
        yield Raw(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
