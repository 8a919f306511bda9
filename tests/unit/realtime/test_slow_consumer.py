"""A client that stops reading is closed with a reason once its queue is full: the server never buffers
for it without bound. The websocket here is a stand-in whose sends never complete (a peer that reads
nothing); the kernel's socket buffers would otherwise hide the effect for megabytes."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from gardenos.realtime.frames import Frame
from gardenos.realtime.socket import Connection
from gardenos.settings import Settings

pytestmark = pytest.mark.anyio


class StuckPeer:
    def __init__(self) -> None:
        self.closed: tuple[int, str] | None = None
        self.sent = 0

    async def send_text(self, data: str) -> None:
        self.sent += 1
        await asyncio.Event().wait()

    async def receive(self) -> dict[str, Any]:
        await asyncio.Event().wait()
        raise AssertionError

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


async def test_a_client_that_does_not_read_is_cut_off() -> None:
    peer = StuckPeer()
    realtime: Any = SimpleNamespace(settings=Settings(realtime_send_queue=10))
    connection = Connection(realtime, peer, "1.0.0", None)  # type: ignore[arg-type]
    running = asyncio.create_task(connection.run())
    await asyncio.sleep(0)
    for n in range(50):
        connection.send(Frame(None, None, "realtime:room", "broadcast", {"n": n}))
    await running
    assert peer.closed is not None
    assert peer.closed[0] == 1008
    assert peer.closed[1].startswith("slow consumer: more than 10 messages")
    assert not connection.queue
