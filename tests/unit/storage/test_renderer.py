"""The renderer's bounds: at most `concurrency` transformations at once, a 503 past the timeout, and a
slot that stays taken while its thread still works (a thread cannot be stopped), freed when it ends."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import uuid
from pathlib import Path

import pytest

from gardenos.storage.backend import DiskStore, new_key
from gardenos.storage.errors import TransformUnavailable
from gardenos.storage.image_cache import ImageCache
from gardenos.storage.images import Format, Limits, Rendered, TransformOptions
from gardenos.storage.renderer import ImageRenderer
from gardenos.storage.service import StoredObject

LIMITS = Limits(max_source_bytes=1 << 20, max_pixels=1 << 20, max_dimension=100)


class Gate:
    """A transformation that waits until it is let through, like a slow image."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.started = threading.Event()

    def __call__(self, data: bytes, options: TransformOptions, output: Format, limits: Limits) -> Rendered:
        self.started.set()
        self.open.wait(timeout=30)
        return Rendered(data[::-1], "png")


async def _stored(store: DiskStore, body: bytes) -> StoredObject:
    key = new_key(uuid.UUID("0193a1b2-0000-7000-8000-000000000001"))
    writer = store.writer(key)
    await writer.write(body)
    await writer.commit()
    return StoredObject(key, len(body), "image/png", '"e"', None, dt.datetime.now(dt.UTC))


def test_a_slow_transformation_times_out_and_keeps_its_slot_until_it_ends(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = DiskStore(tmp_path / "objects")
        gate = Gate()
        renderer = ImageRenderer(store, ImageCache(tmp_path / "cache", 1 << 20), LIMITS, 1, 0.3, gate)
        try:
            obj = await _stored(store, b"abc")
            options = TransformOptions(width=10)
            with pytest.raises(TransformUnavailable, match="could not be transformed within"):
                await renderer.render(obj, options, "origin")
            assert gate.started.is_set()
            # Its thread still runs: the one slot is taken, so the next request waits, then gives up.
            assert renderer.slots.locked()
            with pytest.raises(TransformUnavailable):
                await renderer.render(obj, TransformOptions(width=20), "origin")
            gate.open.set()
            for _ in range(100):
                if not renderer.slots.locked():
                    break
                await asyncio.sleep(0.05)
            result = await renderer.render(obj, TransformOptions(width=20), "origin")
            assert (result.rendered.body, result.cached) == (b"cba", False)
            again = await renderer.render(obj, TransformOptions(width=20), "origin")
            assert again.cached
        finally:
            gate.open.set()
            renderer.close()

    asyncio.run(scenario())


def test_requests_for_one_image_at_once_make_it_once(tmp_path: Path) -> None:
    calls: list[int] = []

    def counted(data: bytes, options: TransformOptions, output: Format, limits: Limits) -> Rendered:
        calls.append(1)
        gate(data, options, output, limits)
        return Rendered(data, "png")

    gate = Gate()

    async def scenario() -> None:
        store = DiskStore(tmp_path / "objects")
        renderer = ImageRenderer(store, ImageCache(tmp_path / "cache", 1 << 20), LIMITS, 2, 30, counted)
        try:
            obj = await _stored(store, b"abc")
            options = TransformOptions(width=10)
            first = asyncio.create_task(renderer.render(obj, options, "origin"))
            assert await asyncio.to_thread(gate.started.wait, 30)
            # Waiting for the first, or (had they started late) served by the cache it filled.
            others = [asyncio.create_task(renderer.render(obj, options, "origin")) for _ in range(3)]
            await asyncio.sleep(0.05)
            gate.open.set()
            results = await asyncio.gather(first, *others)
            assert [r.rendered.body for r in results] == [b"abc"] * 4
            assert len(calls) == 1
        finally:
            gate.open.set()
            renderer.close()

    asyncio.run(scenario())
