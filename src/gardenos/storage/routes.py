"""`/storage/v1`: Supabase Storage's routes, bodies and headers, as storage3 and storage-js call them."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable
from email.utils import format_datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from gardenos.auth.principal import Principal, PrincipalDep
from gardenos.errors import BadRequest, GardenError, Unauthorized
from gardenos.settings import Settings
from gardenos.storage.errors import ObjectNotFound, RangeNotSatisfiable, object_not_found
from gardenos.storage.images import has_options, parse_options
from gardenos.storage.paths import bucket_id, object_key
from gardenos.storage.service import Scope, Storage, StoredObject, stored
from gardenos.storage.signing import Grant, Signer

router = APIRouter(prefix="/storage/v1", tags=["storage"])
AGENCY_HEADER = "x-agency-id"
# How often a download reads the metadata again when upserts keep replacing the object under it.
REREADS = 3
JsonBody = Annotated[dict[str, Any], Body(default_factory=dict)]


async def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


async def get_signer(request: Request) -> Signer:
    signer: Signer = request.app.state.storage_signer
    return signer


StorageDep = Annotated[Storage, Depends(get_storage)]
SignerDep = Annotated[Signer, Depends(get_signer)]


def scope_of(principal: Principal, request: Request) -> Scope:
    """A member acts in their token's agency; the service_role key names one (`X-Agency-Id`): it belongs
    to none, and a bucket id means something only within an agency."""
    if principal.is_service_role:
        header = request.headers.get(AGENCY_HEADER)
        try:
            agency = uuid.UUID(header or "")
        except ValueError:
            raise BadRequest(
                "the service_role key acts in no agency: name one in the X-Agency-Id header"
            ) from None
        return Scope("service_role", principal.raw_claims, agency, None)
    if principal.role != "authenticated":
        raise Unauthorized("sign in: this needs a user's access token as `Authorization: Bearer …`")
    return Scope("authenticated", principal.raw_claims, principal.require_agency(), principal.user_id)


async def get_scope(request: Request, principal: PrincipalDep) -> Scope:
    return scope_of(principal, request)


ScopeDep = Annotated[Scope, Depends(get_scope)]


def _bucket_options(body: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {
        k: body[k] for k in ("public", "file_size_limit", "allowed_mime_types") if k in body
    }
    limit = options.get("file_size_limit")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0):
        raise BadRequest("file_size_limit must be a positive number of bytes")
    types = options.get("allowed_mime_types")
    if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) for t in types)):
        raise BadRequest("allowed_mime_types must be a list of MIME types such as image/png or image/*")
    if "public" in options and not isinstance(options["public"], bool):
        raise BadRequest("public must be true or false")
    return options


# --- buckets ----------------------------------------------------------------------------------------------


@router.get("/bucket")
async def list_buckets(scope: ScopeDep, storage: StorageDep) -> list[dict[str, Any]]:
    return await storage.list_buckets(scope)


@router.get("/bucket/{bucket}")
async def get_bucket(bucket: str, scope: ScopeDep, storage: StorageDep) -> dict[str, Any]:
    return await storage.get_bucket(scope, bucket_id(bucket))


@router.post("/bucket")
async def create_bucket(body: JsonBody, scope: ScopeDep, storage: StorageDep) -> dict[str, str]:
    bucket = bucket_id(str(body.get("id") or body.get("name") or ""))
    await storage.create_bucket(scope, bucket, str(body.get("name") or bucket), _bucket_options(body))
    return {"name": bucket}


@router.put("/bucket/{bucket}")
async def update_bucket(bucket: str, body: JsonBody, scope: ScopeDep, storage: StorageDep) -> dict[str, str]:
    await storage.update_bucket(scope, bucket_id(bucket), _bucket_options(body))
    return {"message": "Successfully updated"}


@router.post("/bucket/{bucket}/empty")
async def empty_bucket(bucket: str, scope: ScopeDep, storage: StorageDep) -> dict[str, str]:
    await storage.empty_bucket(scope, bucket_id(bucket))
    return {"message": "Successfully emptied"}


@router.delete("/bucket/{bucket}")
async def delete_bucket(bucket: str, scope: ScopeDep, storage: StorageDep) -> dict[str, str]:
    await storage.delete_bucket(scope, bucket_id(bucket))
    return {"message": "Successfully deleted"}


# --- objects: JSON routes ---------------------------------------------------------------------------------


@router.post("/object/list/{bucket}")
async def list_objects(
    bucket: str, body: JsonBody, scope: ScopeDep, storage: StorageDep
) -> list[dict[str, Any]]:
    return await storage.list_objects(scope, bucket_id(bucket), body)


def _move_args(body: dict[str, Any]) -> tuple[str, str, str, str]:
    try:
        source, dest = str(body["sourceKey"]), str(body["destinationKey"])
        bucket = str(body["bucketId"])
    except KeyError as exc:
        raise BadRequest(f"the body needs {exc.args[0]}") from None
    dest_bucket = str(body.get("destinationBucket") or bucket)
    return bucket_id(bucket), object_key(source), bucket_id(dest_bucket), object_key(dest)


@router.post("/object/move")
async def move_object(body: JsonBody, scope: ScopeDep, storage: StorageDep) -> dict[str, str]:
    await storage.move(scope, *_move_args(body))
    return {"message": "Successfully moved"}


@router.post("/object/copy")
async def copy_object(
    request: Request, body: JsonBody, scope: ScopeDep, storage: StorageDep
) -> dict[str, str]:
    bucket, source, dest_bucket, dest = _move_args(body)
    await storage.copy(scope, bucket, source, dest_bucket, dest, upsert_header(request))
    return {"Key": f"{dest_bucket}/{dest}"}


@router.post("/object/sign/{bucket}")
async def sign_many(
    bucket: str, body: JsonBody, scope: ScopeDep, storage: StorageDep, signer: SignerDep, request: Request
) -> list[dict[str, Any]]:
    paths = body.get("paths")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise BadRequest("paths must be a list of object paths")
    expires_at = _expiry(body, request)
    bucket = bucket_id(bucket)
    results = []
    for path in paths:
        try:
            key = object_key(path)
            await storage.stat(scope, bucket, key)
        except GardenError as exc:  # one path's error is its item's, as Supabase answers
            message = exc.message
            results.append({"error": message, "path": path, "signedURL": None})
            continue
        token = signer.sign(Grant(str(scope.agency_id), bucket, key, "read", expires_at))
        results.append({"error": None, "path": path, "signedURL": _signed_path("sign", bucket, key, token)})
    return results


@router.post("/object/sign/{bucket}/{path:path}")
async def sign_one(
    bucket: str,
    path: str,
    body: JsonBody,
    scope: ScopeDep,
    storage: StorageDep,
    signer: SignerDep,
    request: Request,
) -> dict[str, str]:
    bucket, key = bucket_id(bucket), object_key(path)
    transform = body.get("transform")
    if transform is not None and not isinstance(transform, dict):
        raise BadRequest('transform must be an object such as {"width": 200, "height": 200}')
    await storage.stat(scope, bucket, key)
    expires_at = _expiry(body, request)
    if transform and has_options(transform):
        # As Supabase: the transformation is signed into the token and the URL is render/image's.
        options = parse_options(transform)
        grant = Grant(str(scope.agency_id), bucket, key, "render", expires_at, transform=options.canonical())
        return {"signedURL": f"/render/image/sign/{quote(bucket)}/{quote(key)}?token={signer.sign(grant)}"}
    token = signer.sign(Grant(str(scope.agency_id), bucket, key, "read", expires_at))
    return {"signedURL": _signed_path("sign", bucket, key, token)}


@router.post("/object/upload/sign/{bucket}/{path:path}")
async def sign_upload(
    bucket: str, path: str, request: Request, scope: ScopeDep, storage: StorageDep, signer: SignerDep
) -> dict[str, str]:
    bucket, key = bucket_id(bucket), object_key(path)
    await storage.get_bucket(scope, bucket)
    # Supabase's signed upload URLs last two hours.
    grant = Grant(
        str(scope.agency_id),
        bucket,
        key,
        "upload",
        int(time.time()) + 7200,
        str(scope.user_id) if scope.user_id else None,
        upsert_header(request),
    )
    token = signer.sign(grant)
    return {"url": _signed_path("upload/sign", bucket, key, token), "token": token}


@router.put("/object/upload/sign/{bucket}/{path:path}")
async def upload_to_signed(
    bucket: str, path: str, token: str, request: Request, storage: StorageDep, signer: SignerDep
) -> dict[str, str]:
    bucket, key = bucket_id(bucket), object_key(path)
    grant = signer.verify(token, bucket, key, "upload")
    scope = grant_scope(grant)
    owner = uuid.UUID(grant.owner) if grant.owner else None
    object_id = await _upload(request, storage, scope, bucket, key, upsert=grant.upsert, owner=owner)
    return {"Key": f"{bucket}/{key}", "Id": str(object_id)}


@router.get("/object/sign/{bucket}/{path:path}")
async def download_signed(
    bucket: str, path: str, token: str, request: Request, storage: StorageDep, signer: SignerDep
) -> Response:
    bucket, key = bucket_id(bucket), object_key(path)
    grant = signer.verify(token, bucket, key, "read")
    scope = grant_scope(grant)
    row = await storage.stat(scope, bucket, key)
    return await _serve(request, storage, stored(row), key, lambda: storage.stat(scope, bucket, key))


@router.get("/object/info/{bucket}/{path:path}")
@router.get("/object/info/public/{bucket}/{path:path}")
@router.get("/object/info/authenticated/{bucket}/{path:path}")
async def object_info(bucket: str, path: str, scope: ScopeDep, storage: StorageDep) -> dict[str, Any]:
    bucket, key = bucket_id(bucket), object_key(path)
    row = await storage.stat(scope, bucket, key)
    metadata = row["metadata"] or {}
    return {
        "id": str(row["id"]),
        "name": key,
        "bucket_id": bucket,
        "version": row["version"].partition("/")[2],
        "size": row["size"],
        "content_type": row["mime_type"],
        "cache_control": metadata.get("cacheControl"),
        "etag": row["etag"],
        "metadata": row["user_metadata"],
        "last_modified": row["updated_at"].isoformat(),
        "created_at": row["created_at"].isoformat(),
    }


@router.get("/object/public/{bucket}/{path:path}")
@router.head("/object/public/{bucket}/{path:path}")
async def download_public(bucket: str, path: str, request: Request, storage: StorageDep) -> Response:
    # No apikey needed: a public URL works in an <img> tag, as on Supabase.
    bucket, key = bucket_id(bucket), object_key(path)
    obj = await storage.public_object(bucket, key)
    return await _serve(request, storage, obj, key, lambda: storage.public_object(bucket, key))


# Decorators register bottom-up: the `authenticated` routes before the catch-all `{bucket}` ones.
@router.get("/object/{bucket}/{path:path}")
@router.head("/object/{bucket}/{path:path}")
@router.get("/object/authenticated/{bucket}/{path:path}")
@router.head("/object/authenticated/{bucket}/{path:path}")
async def download(
    bucket: str, path: str, request: Request, scope: ScopeDep, storage: StorageDep
) -> Response:
    bucket, key = bucket_id(bucket), object_key(path)
    row = await storage.stat(scope, bucket, key)
    return await _serve(request, storage, stored(row), key, lambda: storage.stat(scope, bucket, key))


# --- objects: uploads and deletes -------------------------------------------------------------------------


@router.post("/object/{bucket}/{path:path}")
async def upload(
    bucket: str, path: str, request: Request, scope: ScopeDep, storage: StorageDep
) -> dict[str, str]:
    bucket, key = bucket_id(bucket), object_key(path)
    object_id = await _upload(request, storage, scope, bucket, key, upsert=upsert_header(request))
    return {"Key": f"{bucket}/{key}", "Id": str(object_id)}


@router.put("/object/{bucket}/{path:path}")
async def update(
    bucket: str, path: str, request: Request, scope: ScopeDep, storage: StorageDep
) -> dict[str, str]:
    bucket, key = bucket_id(bucket), object_key(path)
    object_id = await _upload(request, storage, scope, bucket, key, upsert=False, replace_only=True)
    return {"Key": f"{bucket}/{key}", "Id": str(object_id)}


@router.delete("/object/{bucket}")
async def remove_many(
    bucket: str, body: JsonBody, scope: ScopeDep, storage: StorageDep
) -> list[dict[str, Any]]:
    prefixes = body.get("prefixes")
    if not isinstance(prefixes, list) or not all(isinstance(p, str) for p in prefixes):
        raise BadRequest("prefixes must be a list of object paths")
    return await storage.remove(scope, bucket_id(bucket), [object_key(p) for p in prefixes])


@router.delete("/object/{bucket}/{path:path}")
async def remove_one(bucket: str, path: str, scope: ScopeDep, storage: StorageDep) -> dict[str, str]:
    bucket, key = bucket_id(bucket), object_key(path)
    if not await storage.remove(scope, bucket, [key]):
        raise object_not_found()
    return {"message": "Successfully deleted"}


# --- helpers ----------------------------------------------------------------------------------------------


def upsert_header(request: Request) -> bool:
    return request.headers.get("x-upsert", "false").lower() == "true"


def _expiry(body: dict[str, Any], request: Request) -> int:
    try:
        seconds = int(str(body.get("expiresIn")))
    except (TypeError, ValueError):
        raise BadRequest("expiresIn must be a number of seconds") from None
    if seconds < 1:
        raise BadRequest("expiresIn must be at least 1 second")
    settings: Settings = request.app.state.settings
    return int(time.time()) + min(seconds, settings.storage_max_signed_url_s)


def _signed_path(kind: str, bucket: str, key: str, token: str) -> str:
    return f"/object/{kind}/{quote(bucket)}/{quote(key)}?token={token}"


def grant_scope(grant: Grant) -> Scope:
    # A signed URL is the signer's capability for this one object: redeemed as service_role, confined by
    # every query to the agency, bucket and key the signature covers.
    return Scope("service_role", {"role": "service_role"}, uuid.UUID(grant.agency_id), None)


async def _upload(
    request: Request,
    storage: Storage,
    scope: Scope,
    bucket: str,
    key: str,
    *,
    upsert: bool,
    replace_only: bool = False,
    owner: uuid.UUID | None = None,
) -> uuid.UUID:
    return await storage.upload(
        scope,
        bucket,
        key,
        content_type=request.headers.get("content-type"),
        content_length=request.headers.get("content-length"),
        body=request.stream(),
        upsert=upsert,
        replace_only=replace_only,
        metadata_header=request.headers.get("x-metadata"),
        cache_control_header=request.headers.get("cache-control"),
        owner=owner,
    )


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range `Range: bytes=…` asks for, inclusive; None for the whole object."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None  # not a range we serve: the whole object, as RFC 9110 allows
    first, _, last = spec.strip().partition("-")
    try:
        if first == "":
            length = int(last)
            start, end = max(size - length, 0), size - 1
        else:
            start = int(first)
            end = min(int(last), size - 1) if last else size - 1
    except ValueError:
        return None
    if start >= size or start > end or start < 0:
        raise RangeNotSatisfiable(f"the range {spec} is outside the object's {size} bytes")
    return start, end


Again = Callable[[], Awaitable[StoredObject | dict[str, Any]]]


async def serve_fresh(
    obj: StoredObject, again: Again, respond: Callable[[StoredObject], Awaitable[Response]]
) -> Response:
    """`respond(obj)`, which opens its bytes before answering; if an upsert replaced them between the
    metadata read and the open (the old version's file deleted after its commit), the metadata is read
    `again` for the new version."""
    for _ in range(REREADS):
        try:
            return await respond(obj)
        except ObjectNotFound:
            fresh = await again()
            obj = fresh if isinstance(fresh, StoredObject) else stored(fresh)
    return await respond(obj)


async def _serve(request: Request, storage: Storage, obj: StoredObject, key: str, again: Again) -> Response:
    """The object as HTTP: conditional, ranged, as an attachment with `?download=`."""
    return await serve_fresh(obj, again, lambda fresh: _respond(request, storage, fresh, key))


def object_headers(request: Request, obj: StoredObject, key: str, etag: str) -> dict[str, str]:
    """Validators, caching and `?download=`: the headers of every answer that serves an object (`etag`:
    the object's, or a transformation's of it)."""
    headers = {
        "ETag": etag,
        "Last-Modified": format_datetime(obj.updated_at.astimezone(dt.UTC), usegmt=True),
        "Cache-Control": obj.cache_control or "max-age=3600",
    }
    if "download" in request.query_params:
        filename = request.query_params["download"] or key.rsplit("/", 1)[-1]
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    return headers


def not_modified(request: Request, etag: str) -> bool:
    inm = request.headers.get("if-none-match")
    return bool(inm and etag and etag in [tag.strip() for tag in inm.split(",")])


async def _respond(request: Request, storage: Storage, obj: StoredObject, key: str) -> Response:
    headers = object_headers(request, obj, key, obj.etag)
    headers["Accept-Ranges"] = "bytes"
    if not_modified(request, obj.etag):
        return Response(status_code=304, headers=headers)
    try:
        span = _byte_range(request.headers.get("range"), obj.size)
    except RangeNotSatisfiable:
        return JSONResponse(
            {"statusCode": "416", "error": "InvalidRange", "message": "The range is outside the object"},
            status_code=416,
            headers={"Content-Range": f"bytes */{obj.size}"},
        )
    status, start, end = 200, 0, obj.size - 1
    if span is not None:
        status, (start, end) = 206, span
        headers["Content-Range"] = f"bytes {start}-{end}/{obj.size}"
    headers["Content-Length"] = str(max(end - start + 1, 0))
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers, media_type=obj.mime_type)
    # Open now, so a missing file is a 404 rather than a broken stream.
    chunks = storage.store.read(obj.version, start, end)
    first = b""
    if obj.size:
        first = await anext(chunks, b"")

    async def body() -> Any:
        try:
            if first:
                yield first
            async for chunk in chunks:
                yield chunk
        finally:
            await chunks.aclose()

    return StreamingResponse(body(), status_code=status, headers=headers, media_type=obj.mime_type)
