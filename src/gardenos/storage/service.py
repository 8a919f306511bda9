"""Storage's operations: metadata in `storage.*` read and written in the caller's transaction (as their
role, under row-level security), bytes in the backend. A backend write happens before the metadata
commit and is undone if it fails; a backend delete only after the commit that released the bytes."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql as pgsql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from gardenos.db.pool import ApiRole, Conn, Database
from gardenos.errors import Forbidden
from gardenos.storage import sql
from gardenos.storage.backend import ObjectStore, new_key
from gardenos.storage.errors import (
    BucketNotEmpty,
    Duplicate,
    EntityTooLarge,
    InvalidMimeType,
    StorageError,
    bucket_not_found,
    object_not_found,
)
from gardenos.storage.image_cache import ImageCache
from gardenos.storage.paths import prefix as folder
from gardenos.storage.receive import Received, receive

SORT_COLUMNS = frozenset({"name", "created_at", "updated_at", "last_accessed_at"})


@dataclass(frozen=True)
class Scope:
    """Who acts, in which agency: the role and claims of the transaction, and the agency every query names."""

    role: ApiRole
    claims: dict[str, Any]
    agency_id: uuid.UUID
    user_id: uuid.UUID | None


@dataclass(frozen=True)
class Bucket:
    public: bool
    file_size_limit: int | None
    allowed_mime_types: list[str] | None


@dataclass(frozen=True)
class StoredObject:
    version: str
    size: int
    mime_type: str
    etag: str
    cache_control: str | None
    updated_at: dt.datetime


def mime_allowed(content_type: str, allowed: list[str] | None) -> bool:
    if not allowed:
        return True
    media = content_type.partition(";")[0].strip().lower()
    for pattern in allowed:
        pattern = pattern.strip().lower()
        if pattern == media or (pattern.endswith("/*") and media.startswith(pattern[:-1])):
            return True
    return False


def object_metadata(received: Received, etag: str, cache_control: str | None) -> dict[str, Any]:
    # Supabase Storage's `metadata` column, which its clients read back from info() and list().
    return {
        "eTag": etag,
        "size": received.size,
        "mimetype": received.content_type,
        "cacheControl": cache_control,
        "lastModified": dt.datetime.now(dt.UTC).isoformat(),
        "contentLength": received.size,
        "httpStatusCode": 200,
    }


def cache_control_of(value: str | None) -> str:
    value = (value or "3600").strip()
    return f"max-age={value}" if value.isdigit() else value


class Storage:
    def __init__(
        self,
        database: Database,
        store: ObjectStore,
        max_upload_bytes: int,
        image_cache: ImageCache | None = None,
    ) -> None:
        self.database = database
        self.store = store
        self.max_upload_bytes = max_upload_bytes
        self.image_cache = image_cache

    def transaction(self, scope: Scope) -> AbstractAsyncContextManager[Conn]:
        return self.database.transaction(scope.role, scope.claims)

    # --- buckets --------------------------------------------------------------------------------------------

    async def list_buckets(self, scope: Scope) -> list[dict[str, Any]]:
        async with self.transaction(scope) as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(sql.LIST_BUCKETS, {"agency": scope.agency_id})
            return list(await cur.fetchall())

    async def get_bucket(self, scope: Scope, bucket: str) -> dict[str, Any]:
        async with self.transaction(scope) as conn:
            return await bucket_row(conn, scope, bucket)

    async def create_bucket(self, scope: Scope, bucket: str, name: str, options: dict[str, Any]) -> None:
        params = {
            "agency": scope.agency_id,
            "bucket": bucket,
            "name": name,
            "public": bool(options.get("public") or False),
            "file_size_limit": options.get("file_size_limit"),
            "allowed_mime_types": options.get("allowed_mime_types"),
            "owner": scope.user_id,
        }
        try:
            async with self.transaction(scope) as conn:
                await conn.execute(sql.CREATE_BUCKET, params)
        except psycopg.errors.UniqueViolation:
            raise Duplicate("The resource already exists") from None

    async def update_bucket(self, scope: Scope, bucket: str, options: dict[str, Any]) -> None:
        params = {
            "agency": scope.agency_id,
            "bucket": bucket,
            "public": options.get("public"),
            "set_limit": "file_size_limit" in options,
            "file_size_limit": options.get("file_size_limit"),
            "set_types": "allowed_mime_types" in options,
            "allowed_mime_types": options.get("allowed_mime_types"),
        }
        try:
            async with self.transaction(scope) as conn:
                await bucket_row(conn, scope, bucket)
                cur = await conn.execute(sql.UPDATE_BUCKET, params)
                if await cur.fetchone() is None:
                    raise _not_bucket_admin()
        except psycopg.errors.UniqueViolation:
            raise Duplicate("another agency's public bucket has this id; choose another id") from None

    async def empty_bucket(self, scope: Scope, bucket: str) -> None:
        async with self.transaction(scope) as conn:
            await bucket_row(conn, scope, bucket)
            cur = await conn.execute(sql.EMPTY_BUCKET, {"agency": scope.agency_id, "bucket": bucket})
            versions = [row[0] for row in await cur.fetchall()]
        await self.delete_blobs(versions)

    async def delete_bucket(self, scope: Scope, bucket: str) -> None:
        params = {"agency": scope.agency_id, "bucket": bucket}
        async with self.transaction(scope) as conn:
            await bucket_row(conn, scope, bucket)
            cur = await conn.execute(sql.BUCKET_HAS_OBJECTS, params)
            row = await cur.fetchone()
            if row and row[0]:
                raise BucketNotEmpty("The bucket you tried to delete is not empty: empty it first")
            cur = await conn.execute(sql.DELETE_BUCKET, params)
            if await cur.fetchone() is None:
                raise _not_bucket_admin()

    # --- objects --------------------------------------------------------------------------------------------

    async def upload(
        self,
        scope: Scope,
        bucket: str,
        name: str,
        *,
        content_type: str | None,
        content_length: str | None,
        body: AsyncIterator[bytes],
        upsert: bool,
        replace_only: bool = False,
        metadata_header: str | None = None,
        cache_control_header: str | None = None,
        owner: uuid.UUID | None = None,
    ) -> uuid.UUID:
        """Store the body as `bucket/name`; its id. Limits are checked before any byte is stored."""
        async with self.transaction(scope) as conn:
            limits = bucket_limits(await bucket_row(conn, scope, bucket))
        max_bytes = min(self.max_upload_bytes, limits.file_size_limit or self.max_upload_bytes)
        if content_length and content_length.isdigit() and int(content_length) > max_bytes + (1 << 20):
            raise too_large()

        def check_type(kind: str) -> None:
            if not mime_allowed(kind, limits.allowed_mime_types):
                raise InvalidMimeType(f"mime type {kind} is not supported by this bucket")

        key = new_key(scope.agency_id)
        writer = self.store.writer(key)
        try:
            received = await receive(
                content_type, body, writer, max_bytes, check_type, metadata_header, cache_control_header
            )
            await writer.commit()
        except BaseException:
            await writer.abort()
            raise
        etag = f'"{received.md5}"'
        cache_control = cache_control_of(received.cache_control)
        params = {
            "agency": scope.agency_id,
            "bucket": bucket,
            "name": name,
            "owner": owner if owner is not None else scope.user_id,
            "size": received.size,
            "mime_type": received.content_type,
            "etag": etag,
            "metadata": Jsonb(object_metadata(received, etag, cache_control)),
            "user_metadata": Jsonb(received.user_metadata),
            "version": key,
        }
        try:
            object_id, replaced = await self._put(scope, params, upsert=upsert, replace_only=replace_only)
        except BaseException:
            await self.store.delete(key)
            raise
        if replaced:
            await self._release(replaced)
        return object_id

    async def _put(
        self, scope: Scope, params: dict[str, Any], *, upsert: bool, replace_only: bool
    ) -> tuple[uuid.UUID, str | None]:
        async with self.transaction(scope) as conn:
            return await put_object(conn, params, upsert=upsert, replace_only=replace_only)

    async def stat(self, scope: Scope, bucket: str, name: str) -> dict[str, Any]:
        async with self.transaction(scope) as conn:
            await bucket_row(conn, scope, bucket)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(sql.OBJECT, {"agency": scope.agency_id, "bucket": bucket, "name": name})
            row = await cur.fetchone()
        if row is None:
            raise object_not_found()
        return dict(row)

    async def public_object(self, bucket: str, name: str) -> StoredObject:
        async with self.database.transaction("anon", {"role": "anon"}) as conn:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(sql.PUBLIC_OBJECT, {"bucket": bucket, "name": name})
            row = await cur.fetchone()
        if row is None:
            raise object_not_found()
        return stored(row)

    async def list_objects(self, scope: Scope, bucket: str, options: dict[str, Any]) -> list[dict[str, Any]]:
        prefix = folder(str(options.get("prefix") or ""))
        sort = options.get("sortBy") or {}
        column = sort.get("column", "name") if isinstance(sort, dict) else "name"
        order = str(sort.get("order", "asc") if isinstance(sort, dict) else "asc").lower()
        if column not in SORT_COLUMNS or order not in ("asc", "desc"):
            raise StorageError(f"sortBy must name one of {sorted(SORT_COLUMNS)} and order asc or desc")
        limit, offset = _int(options.get("limit", 100), "limit"), _int(options.get("offset", 0), "offset")
        query = pgsql.SQL(sql.LIST_OBJECTS).format(
            order=pgsql.SQL("{} {} NULLS LAST, name").format(
                pgsql.Identifier(column), pgsql.SQL(order.upper())
            )
        )
        params = {
            "agency": scope.agency_id,
            "bucket": bucket,
            "prefix": prefix,
            "pattern": _like_prefix(prefix) + "%",
            "search": _like_prefix(str(options.get("search") or "")) + "%",
            "limit": min(limit, 1000),
            "offset": offset,
        }
        async with self.transaction(scope) as conn:
            await bucket_row(conn, scope, bucket)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(query, params)
            return list(await cur.fetchall())

    async def move(self, scope: Scope, bucket: str, name: str, dest_bucket: str, dest: str) -> None:
        params = {
            "agency": scope.agency_id,
            "bucket": bucket,
            "name": name,
            "dest_bucket": dest_bucket,
            "dest": dest,
        }
        try:
            async with self.transaction(scope) as conn:
                await bucket_row(conn, scope, bucket)
                cur = await conn.execute(sql.MOVE_OBJECT, params)
                if (moved := await cur.fetchone()) is None:
                    raise object_not_found()
                if dest_bucket != bucket:
                    # Into another bucket: that bucket's limits hold for what moves in, as for uploads.
                    limits = bucket_limits(await bucket_row(conn, scope, dest_bucket))
                    _check_limits(moved[1], moved[2], limits)
        except psycopg.errors.UniqueViolation:
            raise Duplicate("The resource already exists") from None

    async def copy(
        self, scope: Scope, bucket: str, name: str, dest_bucket: str, dest: str, upsert: bool
    ) -> None:
        source = await self.stat(scope, bucket, name)
        async with self.transaction(scope) as conn:
            limits = bucket_limits(await bucket_row(conn, scope, dest_bucket))
        _check_limits(source["mime_type"], source["size"], limits)
        key = new_key(scope.agency_id)
        await self.store.copy(source["version"], key)
        params = {
            "agency": scope.agency_id,
            "bucket": dest_bucket,
            "name": dest,
            "owner": scope.user_id,
            "size": source["size"],
            "mime_type": source["mime_type"],
            "etag": source["etag"],
            "metadata": Jsonb(source["metadata"]),
            "user_metadata": Jsonb(source["user_metadata"]),
            "version": key,
        }
        try:
            _, replaced = await self._put(scope, params, upsert=upsert, replace_only=False)
        except BaseException:
            await self.store.delete(key)
            raise
        if replaced:
            await self._release(replaced)

    async def remove(self, scope: Scope, bucket: str, names: list[str]) -> list[dict[str, Any]]:
        async with self.transaction(scope) as conn:
            await bucket_row(conn, scope, bucket)
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(
                sql.REMOVE_OBJECTS, {"agency": scope.agency_id, "bucket": bucket, "names": names}
            )
            rows = list(await cur.fetchall())
        await self.delete_blobs([row.pop("version") for row in rows])
        return rows

    async def delete_blobs(self, versions: Iterable[str | None]) -> None:
        """The bytes of objects whose rows a committed transaction deleted or replaced."""
        for version in versions:
            if version:
                await self._release(version)

    async def _release(self, version: str) -> None:
        """A version no row names any more: its bytes, and the images transformed from them."""
        await self.store.delete(version)
        if self.image_cache is not None:
            await asyncio.to_thread(self.image_cache.forget, version)


async def put_object(
    conn: Conn, params: dict[str, Any], *, upsert: bool, replace_only: bool
) -> tuple[uuid.UUID, str | None]:
    """The object's row written (as the caller, under row-level security): its id, and the version an
    upsert replaced (to delete after the commit)."""
    # Twice at most: a row inserted concurrently between the update and the insert is replaced.
    for _ in range(2):
        if upsert or replace_only:
            cur = await conn.execute(sql.REPLACE_OBJECT, params)
            if row := await cur.fetchone():
                return row[0], row[1]
            if replace_only:
                raise object_not_found()
        cur = await conn.execute(sql.INSERT_OBJECT, params)
        if row := await cur.fetchone():
            return row[0], None
        if not upsert:
            raise Duplicate("The resource already exists")
    raise Duplicate("The object was being replaced concurrently; try again")


# --- a folder's objects, in a caller's transaction ------------------------------------------------------
# For code that keeps files beside its own records (crm/attachments) and changes them with those records,
# in one transaction. Bytes of removed objects go after that commit, by `Storage.delete_blobs`.


def _folder_params(agency: uuid.UUID, bucket: str, path: str) -> dict[str, Any]:
    return {"agency": agency, "bucket": bucket, "pattern": _like_prefix(folder(path)) + "%"}


async def count_folder(conn: Conn, agency: uuid.UUID, bucket: str, path: str) -> int:
    cur = await conn.execute(sql.FOLDER_COUNT, _folder_params(agency, bucket, path))
    row = await cur.fetchone()
    return int(row[0]) if row else 0


async def remove_folder(conn: Conn, agency: uuid.UUID, bucket: str, path: str) -> list[str]:
    """Remove the folder's objects; their versions, to delete after the commit."""
    cur = await conn.execute(sql.REMOVE_FOLDER, _folder_params(agency, bucket, path))
    return [row[0] for row in await cur.fetchall() if row[0]]


