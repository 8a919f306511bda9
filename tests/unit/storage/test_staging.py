"""Resumable uploads' staging, on the disk and on S3 (moto's server on loopback): bytes appended chunk by
chunk stay outside the objects, an append that failed half way counts for nothing (the next one starts
from the recorded offset and overwrites what it left), publishing makes the object whole, and discarding
leaves nothing behind."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gardenos.storage.backend import DiskStore, ObjectStore, Staged, new_key
from gardenos.storage.errors import ObjectNotFound, StorageError, UploadGone
from gardenos.storage.resumable import parse_metadata, upload_token
from gardenos.storage.s3 import S3Store
from tests.unit.storage.test_s3_backend import _store, _under

MiB = 1 << 20


class Broken(Exception):
    pass


async def _pieces(data: bytes, fail_after: int | None = None) -> AsyncIterator[bytes]:
    for start in range(0, len(data), 64 * 1024):
        if fail_after is not None and start >= fail_after:
            raise Broken
        yield data[start : start + 64 * 1024]


async def _read(store: ObjectStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in store.read(key)])


def _data(size: int) -> bytes:
    blocks = (hashlib.sha256(str(i).encode()).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


async def _scenario(store: ObjectStore, left_over: Any) -> None:
    data = _data(19 * MiB + 3)
    staged = Staged(uuid.uuid4(), new_key(uuid.uuid4()), 0, {})
    # A first chunk (under one S3 part: a tail only), then one that fills parts.
    for size in (3 * MiB, 9 * MiB):
        offset, state = await store.append(staged, _pieces(data[staged.offset : staged.offset + size]))
        assert offset == staged.offset + size
        before, staged = staged, Staged(staged.upload_id, staged.key, offset, state)
        await store.settle(before, state)
    # A chunk that breaks half way (its row is never updated): it counts for nothing...
    with pytest.raises(Broken):
        await store.append(staged, _pieces(data[staged.offset :], fail_after=5 * MiB))
    with pytest.raises(ObjectNotFound):
        await _read(store, staged.key)
    # ...and the next, from the recorded offset, overwrites whatever it left.
    offset, state = await store.append(staged, _pieces(data[staged.offset :]))
    assert offset == len(data)
    done = Staged(staged.upload_id, staged.key, offset, state)
    await store.settle(staged, state)
    await store.publish(done)
    assert await _read(store, done.key) == data
    assert left_over(done) == []

    # An upload given up: nothing of it stays.
    dropped = Staged(uuid.uuid4(), new_key(uuid.uuid4()), 0, {})
    offset, state = await store.append(dropped, _pieces(_data(10 * MiB)))
    await store.discard(Staged(dropped.upload_id, dropped.key, offset, state))
    assert left_over(dropped) == []
    with pytest.raises(ObjectNotFound):
        await _read(store, dropped.key)


def test_disk_staging(tmp_path: Path) -> None:
    store = DiskStore(tmp_path)

    def left_over(staged: Staged) -> list[Path]:
        return list((tmp_path / ".uploads").iterdir())

    asyncio.run(_scenario(store, left_over))


def test_s3_staging(s3_server: str) -> None:
    prefix = f"unit-{uuid.uuid4().hex[:8]}"
    store = _store(s3_server, prefix)
    assert isinstance(store, S3Store)

    def left_over(staged: Staged) -> list[str]:
        objects, uploads = _under(s3_server, prefix)
        return [o for o in objects if "/.uploads/" in o] + uploads

    asyncio.run(_scenario(store, left_over))


def test_staged_bytes_that_vanished_are_reported_not_padded(tmp_path: Path) -> None:
    async def scenario() -> None:
        store = DiskStore(tmp_path)
        staged = Staged(uuid.uuid4(), new_key(uuid.uuid4()), 0, {})
        offset, _ = await store.append(staged, _pieces(b"abc"))
        store.staged_path(staged.upload_id).unlink()
        with pytest.raises(UploadGone):
            await store.append(Staged(staged.upload_id, staged.key, offset, {}), _pieces(b"def"))

    asyncio.run(scenario())


def test_upload_metadata_header() -> None:
    assert parse_metadata("bucketName YnVja2V0,objectName YS9iLnBkZg==, empty") == {
        "bucketName": "bucket",
        "objectName": "a/b.pdf",
        "empty": "",
    }
    with pytest.raises(StorageError, match="not base64"):
        parse_metadata("bucketName ***")
    token = upload_token("bucket", "a/b.pdf", uuid.UUID(int=1))
    assert "=" not in token
    assert "/" not in token
