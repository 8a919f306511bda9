"""Resumable uploads, as Supabase Storage serves them over TUS 1.0.0 (`/storage/v1/upload/resumable`).

An upload is a row in `storage.uploads` (read and written as the caller, under row-level security: an
agency's uploads are its own, and each its creator's) and its bytes so far, staged by the backend outside
the objects (backend.py's `Staging`). What a normal upload is refused for is refused at creation, before
any byte is accepted: the bucket, the size (Upload-Length) and type (contentType) limits, and whether the
caller may insert (or, with `x-upsert`, replace) that object's row, tried and rolled back.

A chunk (PATCH) is written under a lease on the row, so one writer at a time; the offset recorded is
only ever what is durably stored, so after a dropped connection the client asks (HEAD) and resumes from
there. The chunk that brings the offset to the length publishes the bytes under the object's key and, in
one transaction, writes the object's row and deletes the upload's: the object appears whole or not at
all. An upload nobody writes to expires; `sweep` removes expired ones and their bytes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import hashlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from starlette.requests import ClientDisconnect

from gardenos.errors import Forbidden, GardenError
from gardenos.storage import sql
from gardenos.storage.backend import Staged, new_key
from gardenos.storage.errors import (
    EntityTooLarge,
    InvalidMimeType,
    OffsetMismatch,
    StorageError,
    UploadGone,
    UploadLocked,
    upload_not_found,
)
from gardenos.storage.paths import bucket_id, object_key
from gardenos.storage.receive import Received
from gardenos.storage.service import (
    Scope,
    Storage,
    bucket_limits,
    bucket_row,
    cache_control_of,
    mime_allowed,
    object_metadata,
    put_object,
    too_large,
)

log = logging.getLogger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,termination,expiration"
DEFAULT_TYPE = "application/octet-stream"
# A PATCH holds its upload for this long, renewed every RENEW_S while its body comes in: a writer whose
# process died blocks the upload for LEASE_S at most (tus-js-client retries a 423 for ~40 s).
LEASE_S = 30
RENEW_S = 10
SWEEP_EVERY_S = 300
SWEEP_BATCH = 100


@dataclass(frozen=True)
class NewUpload:
    """A creation request (POST), read from its headers."""

    bucket: str
    name: str
    length: int
    content_type: str
    cache_control: str
    user_metadata: dict[str, Any]
    upsert: bool
    upload_metadata: str


@dataclass(frozen=True)
class Upload:
    """An upload as TUS reports it; `offset == length` once it is a stored object."""

    token: str
    length: int
    offset: int
    expires_at: dt.datetime | None
    upload_metadata: str

    @property
    def complete(self) -> bool:
        return self.offset == self.length


def parse_metadata(header: str | None) -> dict[str, str]:
    """TUS's Upload-Metadata: `key base64value` pairs separated by commas (a value may be absent)."""
    values: dict[str, str] = {}
    for pair in (header or "").split(","):
        if not pair.strip():
            continue
        key, _, encoded = pair.strip().partition(" ")
        try:
            values[key] = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise StorageError(
                f"Upload-Metadata: the value of {key!r} is not base64-encoded UTF-8 text "
                "(send `key base64(value)` pairs separated by commas)"
            ) from None
    return values


def new_upload(length_header: str | None, metadata_header: str | None, upsert: bool) -> NewUpload:
    if length_header is None:
        raise StorageError(
            "Upload-Length is missing: say how many bytes the file has (deferred lengths are not supported)"
        )
    if not length_header.isdigit():
        raise StorageError(f"Upload-Length must be a whole number of bytes, not {length_header!r}")
    metadata = parse_metadata(metadata_header)
    for required in ("bucketName", "objectName"):
        if not metadata.get(required):
            raise StorageError(f"Upload-Metadata must name the {required} (base64-encoded)")
    user_metadata: dict[str, Any] = {}
    if "metadata" in metadata:
        try:
            user_metadata = json.loads(metadata["metadata"])
        except ValueError:
            user_metadata = None  # type: ignore[assignment]
        if not isinstance(user_metadata, dict):
            raise StorageError("Upload-Metadata: metadata must be a JSON object")
    return NewUpload(
        bucket=bucket_id(metadata["bucketName"]),
        name=object_key(metadata["objectName"]),
        length=int(length_header),
        content_type=(metadata.get("contentType") or DEFAULT_TYPE).strip() or DEFAULT_TYPE,
        cache_control=cache_control_of(metadata.get("cacheControl")),
        user_metadata=user_metadata,
        upsert=upsert,
        upload_metadata=metadata_header or "",
    )


