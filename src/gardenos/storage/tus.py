"""`/storage/v1/upload/resumable`: resumable uploads over TUS 1.0.0 (core, creation, creation-with-upload,
termination, expiration), as Supabase Storage serves them to tus-js-client and tuspy. The client names
the object in Upload-Metadata (`bucketName`, `objectName`, `contentType`, `cacheControl`, `metadata`)
and signs in as for any storage call (`Authorization: Bearer …` and `apikey`); `x-upsert: true`
replaces an existing object. The upload's URL is `…/upload/resumable/<id>`, where the id is
base64url(`bucket/name/version`) as on Supabase.

Errors are rendered by api/errors.py: on these routes, as Supabase's tus server answers them, the
message as plain text (tus clients put the response's text in the error they raise)."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gardenos.auth.principal import PrincipalDep
from gardenos.settings import Settings
from gardenos.storage.errors import InvalidMimeType, StorageError, TusVersionUnsupported
from gardenos.storage.resumable import (
    TUS_EXTENSIONS,
    TUS_VERSION,
    ResumableUploads,
    Upload,
    new_upload,
)
from gardenos.storage.routes import scope_of, upsert_header

PREFIX = "/storage/v1/upload/resumable"
CHUNK_TYPE = "application/offset+octet-stream"
router = APIRouter(prefix=PREFIX, tags=["storage"])


async def get_uploads(request: Request) -> ResumableUploads:
    uploads: ResumableUploads = request.app.state.storage_uploads
    return uploads


UploadsDep = Annotated[ResumableUploads, Depends(get_uploads)]


def _tus(request: Request) -> None:
    """TUS requires every request but OPTIONS to say which protocol version it speaks."""
    version = request.headers.get("tus-resumable")
    if version != TUS_VERSION:
        raise TusVersionUnsupported(
            f"this server speaks TUS {TUS_VERSION}: send `Tus-Resumable: {TUS_VERSION}`"
            + (f" (not {version!r})" if version else "")
        )


def _http_date(moment: dt.datetime) -> str:
    return format_datetime(moment.astimezone(dt.UTC), usegmt=True)


def _headers(upload: Upload) -> dict[str, str]:
    headers = {"Tus-Resumable": TUS_VERSION, "Upload-Offset": str(upload.offset)}
    if upload.expires_at is not None:
        headers["Upload-Expires"] = _http_date(upload.expires_at)
    return headers


def _content_length(request: Request) -> int | None:
    length = request.headers.get("content-length")
    return int(length) if length and length.isdigit() else None


@router.options("")
@router.options("/")
@router.options("/{token}")
async def discover(request: Request) -> Response:
    """What this server supports; open to anyone (browsers send it without credentials)."""
    settings: Settings = request.app.state.settings
    return Response(
        status_code=204,
        headers={
            "Tus-Resumable": TUS_VERSION,
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Max-Size": str(settings.storage_max_upload_bytes),
        },
    )


@router.post("")
@router.post("/")
async def create(request: Request, principal: PrincipalDep, uploads: UploadsDep) -> Response:
    _tus(request)
    scope = scope_of(principal, request)
    if "upload-defer-length" in request.headers:
        raise StorageError("Upload-Defer-Length is not supported: send Upload-Length with the file's size")
    new = new_upload(
        request.headers.get("upload-length"), request.headers.get("upload-metadata"), upsert_header(request)
    )
    upload, _ = await uploads.create(scope, new)
    if request.headers.get("content-type", "").lower() == CHUNK_TYPE:
        # creation-with-upload: the first chunk came with the creation request.
        upload = await uploads.append(scope, upload.token, 0, _content_length(request), request.stream())
    headers = _headers(upload)
    headers["Location"] = f"{PREFIX}/{upload.token}"
    return Response(status_code=201, headers=headers)


@router.head("/{token}")
async def offset(token: str, request: Request, principal: PrincipalDep, uploads: UploadsDep) -> Response:
    _tus(request)
    upload = await uploads.status(scope_of(principal, request), token)
    headers = _headers(upload)
    headers["Upload-Length"] = str(upload.length)
    headers["Cache-Control"] = "no-store"
    if upload.upload_metadata:
        headers["Upload-Metadata"] = upload.upload_metadata
    return Response(status_code=200, headers=headers)


@router.patch("/{token}")
async def append(token: str, request: Request, principal: PrincipalDep, uploads: UploadsDep) -> Response:
    _tus(request)
    scope = scope_of(principal, request)
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != CHUNK_TYPE:
        raise InvalidMimeType(f"send a chunk as Content-Type: {CHUNK_TYPE}, not {kind or 'no type'}")
    at = request.headers.get("upload-offset", "")
    if not at.isdigit():
        raise StorageError("Upload-Offset must say, as a whole number, where this chunk starts")
    upload = await uploads.append(scope, token, int(at), _content_length(request), request.stream())
    headers = _headers(upload)
    if upload.complete:
        headers["Tus-Complete"] = "1"
    return Response(status_code=204, headers=headers)


@router.delete("/{token}")
async def terminate(token: str, request: Request, principal: PrincipalDep, uploads: UploadsDep) -> Response:
    _tus(request)
    await uploads.terminate(scope_of(principal, request), token)
    return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})
