"""The local-disk backend: an object appears whole under its key or not at all, and no key reaches a
file outside the root."""

from __future__ import annotations

import asyncio
import threading
import uuid
from pathlib import Path
from typing import BinaryIO

import pytest

from gardenos.storage.backend import TMP_DIR, DiskStore, _in_thread_closing, new_key
from gardenos.storage.errors import ObjectNotFound


async def _read(store: DiskStore, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, start, end)])


def _visible(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and TMP_DIR not in p.parts]


def test_an_object_is_invisible_until_committed_and_gone_when_aborted(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = DiskStore(tmp_path)
        key = new_key(uuid.uuid4())
        writer = store.writer(key)
        await writer.write(b"x" * (3 << 20))  # past one write block: some of it is on disk already
        assert _visible(tmp_path) == []
        with pytest.raises(ObjectNotFound):
            await _read(store, key)
        await writer.commit()
        assert len(await _read(store, key)) == 3 << 20
        assert await _read(store, key, 10, 19) == b"x" * 10

        aborted = store.writer(new_key(uuid.uuid4()))
        await aborted.write(b"y" * (2 << 20))
        await aborted.abort()
        assert [p.name for p in (tmp_path / TMP_DIR).iterdir()] == []
        assert len(_visible(tmp_path)) == 1

        copy = new_key(uuid.uuid4())
        await store.copy(key, copy)
        assert await _read(store, copy, 0, 2) == b"xxx"
        await store.delete(key)
        await store.delete(key)  # twice: already gone is fine
        with pytest.raises(ObjectNotFound):
            await _read(store, key)

    asyncio.run(scenario())


# A fixed agency id: test ids must be the same in every pytest-xdist worker.
AGENCY = "0190c6b0-0000-7000-8000-00000000a9e1"


@pytest.mark.parametrize(
    "key",
    [
        "../../etc/passwd",
        "/etc/passwd",
        f"{AGENCY}/../../x",
        f"{AGENCY}/{'a' * 32}/..",
        f"{AGENCY}/{'g' * 32}",
        f"{AGENCY}\x00/{'a' * 32}",
        "docs/folder/a.txt",
    ],
)
def test_only_backend_keys_map_to_files(tmp_path: Path, key: str) -> None:
    store = DiskStore(tmp_path)
    with pytest.raises(ValueError, match="not a storage key"):
        store.path(key)


def test_keys_map_under_the_root(tmp_path: Path) -> None:
    store = DiskStore(tmp_path)
    key = new_key(uuid.uuid4())
    assert store.path(key).resolve().is_relative_to(tmp_path.resolve())


def test_a_file_opened_for_a_caller_that_was_cancelled_is_closed(tmp_path: Path) -> None:
    """A download whose client hung up while its file was being opened in a thread: the file the thread
    opened anyway is closed, not left open until the collector finds it."""
    target = tmp_path / "object"
    target.write_bytes(b"bytes")
    entered, release = threading.Event(), threading.Event()
    opened: list[BinaryIO] = []

    def opener(path: Path) -> BinaryIO:
        entered.set()
        release.wait(30)
        file = path.open("rb")
        opened.append(file)
        return file

    async def scenario() -> None:
        task = asyncio.create_task(_in_thread_closing(opener, target))
        await asyncio.to_thread(entered.wait, 30)
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        for _ in range(1000):
            if opened and opened[0].closed:
                return
            await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert opened
    assert opened[0].closed