async def move_folder(conn: Conn, agency: uuid.UUID, bucket: str, source: str, dest: str, clash: str) -> int:
    """Move the folder's objects under `dest` (names it has already get `clash` in front); how many."""
    params = _folder_params(agency, bucket, source) | {
        "source": folder(source),
        "dest": folder(dest),
        "clash": clash,
    }
    cur = await conn.execute(sql.MOVE_FOLDER, params)
    return cur.rowcount


def stored(row: dict[str, Any]) -> StoredObject:
    metadata = row.get("metadata") or {}
    return StoredObject(
        version=row["version"],
        size=row["size"],
        mime_type=row["mime_type"] or "application/octet-stream",
        etag=row["etag"] or "",
        cache_control=metadata.get("cacheControl"),
        updated_at=row["updated_at"],
    )


async def bucket_row(conn: Conn, scope: Scope, bucket: str) -> dict[str, Any]:
    cur = conn.cursor(row_factory=dict_row)
    await cur.execute(sql.GET_BUCKET, {"agency": scope.agency_id, "bucket": bucket})
    row = await cur.fetchone()
    if row is None:
        raise bucket_not_found()
    return dict(row)


def bucket_limits(row: dict[str, Any]) -> Bucket:
    return Bucket(row["public"], row["file_size_limit"], row["allowed_mime_types"])


def _check_limits(mime_type: str | None, size: int, limits: Bucket) -> None:
    if not mime_allowed(mime_type or "", limits.allowed_mime_types):
        raise InvalidMimeType(f"mime type {mime_type} is not supported by the destination bucket")
    if limits.file_size_limit is not None and size > limits.file_size_limit:
        raise too_large()


def _not_bucket_admin() -> Forbidden:
    error = Forbidden("only the agency's owners and admins may change or delete its buckets")
    error.storage_error = "Unauthorized"
    return error


def too_large() -> StorageError:
    return EntityTooLarge("The object exceeded the maximum allowed size")


def _int(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise StorageError(f"{name} must be a whole number") from None
    if number < 0:
        raise StorageError(f"{name} must not be negative")
    return number


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
