"""Helpers for the realtime tests: the official Python client (supabase-py's `realtime`, async) pointed
at a live API, and waiting for what it receives."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import jwt
from realtime import AsyncRealtimeClient
from websockets.asyncio.client import ClientConnection, connect

WAIT_S = 15.0


@asynccontextmanager
async def realtime_client(
    url: str, apikey: str, token: str | None = None
) -> AsyncIterator[AsyncRealtimeClient]:
    client = AsyncRealtimeClient(f"{url}/realtime/v1", apikey, auto_reconnect=False)
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


class Raw:
    """A websocket speaking the protocol by hand (vsn=1.0.0 objects), for what the clients never send."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.ref = 0

    async def push(self, topic: str, event: str, payload: dict[str, Any]) -> str:
        self.ref += 1
        frame = {"topic": topic, "event": event, "payload": payload, "ref": str(self.ref), "join_ref": "1"}
        await self.ws.send(json.dumps(frame))
        return str(self.ref)

    async def receive(self) -> dict[str, Any]:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), WAIT_S))
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


@asynccontextmanager
async def raw_socket(url: str, apikey: str, vsn: str = "1.0.0") -> AsyncIterator[Raw]:
    address = url.replace("http://", "ws://") + f"/realtime/v1/websocket?apikey={apikey}&vsn={vsn}"
    async with connect(address, max_size=None) as ws:
        yield Raw(ws)
