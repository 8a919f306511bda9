"""`/storage/v1/render/image`: Supabase Storage's image transformations, behind the same doors as the
downloads they transform: a member's token under row-level security (`authenticated`), a public bucket
(`public`), or a signed URL whose token carries the transformation (`sign`)."""

from __future__ import annotations

import time
from email.utils import formatdate
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from gardenos.storage.errors import InvalidTransform
from gardenos.storage.images import TransformOptions, has_options, parse_options
from gardenos.storage.paths import bucket_id, object_key
from gardenos.storage.renderer import ImageRenderer
from gardenos.storage.routes import (
    ScopeDep,
    SignerDep,
    StorageDep,
    grant_scope,
    not_modified,
    object_headers,
    serve_fresh,
)
from gardenos.storage.service import StoredObject, stored

router = APIRouter(prefix="/storage/v1/render/image", tags=["storage"])
CACHE_HEADER = "X-Transform-Cache"


async def get_renderer(request: Request) -> ImageRenderer:
    renderer: ImageRenderer = request.app.state.image_renderer
    return renderer


RendererDep = Annotated[ImageRenderer, Depends(get_renderer)]


@router.get("/authenticated/{bucket}/{path:path}")
async def render_authenticated(
    bucket: str, path: str, request: Request, scope: ScopeDep, storage: StorageDep, renderer: RendererDep
) -> Response:
    bucket, key = bucket_id(bucket), object_key(path)
    options = parse_options(request.query_params)
    row = await storage.stat(scope, bucket, key)
    return await serve_fresh(
        stored(row),
        lambda: storage.stat(scope, bucket, key),
        lambda obj: _render(request, renderer, obj, key, options),
    )


@router.get("/public/{bucket}/{path:path}")
async def render_public(
    bucket: str, path: str, request: Request, storage: StorageDep, renderer: RendererDep
) -> Response:
    # No apikey needed, as for /object/public: a transformed public image works in an <img> tag.
    bucket, key = bucket_id(bucket), object_key(path)
    options = parse_options(request.query_params)
    obj = await storage.public_object(bucket, key)
    return await serve_fresh(
        obj,
        lambda: storage.public_object(bucket, key),
        lambda fresh: _render(request, renderer, fresh, key, options),
    )


@router.get("/sign/{bucket}/{path:path}")
async def render_signed(
    bucket: str,
    path: str,
    token: str,
    request: Request,
    storage: StorageDep,
    signer: SignerDep,
    renderer: RendererDep,
) -> Response:
    bucket, key = bucket_id(bucket), object_key(path)
    grant = signer.verify(token, bucket, key, "render")
    options = TransformOptions.from_canonical(grant.transform or "")
    # The token's transformation is the only one it grants: asking another in the query is refused
    # rather than ignored, so a caller learns why the image is not the size they asked.
    if has_options(request.query_params) and parse_options(request.query_params) != options:
        raise InvalidTransform(
            "The transformation is signed into the token: create a new signed URL for another one"
        )
    scope = grant_scope(grant)
    row = await storage.stat(scope, bucket, key)
    expires = formatdate(grant.expires_at, usegmt=True)
    response = await serve_fresh(
        stored(row),
        lambda: storage.stat(scope, bucket, key),
        lambda obj: _render(request, renderer, obj, key, options),
    )
    # As Supabase: a signed image is cacheable until its URL expires, not longer.
    response.headers["Expires"] = expires
    max_age = max(grant.expires_at - int(time.time()), 0)
    response.headers["Cache-Control"] = f"private, max-age={max_age}"
    return response


async def _render(
    request: Request, renderer: ImageRenderer, obj: StoredObject, key: str, options: TransformOptions
) -> Response:
    output = options.output(request.headers.get("accept"))
    digest = options.digest(output)
    # One ETag per object version and transformation: a cache never mixes two sizes of one image.
    etag = f'"{obj.etag.strip(chr(34))}-{digest[:16]}"'
    headers = object_headers(request, obj, key, etag)
    if options.format is None:
        headers["Vary"] = "Accept"  # the format followed the client's Accept
    if not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    result = await renderer.render(obj, options, output)
    headers[CACHE_HEADER] = "hit" if result.cached else "miss"
    return Response(result.rendered.body, headers=headers, media_type=f"image/{result.rendered.subtype}")