def upload_token(bucket: str, name: str, upload_id: uuid.UUID) -> str:
    """The upload's id in its URL, as Supabase makes it: base64url of `bucket/name/version`."""
    raw = f"{bucket}/{name}/{upload_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _upload_id(token: str) -> tuple[str, str, uuid.UUID]:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
        path, _, version = text.rpartition("/")
        bucket, _, name = path.partition("/")
        return bucket, name, uuid.UUID(version)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise upload_not_found() from None


def _etag(md5s: list[str]) -> str:
    """One chunk: its MD5 (as a normal upload's). More: S3's multipart form, the MD5 of the chunks' MD5s."""
    if len(md5s) == 1:
        return f'"{md5s[0]}"'
    joined = hashlib.md5(b"".join(bytes.fromhex(m) for m in md5s), usedforsecurity=False).hexdigest()
    return f'"{joined}-{len(md5s)}"'


class _Chunk:
    """A PATCH body on its way to the backend: counted against what the upload still lacks, hashed, and
    ended early, not failed, when the client hangs up (what arrived is kept: the point of resuming)."""

    def __init__(self, body: AsyncIterator[bytes], room: int, renew: Callable[[], Awaitable[None]]) -> None:
        self.body = body
        self.room = room
        self.renew = renew
        self.size = 0
        self.digest = hashlib.md5(usedforsecurity=False)

    async def chunks(self) -> AsyncIterator[bytes]:
        renew_at = time.monotonic() + RENEW_S
        try:
            async for piece in self.body:
                self.size += len(piece)
                if self.size > self.room:
                    raise EntityTooLarge(
                        f"the chunk goes past the Upload-Length: the upload lacks only {self.room} more bytes"
                    )
                self.digest.update(piece)
                if time.monotonic() >= renew_at:
                    await self.renew()
                    renew_at = time.monotonic() + RENEW_S
                yield piece
        except ClientDisconnect:
            return


