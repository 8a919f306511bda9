"""An upload's body streamed into a backend writer: a raw body, or multipart/form-data with the object in
a `file` part (what storage3 and storage-js send) beside `cacheControl` and `metadata` fields. Never held
whole: each request chunk goes to the writer as it comes, counted against the size limit, after the
content type was checked against the bucket's allowed types."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from python_multipart.exceptions import ParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from gardenos.storage.backend import Writer
from gardenos.storage.errors import EntityTooLarge, StorageError

MAX_FIELD_BYTES = 64 * 1024
DEFAULT_TYPE = "application/octet-stream"


@dataclass
class Received:
    size: int = 0
    md5: str = ""
    content_type: str = DEFAULT_TYPE
    cache_control: str | None = None
    user_metadata: dict[str, Any] = field(default_factory=dict)


class _Limits:
    def __init__(self, max_bytes: int, check_type: Callable[[str], None]) -> None:
        self.max_bytes = max_bytes
        self.check_type = check_type
        self.received = Received()
        self.digest = hashlib.md5(usedforsecurity=False)

    def count(self, chunk: bytes) -> None:
        self.received.size += len(chunk)
        if self.received.size > self.max_bytes:
            raise EntityTooLarge("The object exceeded the maximum allowed size")
        self.digest.update(chunk)


async def receive(
    content_type: str | None,
    body: AsyncIterator[bytes],
    writer: Writer,
    max_bytes: int,
    check_type: Callable[[str], None],
    metadata_header: str | None,
    cache_control_header: str | None,
) -> Received:
    """Stream the body into `writer` (not committed here). The caller aborts the writer on error."""
    limits = _Limits(max_bytes, check_type)
    kind, params = parse_options_header(content_type or "")
    if kind == b"multipart/form-data" and params.get(b"boundary"):
        await _multipart(params[b"boundary"], body, writer, limits)
    else:
        limits.received.content_type = (content_type or DEFAULT_TYPE).strip() or DEFAULT_TYPE
        check_type(limits.received.content_type)
        async for chunk in body:
            limits.count(chunk)
            await writer.write(chunk)
        limits.received.cache_control = cache_control_header
        if metadata_header:
            limits.received.user_metadata = _metadata(_b64_or_json(metadata_header))
    limits.received.md5 = limits.digest.hexdigest()
    return limits.received


class _Sink:
    """python-multipart's callbacks, which are synchronous: file bytes wait in `pending` until the
    request chunk that carried them is parsed, then go to the writer (a chunk's worth at most)."""

    def __init__(self, limits: _Limits) -> None:
        self.limits = limits
        self.pending: list[bytes] = []
        self.headers: dict[bytes, bytes] = {}
        self.header_field = b""
        self.header_value = b""
        self.name = ""
        self.in_file = False
        self.files = 0
        self.fields: dict[str, io.BytesIO] = {}
        self.ended = False

    def on_part_begin(self) -> None:
        self.headers, self.name, self.in_file = {}, "", False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.headers[self.header_field.lower()] = self.header_value
        self.header_field = self.header_value = b""

    def on_headers_finished(self) -> None:
        _, params = parse_options_header(self.headers.get(b"content-disposition", b""))
        self.name = params.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" in params or self.name == "":
            self.files += 1
            if self.files > 1:
                raise StorageError("send one file per upload")
            self.in_file = True
            kind = self.headers.get(b"content-type", b"").decode("latin-1").strip() or DEFAULT_TYPE
            self.limits.received.content_type = kind
            self.limits.check_type(kind)
        else:
            self.fields[self.name] = io.BytesIO()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.in_file:
            self.limits.count(chunk)
            self.pending.append(chunk)
        elif (buffer := self.fields.get(self.name)) is not None:
            if buffer.tell() + len(chunk) > MAX_FIELD_BYTES:
                raise StorageError(f"the form field {self.name!r} is over {MAX_FIELD_BYTES // 1024} KB")
            buffer.write(chunk)

    def on_part_end(self) -> None:
        pass

    def on_end(self) -> None:
        self.ended = True


async def _multipart(boundary: bytes, body: AsyncIterator[bytes], writer: Writer, limits: _Limits) -> None:
    sink = _Sink(limits)
    callbacks = {name: getattr(sink, name) for name in dir(sink) if name.startswith("on_")}
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in body:
            parser.write(chunk)
            for piece in sink.pending:
                await writer.write(piece)
            sink.pending.clear()
        parser.finalize()
    except ParseError as exc:
        # Only the parser's own errors are the body's fault; the disk's (OSError) are the server's.
        raise StorageError(f"the multipart body could not be read: {exc}") from exc
    if not sink.ended:
        raise StorageError("the upload ended before the multipart body's closing boundary; send it again")
    if sink.files == 0:
        raise StorageError("the form has no file: send the object in a part with a filename")
    fields = {name: buffer.getvalue().decode("utf-8", "replace") for name, buffer in sink.fields.items()}
    limits.received.cache_control = fields.get("cacheControl")
    if "metadata" in fields:
        limits.received.user_metadata = _metadata(fields["metadata"])


def _b64_or_json(value: str) -> str:
    # storage-js sends `x-metadata` base64-encoded JSON with raw bodies.
    try:
        return base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return value


def _metadata(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise StorageError("metadata must be a JSON object") from None
    if not isinstance(value, dict):
        raise StorageError("metadata must be a JSON object")
    return value
