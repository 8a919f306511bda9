"""Every request bounded before any route sees it: text that PostgreSQL cannot store, and bodies past
their route's size.

One ASGI middleware rather than checks in each route, because every door reaches the database: a NUL
(`\\x00`) or invalid UTF-8 anywhere in the path, the query string, a header we read or a body is 400 here
(PostgreSQL text cannot hold NUL, and psycopg refuses it with an error that used to surface as a 500).
A body is counted while it is read, so one sent chunked, without Content-Length, is cut off at its
limit without being held whole (413). JSON bodies, bounded by that limit, are read here and checked for
nesting depth (the decoder recurses per level: 5,000 levels were a RecursionError) before the route
decodes them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from itertools import accumulate
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gardenos.api.errors import render
from gardenos.errors import BadRequest, GardenError
from gardenos.importer.upload import ENVELOPE_BYTES
from gardenos.settings import Settings
from gardenos.storage.paths import is_resumable_chunk, is_upload

MAX_JSON_DEPTH = 64
IMPORTS_PATH = "/api/v1/imports"
# The headers GardenOS reads; others pass as they came (only a NUL is refused in every header).
READ_HEADERS = frozenset(
    {
        b"authorization",
        b"apikey",
        b"accept",
        b"content-type",
        b"prefer",
        b"range",
        b"range-unit",
        b"x-supabase-api-version",
        b"x-client-info",
    }
)

# A JSON string, with its escapes (the unrolled form: one pass, no backtracking).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
# +1 for an opening bracket, -1 for a closing one.
_STEP = [0] * 256
for _byte in b"[{":
    _STEP[_byte] = 1
for _byte in b"]}":
    _STEP[_byte] = -1
# `\u0000` that is an escape, not an escaped backslash followed by the text "u0000".
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")
_SURROGATE_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F]")


class PayloadTooLarge(GardenError):
    status_code = 413
    code = "GARDEN413"
    error_code = "request_too_large"


class RequestBounds:
    """The middleware: refuses what no route can store or afford, in the API family's error shape."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _check_target(scope)
            limit, setting = self._limit(scope)
            length = _header(scope, b"content-length")
            if length is not None and length.isdigit() and int(length) > limit:
                raise _too_large(limit, setting)
            # An object's bytes are stored as they came, whatever their type says (storage checks them).
            upload = is_upload(scope["method"], scope["path"]) or is_resumable_chunk(
                scope["method"], scope["path"]
            )
            kind = None if upload else _body_kind(_header(scope, b"content-type"))
            if kind is not None:
                body = await _read(receive, limit, setting)
                _check_body(kind, body)
                receive = _replay(body, receive)
            else:
                receive = _counted(receive, limit, setting)
        except GardenError as exc:
            await render(Request(scope), exc)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _limit(self, scope: Scope) -> tuple[int, str]:
        path: str = scope["path"]
        if path.rstrip("/") == IMPORTS_PATH and scope["method"] == "POST":
            # The importer counts the file itself (GARDENOS_IMPORT_MAX_BYTES) as it streams it to disk.
            return self.settings.import_max_bytes + ENVELOPE_BYTES, "GARDENOS_IMPORT_MAX_BYTES"
        if is_upload(scope["method"], path):
            # Storage counts the object itself against the bucket's limit as it streams it to disk.
            return (
                self.settings.storage_max_upload_bytes + ENVELOPE_BYTES,
                "GARDENOS_STORAGE_MAX_UPLOAD_BYTES",
            )
        if is_resumable_chunk(scope["method"], path):
            # A chunk goes to the staged upload as it comes; its size is what one PATCH may carry.
            return (
                self.settings.storage_resumable_max_chunk_bytes,
                "GARDENOS_STORAGE_RESUMABLE_MAX_CHUNK_BYTES",
            )
        if path.startswith("/rest/v1/") and _body_kind(_header(scope, b"content-type")) == "csv":
            return self.settings.max_csv_body_bytes, "GARDENOS_MAX_CSV_BODY_BYTES"
        return self.settings.max_body_bytes, "GARDENOS_MAX_BODY_BYTES"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _body_kind(content_type: str | None) -> str | None:
    """Which bodies are read and checked here: JSON (also what comes without a type: FastAPI and
    /rest/v1 read it as JSON), CSV and forms. Others (multipart uploads) are only counted."""
    media = (content_type or "").partition(";")[0].strip().lower()
    if not media or media.endswith(("/json", "+json")):
        return "json"
    if media == "text/csv":
        return "csv"
    if media == "application/x-www-form-urlencoded":
        return "form"
    return None


