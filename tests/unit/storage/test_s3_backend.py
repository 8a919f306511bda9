"""The S3-compatible backend against a real S3 server on loopback (moto's server mode): an object is
invisible until committed, in parts past a part's size, and an aborted upload leaves no parts behind."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import boto3
import pytest
from pydantic import SecretStr

from gardenos.settings import Settings
from gardenos.storage.backend import new_key
from gardenos.storage.errors import ObjectNotFound
from gardenos.storage.s3 import PART_BYTES, S3Store, part_bytes
from gardenos.storage.stores import object_store
from tests.support import S3_BUCKET, S3_KEY_ID, S3_SECRET


def _store(endpoint: str, prefix: str) -> S3Store:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        storage_s3_bucket=S3_BUCKET,
        storage_s3_prefix=prefix,
        storage_s3_endpoint=endpoint,
        storage_s3_access_key_id=S3_KEY_ID,
        storage_s3_secret_access_key=SecretStr(S3_SECRET),
    )
    store = object_store(settings)
    assert isinstance(store, S3Store)
    return store


def _s3(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    )


def _under(endpoint: str, prefix: str) -> tuple[list[str], list[str]]:
    """Objects and unfinished multipart uploads under the prefix."""
    s3 = _s3(endpoint)
    objects = s3.list_objects_v2(Bucket=S3_BUCKET, Prefix=f"{prefix}/").get("Contents", [])
    uploads = s3.list_multipart_uploads(Bucket=S3_BUCKET, Prefix=f"{prefix}/").get("Uploads", [])
    return [o["Key"] for o in objects], [u["Key"] for u in uploads]


async def _read(store: S3Store, key: str, start: int = 0, end: int | None = None) -> bytes:
    return b"".join([chunk async for chunk in store.read(key, start, end)])


def test_an_object_is_invisible_until_committed_and_gone_when_aborted(s3_server: str) -> None:
    prefix = f"unit-{uuid.uuid4().hex[:8]}"

    async def scenario() -> None:
        store = _store(s3_server, prefix)
        body = bytes(range(256)) * ((2 * PART_BYTES + 12345) // 256)
        key = new_key(uuid.uuid4())
        writer = store.writer(key)
        for start in range(0, len(body), 1 << 20):
            await writer.write(body[start : start + (1 << 20)])
        # Two parts are stored already, in an unfinished upload that no reader sees.
        assert _under(s3_server, prefix) == ([], [f"{prefix}/{key}"])
        with pytest.raises(ObjectNotFound):
            await _read(store, key)
        await writer.commit()
        assert _under(s3_server, prefix) == ([f"{prefix}/{key}"], [])
        assert await _read(store, key) == body
        assert await _read(store, key, 10, 19) == body[10:20]
        assert await _read(store, key, PART_BYTES - 5) == body[PART_BYTES - 5 :]

        aborted = store.writer(new_key(uuid.uuid4()))
        await aborted.write(b"y" * (PART_BYTES + 1))
        await aborted.abort()
        assert _under(s3_server, prefix) == ([f"{prefix}/{key}"], [])

        small, empty = new_key(uuid.uuid4()), new_key(uuid.uuid4())
        writer = store.writer(small)
        await writer.write(b"small")
        await writer.commit()
        await store.writer(empty).commit()
        assert await _read(store, small, 1, 3) == b"mal"
        assert await _read(store, empty, 0, -1) == b""

        copy = new_key(uuid.uuid4())
        await store.copy(key, copy)
        assert await _read(store, copy, 0, 2) == body[:3]
        await store.delete(key)
        await store.delete(key)  # twice: already gone is fine
        with pytest.raises(ObjectNotFound):
            await _read(store, key)
        with pytest.raises(ObjectNotFound):
            await store.copy(key, new_key(uuid.uuid4()))

    asyncio.run(scenario())


def test_only_backend_keys_name_objects(s3_server: str) -> None:
    store = _store(s3_server, "unit")
    for key in ("../../etc/passwd", "docs/folder/a.txt", f"{uuid.uuid4()}/../x"):
        with pytest.raises(ValueError, match="not a storage key"):
            store.writer(key)


def test_parts_grow_only_when_the_largest_upload_needs_more_than_s3s_10000() -> None:
    assert part_bytes(5 << 30) == PART_BYTES
    assert part_bytes(200 << 30) * 10_000 >= 200 << 30