class ResumableUploads:
    def __init__(self, storage: Storage, expiry_s: int) -> None:
        self.storage = storage
        self.expiry_s = expiry_s

    # --- creation ----------------------------------------------------------------------------------------

    async def create(self, scope: Scope, new: NewUpload) -> tuple[Upload, uuid.UUID]:
        """The upload, checked as its object would be (nothing is stored if it would be refused)."""
        storage = self.storage
        version = new_key(scope.agency_id)
        async with storage.transaction(scope) as conn:
            limits = bucket_limits(await bucket_row(conn, scope, new.bucket))
            max_bytes = min(storage.max_upload_bytes, limits.file_size_limit or storage.max_upload_bytes)
            if new.length > max_bytes:
                raise too_large()
            if not mime_allowed(new.content_type, limits.allowed_mime_types):
                raise InvalidMimeType(f"mime type {new.content_type} is not supported by this bucket")
            params = self._object_params(scope, new, scope.user_id, version, [])
            try:
                # The object's row as completion will write it, as this caller, then undone: RLS, a
                # duplicate name without x-upsert, the owner's membership decide now, before any byte.
                async with conn.transaction(force_rollback=True):
                    await put_object(conn, params, upsert=new.upsert, replace_only=False)
            except psycopg.errors.InsufficientPrivilege:
                raise _may_not_write(new.name) from None
            cur = await conn.execute(
                sql.CREATE_UPLOAD,
                {
                    "agency": scope.agency_id,
                    "bucket": new.bucket,
                    "name": new.name,
                    "owner": scope.user_id,
                    "length": new.length,
                    "upsert": new.upsert,
                    "mime_type": new.content_type,
                    "cache_control": new.cache_control,
                    "user_metadata": Jsonb(new.user_metadata),
                    "upload_metadata": new.upload_metadata,
                    "version": version,
                    "expiry_s": self.expiry_s,
                },
            )
            row = await cur.fetchone()
            assert row is not None
        upload_id, expires_at = row
        token = upload_token(new.bucket, new.name, upload_id)
        return Upload(token, new.length, 0, expires_at, new.upload_metadata), upload_id

    # --- HEAD, PATCH, DELETE -----------------------------------------------------------------------------

    async def status(self, scope: Scope, token: str) -> Upload:
        async with self.storage.transaction(scope) as conn:
            row = await _find(conn, scope, token)
        return _upload(token, row)

    async def append(
        self, scope: Scope, token: str, offset: int, declared: int | None, body: AsyncIterator[bytes]
    ) -> Upload:
        """Store a chunk sent at `offset` (`declared` bytes long, if its Content-Length says); the upload
        after it (complete: the object is stored)."""
        lease = uuid.uuid4()
        keys = {"agency": scope.agency_id, "lease": lease, "lease_s": LEASE_S}
        async with self.storage.transaction(scope) as conn:
            row = await _find(conn, scope, token, lock=True)
            if row["upload_offset"] != offset:
                raise OffsetMismatch(
                    f"Upload-Offset {offset} is not where the upload stands: {row['upload_offset']} bytes "
                    "are stored; ask with HEAD and send from there"
                )
            room = row["upload_length"] - offset
            if declared is not None and declared > room:
                raise EntityTooLarge(
                    f"the chunk goes past the Upload-Length: the upload lacks only {room} more bytes"
                )
            if row["leased"]:
                raise UploadLocked("another request is writing this upload now; try again in a few seconds")
            keys["id"] = row["id"]
            await conn.execute(sql.TAKE_LEASE, keys)
        staged = _staged(row)
        try:
            return await self._write(scope, token, row, staged, keys, body)
        except BaseException:
            # Shielded: a cancelled request still gives the upload back to the next chunk.
            await asyncio.shield(self._release(scope, keys))
            raise

    async def _write(
        self,
        scope: Scope,
        token: str,
        row: dict[str, Any],
        staged: Staged,
        keys: dict[str, Any],
        body: AsyncIterator[bytes],
    ) -> Upload:
        async def renew() -> None:
            async with self.storage.transaction(scope) as conn:
                cur = await conn.execute(sql.RENEW_LEASE, keys)
                if await cur.fetchone() is None:
                    raise UploadGone("the upload was ended while this chunk was being written")

        chunk = _Chunk(body, row["upload_length"] - staged.offset, renew)
        offset, state = await self.storage.store.append(staged, chunk.chunks())
        md5s = [chunk.digest.hexdigest()] if chunk.size else []
        if offset == row["upload_length"]:
            await self._complete(scope, row, Staged(staged.upload_id, staged.key, offset, state), keys, md5s)
            return Upload(token, offset, offset, None, row["upload_metadata"])
        async with self.storage.transaction(scope) as conn:
            cur = await conn.execute(
                sql.RECORD_CHUNK,
                {**keys, "offset": offset, "staging": Jsonb(state), "md5s": md5s, "expiry_s": self.expiry_s},
            )
            recorded = await cur.fetchone()
        if recorded is None:
            raise UploadGone("the upload was ended while this chunk was being written")
        await self.storage.store.settle(staged, state)
        return Upload(token, row["upload_length"], offset, recorded[0], row["upload_metadata"])

    async def _complete(
        self, scope: Scope, row: dict[str, Any], staged: Staged, keys: dict[str, Any], md5s: list[str]
    ) -> None:
        """The last byte is in: the bytes become the object, its row replaces the upload's, at once."""
        store = self.storage.store
        new = NewUpload(
            row["bucket_id"],
            row["name"],
            row["upload_length"],
            row["mime_type"],
            row["cache_control"],
            row["user_metadata"],
            row["upsert"],
            row["upload_metadata"],
        )
        params = self._object_params(scope, new, row["owner"], row["version"], list(row["md5s"]) + md5s)
        try:
            await store.publish(staged)
        except BaseException:
            await store.discard(staged)
            raise
        try:
            async with self.storage.transaction(scope) as conn:
                await bucket_row(conn, scope, new.bucket)
                cur = await conn.execute(sql.FINISH_UPLOAD, keys)
                if await cur.fetchone() is None:
                    raise UploadGone("the upload was ended while its last chunk was being written")
                try:
                    _, replaced = await put_object(conn, params, upsert=new.upsert, replace_only=False)
                except psycopg.errors.InsufficientPrivilege:
                    raise _may_not_write(new.name) from None
        except BaseException as exc:
            # The bytes were published under a key no row names: removed, and the upload with them (its
            # staged bytes were used up), so the error says to start again.
            await store.delete(row["version"])
            await store.discard(staged)
            await asyncio.shield(self._drop(scope, keys["id"]))
            if isinstance(exc, GardenError):
                exc.message = f"{exc.message}; the upload was discarded: create it again"
            raise
        if replaced:
            await store.delete(replaced)

    async def terminate(self, scope: Scope, token: str) -> None:
        async with self.storage.transaction(scope) as conn:
            row = await _find(conn, scope, token, lock=True, expired_ok=True)
            if row["leased"]:
                raise UploadLocked("a chunk of this upload is being written now; try again in a few seconds")
            await conn.execute(sql.TERMINATE_UPLOAD, {"agency": scope.agency_id, "id": row["id"]})
            # Removed within the transaction: if removing the bytes fails, the row stays to try again.
            await self.storage.store.discard(_staged(row))

    async def _release(self, scope: Scope, keys: dict[str, Any]) -> None:
        try:
            async with self.storage.transaction(scope) as conn:
                await conn.execute(sql.RELEASE_LEASE, keys)
        except (GardenError, psycopg.Error) as exc:
            log.warning("could not release the lease of upload %s (%s); it lapses by itself", keys["id"], exc)

    async def _drop(self, scope: Scope, upload_id: uuid.UUID) -> None:
        try:
            async with self.storage.transaction(scope) as conn:
                await conn.execute(sql.TERMINATE_UPLOAD, {"agency": scope.agency_id, "id": upload_id})
        except (GardenError, psycopg.Error) as exc:
            log.warning("could not remove upload %s (%s); the sweeper will", upload_id, exc)

    # --- expiry ------------------------------------------------------------------------------------------

    async def sweep(self) -> int:
        """Remove expired uploads (not being written) and their bytes; how many."""
        database = self.storage.database
        async with database.transaction("service_role") as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(sql.EXPIRED_UPLOADS, {"limit": SWEEP_BATCH})
            rows = list(await cur.fetchall())
        removed = 0
        for row in rows:
            # Bytes first: a row is the only record of staged bytes, so it goes only once they are gone.
            await self.storage.store.discard(_staged(row))
            async with database.transaction("service_role") as conn:
                deleted = await conn.execute(sql.DELETE_EXPIRED, {"id": row["id"]})
                removed += deleted.rowcount
        return removed

    async def run(self) -> None:
        """Sweep every SWEEP_EVERY_S until cancelled."""
        while True:
            try:
                if removed := await self.sweep():
                    log.info("removed %d expired resumable uploads", removed)
            except (GardenError, psycopg.Error) as exc:
                log.warning("sweeping expired uploads failed (%s); trying again", exc)
            await asyncio.sleep(SWEEP_EVERY_S)

    def _object_params(
        self, scope: Scope, new: NewUpload, owner: uuid.UUID | None, version: str, md5s: list[str]
    ) -> dict[str, Any]:
        received = Received(new.length, "", new.content_type, new.cache_control, new.user_metadata)
        etag = _etag(md5s) if md5s else f'"{hashlib.md5(b"", usedforsecurity=False).hexdigest()}"'
        return {
            "agency": scope.agency_id,
            "bucket": new.bucket,
            "name": new.name,
            "owner": owner,
            "size": new.length,
            "mime_type": new.content_type,
            "etag": etag,
            "metadata": Jsonb(object_metadata(received, etag, new.cache_control)),
            "user_metadata": Jsonb(new.user_metadata),
            "version": version,
        }