def _text(data: bytes, where: str) -> None:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"{where} is not UTF-8 (an invalid byte at {exc.start + 1})", hint="send text encoded as UTF-8"
        ) from None
    if (nul := data.find(b"\x00")) >= 0:
        raise BadRequest(
            f"{where} contains a NUL character (\\0, at byte {nul + 1}), which text cannot hold",
            hint="remove the NUL character",
        )


def _check_target(scope: Scope) -> None:
    raw_path = scope.get("raw_path") or str(scope["path"]).encode("utf-8", "surrogateescape")
    _text(unquote_to_bytes(bytes(raw_path)), "the path")
    if query := scope.get("query_string"):
        _text(unquote_to_bytes(bytes(query).replace(b"+", b" ")), "the query string")
    for name, value in scope["headers"]:
        if name in READ_HEADERS:
            _text(bytes(value), f"the {bytes(name).decode('latin-1')} header")
        elif b"\x00" in value:
            raise BadRequest("a header contains a NUL character (\\0)", hint="remove the NUL character")


def _check_body(kind: str, body: bytes) -> None:
    if kind == "form":
        _text(unquote_to_bytes(body.replace(b"+", b" ")), "the form body")
        return
    if kind == "csv":
        _text(body, "the CSV body")
        return
    _text(body, "the JSON body")
    # Each regex only where its cheap literal test (a C scan) found something to look at.
    if b"\\u0000" in body and _NUL_ESCAPE.search(body):
        raise BadRequest(
            "the JSON body contains a NUL character (\\u0000), which text cannot hold",
            hint="remove the NUL character",
        )
    if _depth_exceeds(body, MAX_JSON_DEPTH):
        raise BadRequest(
            f"the JSON body is nested too deeply: at most {MAX_JSON_DEPTH} levels of arrays and objects"
        )
    if (b"\\ud" in body or b"\\uD" in body) and _SURROGATE_ESCAPE.search(body):
        _check_surrogates(body)


def _depth_exceeds(body: bytes, limit: int) -> bool:
    """Whether arrays and objects nest deeper than `limit`, without decoding: strings removed first
    (brackets inside them are text), then the running count of brackets (C loops: ~20 µs per KiB)."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


def _check_surrogates(body: bytes) -> None:
    """A `\\ud800`-style escape that is not half of a pair decodes to text that cannot be encoded as
    UTF-8 (nor stored). Rare: only bodies with such escapes are decoded here to look."""
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        return  # not JSON: the route says so
    for text in _strings(decoded):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise BadRequest(
                "the JSON body contains a lone surrogate (\\ud800-\\udfff not part of a pair), "
                "which is not a character",
                hint="send valid UTF-16 surrogate pairs, or the character itself",
            ) from None


def _strings(value: Any) -> Iterable[str]:
    """Every string in a decoded JSON value, keys included (depth is bounded before this runs)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


# How to send less, where it is not splitting a bulk insert into pages.
_SEND_LESS = {
    "GARDENOS_STORAGE_RESUMABLE_MAX_CHUNK_BYTES": "send smaller chunks (the TUS client's chunkSize: 6 MB)",
}


def _too_large(limit: int, setting: str) -> PayloadTooLarge:
    send_less = _SEND_LESS.get(setting, "send less per request (split a bulk insert into pages)")
    return PayloadTooLarge(
        f"the request body is too large: this route takes at most {limit:,} bytes",
        hint=f"{send_less}, or raise {setting}",
    )


async def _read(receive: Receive, limit: int, setting: str) -> bytes:
    """The whole body, refused as soon as it passes `limit` (nothing past it is held)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break  # the client left; the route finds out when it reads
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit, setting)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body read here, handed to the route as one message; then the connection's own messages
    (a disconnect) as they come."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _counted(receive: Receive, limit: int, setting: str) -> Receive:
    """The body passed through as it comes, counted: past `limit` the route's read raises 413."""
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise _too_large(limit, setting)
        return message

    return counted
