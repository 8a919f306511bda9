"""Attachments: files on a lead, a client or an activity (and an import's reports), kept by storage
(`/storage/v1`) in the agency's private bucket `attachments`, at `<leads|clients|activities|imports>/<record
id>/<file name>`.

One write path: uploads, lists and removals go through storage's service as the caller, under the
row-level security of `storage.objects`, so a front end may as well use supabase-js on the same bucket
and paths. The bucket is per agency (bucket ids are scoped to their agency), so the path needs no
agency; it is created on the first upload, private, by the server (members may not create buckets)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import Request

from gardenos.auth.principal import Principal
from gardenos.crm.attachments.schemas import AttachmentUpload
from gardenos.db.pool import Conn
from gardenos.errors import BadRequest, Conflict
from gardenos.storage import service as storage_service
from gardenos.storage.errors import BucketNotFound, Duplicate
from gardenos.storage.paths import object_key
from gardenos.storage.service import Scope, Storage

BUCKET = "attachments"
# An import keeps its reports there too (importer/routes.py).
Kind = Literal["leads", "clients", "activities", "imports"]
# One page of a record's files is all of them, up to this many.
MAX_LISTED = 1000


def folder(kind: Kind, record_id: uuid.UUID) -> str:
    return f"{kind}/{record_id}"


def path_of(kind: Kind, record_id: uuid.UUID, filename: str) -> str:
    """The object's path for a file name: one segment (a '/' would make a folder), checked as every
    storage path is."""
    if "/" in filename or not filename.strip():
        raise BadRequest(f"filename {filename!r} must be a file name, without '/'")
    return object_key(f"{folder(kind, record_id)}/{filename}")


def caller_scope(principal: Principal) -> Scope:
    return Scope("authenticated", principal.raw_claims, principal.require_agency(), principal.user_id)


def _server_scope(agency: uuid.UUID) -> Scope:
    return Scope("service_role", {"role": "service_role"}, agency, None)


def _attachment(kind: Kind, record_id: uuid.UUID, row: dict[str, Any]) -> dict[str, Any]:
    metadata = row.get("metadata") or {}
    return {
        "id": row["id"],
        "name": row["name"],
        "bucket": BUCKET,
        "path": f"{folder(kind, record_id)}/{row['name']}",
        "size": metadata.get("size"),
        "mime_type": metadata.get("mimetype"),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }


async def list_files(
    storage: Storage, scope: Scope, kind: Kind, record_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The record's files, by name (none when the agency has no attachments bucket yet)."""
    try:
        rows = await storage.list_objects(
            scope, BUCKET, {"prefix": folder(kind, record_id), "limit": MAX_LISTED}
        )
    except BucketNotFound:
        return []
    return [_attachment(kind, record_id, row) for row in rows if row["id"] is not None]


async def upload(
    storage: Storage,
    scope: Scope,
    kind: Kind,
    record_id: uuid.UUID,
    filename: str,
    *,
    content_type: str | None,
    content_length: str | None,
    body: AsyncIterator[bytes],
    upsert: bool,
) -> dict[str, Any]:
    path = path_of(kind, record_id, filename)
    # Created by the server, private: a member may attach files but not create buckets.
    with contextlib.suppress(Duplicate):
        await storage.create_bucket(_server_scope(scope.agency_id), BUCKET, BUCKET, {"public": False})
    if (await storage.get_bucket(scope, BUCKET))["public"]:
        # Made public by an admin through /storage/v1: a contract attached now would be on the web.
        raise Conflict(
            f"the agency's {BUCKET!r} bucket is public: make it private (PUT /storage/v1/bucket/{BUCKET} "
            '{"public": false}) before attaching files'
        )
    await storage.upload(
        scope,
        BUCKET,
        path,
        content_type=content_type,
        content_length=content_length,
        body=body,
        upsert=upsert,
    )
    row = await storage.stat(scope, BUCKET, path)
    return _attachment(kind, record_id, row | {"name": filename})


async def upload_request(
    storage: Storage,
    scope: Scope,
    kind: Kind,
    record_id: uuid.UUID,
    query: AttachmentUpload,
    request: Request,
) -> dict[str, Any]:
    """The request's body, raw or multipart (as /storage/v1 takes it), as the record's file."""
    return await upload(
        storage,
        scope,
        kind,
        record_id,
        query.filename,
        content_type=request.headers.get("content-type"),
        content_length=request.headers.get("content-length"),
        body=request.stream(),
        upsert=query.upsert,
    )


async def on_delete(
    conn: Conn, agency: uuid.UUID, kind: Kind, record_id: uuid.UUID, with_attachments: bool | None
) -> list[str]:
    """In the transaction that deletes the record: with `with_attachments` its files go too (their
    versions returned, for `Storage.delete_blobs` after the commit); false keeps them; unsaid, a record
    with files is not deleted (409) until the caller chooses, as a confirmation dialog would ask."""
    files = await storage_service.count_folder(conn, agency, BUCKET, folder(kind, record_id))
    if not files:
        return []
    if with_attachments is None:
        one = kind.removesuffix("s")
        raise Conflict(
            f"the {one} has {files} attachment(s): delete again with ?with_attachments=true to delete "
            f"them with the {one}, or ?with_attachments=false to keep them in the attachments bucket at "
            f"{folder(kind, record_id)}/"
        )
    if not with_attachments:
        return []
    return await storage_service.remove_folder(conn, agency, BUCKET, folder(kind, record_id))


async def move(
    conn: Conn,
    agency: uuid.UUID,
    source: tuple[Kind, uuid.UUID],
    dest: tuple[Kind, uuid.UUID],
) -> int:
    """A record's files follow it to the record that takes its place (a merge's survivor, a converted
    lead's client), in the caller's transaction; a name the destination has already is kept apart by
    the source record's short id (`3f2a9c1e-contract.pdf`). How many moved."""
    return await storage_service.move_folder(
        conn, agency, BUCKET, folder(*source), folder(*dest), f"{source[1].hex[:8]}-"
    )