async def _find(
    conn: Any, scope: Scope, token: str, *, lock: bool = False, expired_ok: bool = False
) -> dict[str, Any]:
    """The caller's upload of this token: another agency's, another member's or a made-up one is the
    same 404 (row-level security shows none of them)."""
    bucket, name, upload_id = _upload_id(token)
    cur = conn.cursor(row_factory=dict_row)
    query = sql.LOCK_UPLOAD if lock else sql.GET_UPLOAD
    await cur.execute(query, {"agency": scope.agency_id, "id": upload_id})
    row: dict[str, Any] | None = await cur.fetchone()
    if row is None or (row["bucket_id"], row["name"]) != (bucket, name):
        raise upload_not_found()
    if row["expired"] and not expired_ok:
        raise UploadGone(
            f"the upload expired at {row['expires_at'].isoformat()} (nothing was sent to it for too long); "
            "create a new upload and send the file again"
        )
    return row


def _staged(row: dict[str, Any]) -> Staged:
    return Staged(row["id"], row["version"], row["upload_offset"], dict(row["staging"] or {}))


def _upload(token: str, row: dict[str, Any]) -> Upload:
    return Upload(
        token, row["upload_length"], row["upload_offset"], row["expires_at"], row["upload_metadata"]
    )


def _may_not_write(name: str) -> Forbidden:
    error = Forbidden(f"you may not upload {name!r} into this bucket (its row-level security refuses it)")
    error.storage_error = "Unauthorized"
    return error
