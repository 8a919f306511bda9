"""The S3-compatible backend (AWS S3, MinIO, Ceph RGW, Garage, …): the object of key K is
`<prefix>/K` in one bucket, with the same keys as the disk (`<agency uuid>/<version hex>`).

S3 shows an object only once its PUT or multipart upload completes, so a reader never sees a partial one.
A body smaller than a part is one PUT; a larger one is a multipart upload sent a part at a time, so an
upload holds at most one part in memory, and one that fails or is cut short is aborted (S3 drops its
parts). boto3 is synchronous: each call runs in a worker thread.

A resumable (TUS) upload is staged in S3 itself, so any API node can take the next chunk: whole parts go
into a multipart upload of the object's key (invisible until completed), and the bytes that do not fill
a part yet wait in a tail object `<prefix>/.uploads/<upload>/tail-<offset>`, read back and topped up by
the next chunk. A chunk thus costs at most a part in memory, and the tail is named by the offset it
ends at, so a chunk that failed before its row was updated never overwrote the tail that row names.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import BotoCoreError, ClientError

from gardenos.backup.walcrypt import s3_client
from gardenos.settings import Settings
from gardenos.storage.backend import READ_BLOCK, UPLOADS_DIR, Staged, checked, is_key
from gardenos.storage.errors import ObjectNotFound, StorageUnavailable, object_not_found, upload_gone

log = logging.getLogger(__name__)

# S3's rules: every part but the last at least 5 MiB, at most 10,000 parts.
PART_BYTES = 8 << 20
MAX_PARTS = 10_000
# Calls to S3 at once (threads and pooled connections): transfers in flight, each waiting on the network.
CONNECTIONS = 32
_MISSING = ("404", "NoSuchKey", "NotFound")


def part_bytes(max_upload_bytes: int) -> int:
    """Parts of 8 MiB, or larger when the largest upload allowed would need more than 10,000 of them."""
    return max(PART_BYTES, -(-max_upload_bytes // MAX_PARTS))


class S3Store:
    def __init__(self, client: Any, bucket: str, prefix: str, max_upload_bytes: int) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.root = f"{self.prefix}/" if self.prefix else ""
        self.part_bytes = part_bytes(max_upload_bytes)
        # Its own threads: a slow S3 then delays transfers only, not the default executor's other work
        # (password hashing, the disk backend), whose few threads transfers in flight would all hold.
        self.executor = ThreadPoolExecutor(CONNECTIONS, thread_name_prefix="storage-s3")

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        assert settings.storage_s3_bucket is not None
        secret = settings.storage_s3_secret_access_key
        config = {
            "endpoint": settings.storage_s3_endpoint,
            "region": settings.storage_s3_region,
            "access_key_id": settings.storage_s3_access_key_id,
            "secret_access_key": secret.get_secret_value() if secret is not None else None,
        }
        client = s3_client(config, connections=CONNECTIONS)
        return cls(
            client, settings.storage_s3_bucket, settings.storage_s3_prefix, settings.storage_max_upload_bytes
        )

    def name(self, key: str) -> str:
        return f"{self.prefix}/{checked(key)}" if self.prefix else checked(key)

    def where(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    async def in_thread(self, function: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(
            self.executor, functools.partial(function, *args, **kwargs)
        )

    async def call(self, function: Callable[..., Any], /, **kwargs: Any) -> Any:
        """One boto3 call in a thread; a missing object is ObjectNotFound, an S3 that fails a 503."""
        try:
            return await self.in_thread(function, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise object_not_found() from None
            log.warning("object storage %s failed: %s", self.where(), exc)
            raise StorageUnavailable("the object storage refused the request; try again later") from exc
        except BotoCoreError as exc:
            log.warning("object storage %s failed: %s", self.where(), exc)
            raise StorageUnavailable("the object storage did not answer; try again later") from exc

    def writer(self, key: str) -> S3Writer:
        return S3Writer(self, self.name(key))

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncGenerator[bytes, None]:
        ranged: dict[str, str] = {}
        # Without a range: the whole object, or an empty one (end < start), read only to see it exists.
        if start > 0 or (end is not None and end >= start):
            ranged["Range"] = f"bytes={start}-{'' if end is None else end}"
        answer = await self.call(self.client.get_object, Bucket=self.bucket, Key=self.name(key), **ranged)
        body = answer["Body"]
        try:
            left = None if end is None else max(end - start + 1, 0)
            while left is None or left > 0:
                try:
                    block = await self.in_thread(
                        body.read, READ_BLOCK if left is None else min(left, READ_BLOCK)
                    )
                except (BotoCoreError, OSError) as exc:
                    raise StorageUnavailable("the object storage stopped sending; try again") from exc
                if not block:
                    break
                if left is not None:
                    left -= len(block)
                yield block
        finally:
            # Not in a thread, as the disk's: this runs when a download is cancelled too.
            body.close()

    async def copy(self, source: str, dest: str) -> None:
        # Within S3 (CopyObject, or UploadPartCopy parts above a part's size): no bytes pass through here.
        # A managed copy that fails aborts its multipart upload, so no partial `dest` appears.
        await self.call(
            self.client.copy,
            CopySource={"Bucket": self.bucket, "Key": self.name(source)},
            Bucket=self.bucket,
            Key=self.name(dest),
            Config=TransferConfig(multipart_threshold=self.part_bytes, multipart_chunksize=self.part_bytes),
        )

    async def delete(self, key: str) -> None:
        await self.call(self.client.delete_object, Bucket=self.bucket, Key=self.name(key))

    # --- resumable uploads ---------------------------------------------------------------------------------

    def staged_folder(self, upload_id: uuid.UUID) -> str:
        folder = f"{UPLOADS_DIR}/{upload_id.hex}/"
        return f"{self.prefix}/{folder}" if self.prefix else folder

    def _tail(self, upload_id: uuid.UUID, state: dict[str, Any]) -> str | None:
        return f"{self.staged_folder(upload_id)}tail-{state['tail_at']}" if state.get("tail") else None

    async def _read_tail(self, staged: Staged) -> bytearray:
        buffer = bytearray()
        if (tail := self._tail(staged.upload_id, staged.state)) is None:
            return buffer
        try:
            answer = await self.call(self.client.get_object, Bucket=self.bucket, Key=tail)
        except ObjectNotFound:
            raise upload_gone() from None
        body = answer["Body"]
        try:
            while block := await self.in_thread(body.read, READ_BLOCK):
                buffer += block
        finally:
            body.close()
        if len(buffer) != staged.state["tail"]:
            raise upload_gone()
        return buffer

    async def append(self, staged: Staged, chunks: AsyncIterator[bytes]) -> tuple[int, dict[str, Any]]:
        buffer = await self._read_tail(staged)
        multipart: str | None = staged.state.get("upload_id")
        created = multipart is None
        parts: list[dict[str, Any]] = list(staged.state.get("parts", []))
        offset = staged.offset
        key = self.name(staged.key)
        try:
            async for chunk in chunks:
                offset += len(chunk)
                rest = memoryview(chunk)
                while rest:
                    # The buffer filled up to a part exactly and sent as it is: a part costs its size once.
                    room = self.part_bytes - len(buffer)
                    buffer += rest[:room]
                    rest = rest[room:]
                    if len(buffer) < self.part_bytes:
                        break
                    if multipart is None:
                        started = await self.call(
                            self.client.create_multipart_upload, Bucket=self.bucket, Key=key
                        )
                        multipart = str(started["UploadId"])
                    number = len(parts) + 1
                    sent = await self.call(
                        self.client.upload_part,
                        Bucket=self.bucket,
                        Key=key,
                        UploadId=multipart,
                        PartNumber=number,
                        Body=buffer,
                    )
                    parts.append({"PartNumber": number, "ETag": sent["ETag"]})
                    buffer = bytearray()
            if offset == staged.offset:
                return offset, staged.state
            state = {"upload_id": multipart, "parts": parts, "tail": len(buffer), "tail_at": offset}
            if buffer:
                await self.call(
                    self.client.put_object,
                    Bucket=self.bucket,
                    Key=f"{self.staged_folder(staged.upload_id)}tail-{offset}",
                    Body=buffer,
                )
        except BaseException:
            if created and multipart is not None:
                await self._abort(key, multipart)
            raise
        return offset, state

    async def settle(self, before: Staged, after: dict[str, Any]) -> None:
        old = self._tail(before.upload_id, before.state)
        if old is not None and old != self._tail(before.upload_id, after):
            await self.call(self.client.delete_object, Bucket=self.bucket, Key=old)

    async def publish(self, staged: Staged) -> None:
        key = self.name(staged.key)
        state = staged.state
        multipart: str | None = state.get("upload_id")
        tail = self._tail(staged.upload_id, state)
        if multipart is not None:
            parts = list(state["parts"])
            if tail is not None:
                sent = await self.call(
                    self.client.upload_part,
                    Bucket=self.bucket,
                    Key=key,
                    UploadId=multipart,
                    PartNumber=len(parts) + 1,
                    Body=await self._read_tail(staged),
                )
                parts.append({"PartNumber": len(parts) + 1, "ETag": sent["ETag"]})
            await self.call(
                self.client.complete_multipart_upload,
                Bucket=self.bucket,
                Key=key,
                UploadId=multipart,
                MultipartUpload={"Parts": parts},
            )
        elif tail is not None:
            # Within S3: the tail is the whole object.
            source = {"Bucket": self.bucket, "Key": tail}
            await self.call(self.client.copy_object, CopySource=source, Bucket=self.bucket, Key=key)
        else:
            await self.call(self.client.put_object, Bucket=self.bucket, Key=key, Body=b"")
        await self._delete_staged_objects(staged.upload_id)

    async def discard(self, staged: Staged) -> None:
        key = self.name(staged.key)
        # Also multipart uploads an append started and could not record (it aborts them, unless its
        # process died first).
        listed = await self.call(self.client.list_multipart_uploads, Bucket=self.bucket, Prefix=key)
        for upload in listed.get("Uploads", []):
            if upload["Key"] == key:
                await self._abort(key, upload["UploadId"])
        await self._delete_staged_objects(staged.upload_id)

    async def _abort(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(StorageUnavailable, ObjectNotFound):
            await self.call(
                self.client.abort_multipart_upload, Bucket=self.bucket, Key=key, UploadId=upload_id
            )

    async def _delete_staged_objects(self, upload_id: uuid.UUID) -> None:
        listed = await self.call(
            self.client.list_objects_v2, Bucket=self.bucket, Prefix=self.staged_folder(upload_id)
        )
        for item in listed.get("Contents", []):
            await self.call(self.client.delete_object, Bucket=self.bucket, Key=item["Key"])

    async def remove_abandoned(self, idle_s: float, resumable: Collection[str] = ()) -> int:
        """Multipart uploads under the prefix whose newest part (or start) is older than `idle_s`: S3
        keeps an upload's parts, invisible, until it is completed or aborted, and a process killed
        mid-upload does neither. S3 cannot say whether the process that started one is alive, so
        this is by age, as an AbortIncompleteMultipartUpload lifecycle rule would do."""
        cut = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=idle_s)
        removed = 0
        markers: dict[str, str] = {}
        while True:
            page = await self.call(
                self.client.list_multipart_uploads, Bucket=self.bucket, Prefix=self.root, **markers
            )
            for upload in page.get("Uploads", []):
                key, upload_id = upload["Key"], upload["UploadId"]
                if key.removeprefix(self.root) in resumable:
                    continue  # a resumable upload's parts so far, kept until it expires (resumable.py)
                parts = await self.call(
                    self.client.list_parts, Bucket=self.bucket, Key=key, UploadId=upload_id
                )
                last = max([p["LastModified"] for p in parts.get("Parts", [])], default=upload["Initiated"])
                if last < cut:
                    with contextlib.suppress(ObjectNotFound):
                        await self.call(
                            self.client.abort_multipart_upload,
                            Bucket=self.bucket,
                            Key=key,
                            UploadId=upload_id,
                        )
                    removed += 1
            if not page.get("IsTruncated"):
                return removed
            markers = {"KeyMarker": page["NextKeyMarker"], "UploadIdMarker": page["NextUploadIdMarker"]}

    async def keys(self, before: float) -> AsyncGenerator[str, None]:
        cut = dt.datetime.fromtimestamp(before, dt.UTC)
        token: dict[str, str] = {}
        while True:
            page = await self.call(self.client.list_objects_v2, Bucket=self.bucket, Prefix=self.root, **token)
            for item in page.get("Contents", []):
                key = item["Key"].removeprefix(self.root)
                if item["LastModified"] < cut and is_key(key):
                    yield key
            if not page.get("IsTruncated"):
                return
            token = {"ContinuationToken": page["NextContinuationToken"]}


class S3Writer:
    def __init__(self, store: S3Store, name: str) -> None:
        self.store = store
        self.name = name
        # One buffer grown in place and sent as it is: a part costs its size once, not twice (as a
        # list of chunks joined would).
        self.pending = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict[str, Any]] = []

    async def write(self, chunk: bytes) -> None:
        self.pending += chunk
        if len(self.pending) >= self.store.part_bytes:
            await self._send_part()

    async def _send_part(self) -> None:
        store = self.store
        if self.upload_id is None:
            started = await store.call(
                store.client.create_multipart_upload, Bucket=store.bucket, Key=self.name
            )
            self.upload_id = str(started["UploadId"])
        number = len(self.parts) + 1
        sent = await store.call(
            store.client.upload_part,
            Bucket=store.bucket,
            Key=self.name,
            UploadId=self.upload_id,
            PartNumber=number,
            Body=self.pending,
        )
        self.parts.append({"PartNumber": number, "ETag": sent["ETag"]})
        self.pending = bytearray()

    async def commit(self) -> None:
        store = self.store
        if self.upload_id is None:
            await store.call(store.client.put_object, Bucket=store.bucket, Key=self.name, Body=self.pending)
            self.pending = bytearray()
            return
        if self.pending:
            await self._send_part()
        await store.call(
            store.client.complete_multipart_upload,
            Bucket=store.bucket,
            Key=self.name,
            UploadId=self.upload_id,
            MultipartUpload={"Parts": self.parts},
        )

    async def abort(self) -> None:
        self.pending = bytearray()
        if self.upload_id is None:
            return
        upload_id, self.upload_id = self.upload_id, None
        store = self.store
        # A failed abort leaves only invisible parts (an AbortIncompleteMultipartUpload lifecycle rule on
        # the bucket removes them); the error that made us abort is the one to report.
        with contextlib.suppress(StorageUnavailable):
            await store.call(
                store.client.abort_multipart_upload, Bucket=store.bucket, Key=self.name, UploadId=upload_id
            )
