"""A multipart upload streamed to disk as it arrives: never held whole in memory, refused as soon as it
passes the size limit."""

from __future__ import annotations

import asyncio
import hashlib
import io
import logging
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import psycopg
from python_multipart.multipart import MultipartParser, parse_options_header

from gardenos.db.pool import Database
from gardenos.errors import BadRequest, GardenError
from gardenos.importer import sql
from gardenos.importer.reader import human_size
from gardenos.settings import Settings

log = logging.getLogger(__name__)
MAX_MAPPING_BYTES = 64 * 1024
# Headers, boundaries and the small fields around the file.
ENVELOPE_BYTES = 1 << 20
UPLOAD_SUFFIX = ".upload"
# An upload no import names is being received (or its process died before recording it): removed only
# once it has not been written to for this long.
UNCLAIMED_AGE_S = 3600


def upload_dir(settings: Settings) -> Path:
    path = settings.import_dir or settings.data_path / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def new_upload_path(settings: Settings) -> Path:
    return upload_dir(settings) / f"{uuid.uuid4()}{UPLOAD_SUFFIX}"


async def remove_leftovers(database: Database, directory: Path, *, done: Iterable[str] = ()) -> list[Path]:
    """Remove the uploads in `directory` that no import will read again: those of imports that ended or
    were taken over (`done`), and of imports whose process died (reaped here, every agency's). An upload
    a pending or running import names is kept whatever else names it: the paths are in rows members can
    edit, so a row only ever keeps a file, and only files of this folder, named as uploads, are removed."""
    try:
        async with database.transaction("service_role") as conn:
            await conn.execute(sql.REAP, {"error": sql.INTERRUPTED})
            cur = await conn.execute(sql.UPLOAD_PATHS)
            rows = await cur.fetchall()
    except (GardenError, psycopg.Error) as exc:
        # Tidying up: the next start or take-over tries again; never a reason to fail a request.
        log.warning("could not look for left-over uploads in %s: %s", directory, exc)
        return []
    in_use = {path for path, used in rows if used}
    ended = ({path for path, used in rows if not used} | set(done)) - in_use
    return await asyncio.to_thread(_remove, directory, in_use, ended)


def _remove(directory: Path, in_use: set[str], ended: set[str]) -> list[Path]:
    removed = []
    for path in directory.glob(f"*{UPLOAD_SUFFIX}"):
        if str(path) in in_use:
            continue
        try:
            unclaimed_for = time.time() - path.stat().st_mtime
        except FileNotFoundError:
            continue
        if str(path) in ended or unclaimed_for > UNCLAIMED_AGE_S:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


class TooLarge(GardenError):
    status_code = 413
    code = "GARDEN413"
    error_code = "request_too_large"


@dataclass
class Upload:
    path: Path
    filename: str | None = None
    size: int = 0
    sha256: str = ""
    mapping: str | None = None
    fields: dict[str, str] = field(default_factory=dict)


class _Sink:
    def __init__(self, path: Path, max_bytes: int) -> None:
        self.upload = Upload(path)
        self.max_bytes = max_bytes
        self.digest = hashlib.sha256()
        self.file: BinaryIO | None = None
        self.buffer: io.BytesIO | None = None
        self.name = ""
        self.header_field = b""
        self.header_value = b""
        self.headers: dict[bytes, bytes] = {}
        # Set when the closing boundary was read: a body without it was cut off on the way.
        self.ended = False

    def on_part_begin(self) -> None:
        self.headers, self.name = {}, ""

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
        if self.name == "file":
            if self.file is not None:
                raise BadRequest("send one file per import (one `file` part)")
            self.upload.filename = params.get(b"filename", b"upload.csv").decode("utf-8", "replace")
            self.file = self.upload.path.open("wb")
        else:
            self.buffer = io.BytesIO()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.name == "file" and self.file is not None:
            self.upload.size += len(chunk)
            if self.upload.size > self.max_bytes:
                raise _too_large(self.max_bytes)
            self.digest.update(chunk)
            self.file.write(chunk)
        elif self.buffer is not None:
            if self.buffer.tell() + len(chunk) > MAX_MAPPING_BYTES:
                raise BadRequest(f"the form field {self.name!r} is over {MAX_MAPPING_BYTES // 1024} KB")
            self.buffer.write(chunk)

    def on_part_end(self) -> None:
        if self.name == "file" and self.file is not None:
            self.file.flush()
        elif self.buffer is not None:
            value = self.buffer.getvalue().decode("utf-8", "replace")
            if self.name == "mapping":
                self.upload.mapping = value
            else:
                self.upload.fields[self.name] = value
            self.buffer = None

    def on_end(self) -> None:
        self.ended = True

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def discard(self) -> None:
        self.close()
        self.upload.path.unlink(missing_ok=True)


def _too_large(max_bytes: int) -> TooLarge:
    return TooLarge(
        f"the upload is larger than the {human_size(max_bytes)} an import takes",
        hint="split the file, or raise GARDENOS_IMPORT_MAX_BYTES",
    )


async def receive(
    content_type: str | None,
    content_length: str | None,
    body: AsyncIterator[bytes],
    dest: Path,
    max_bytes: int,
) -> Upload:
    """Parse a multipart/form-data body with a `file` part (and an optional `mapping` part, YAML)."""
    if (
        content_length is not None
        and content_length.isdigit()
        and int(content_length) > max_bytes + ENVELOPE_BYTES
    ):
        raise _too_large(max_bytes)
    kind, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadRequest(
            "send the CSV as multipart/form-data with the file in a part named `file` "
            "(curl -F file=@leads.csv …)"
        )
    sink = _Sink(dest, max_bytes)
    callbacks = {name: getattr(sink, name) for name in dir(sink) if name.startswith("on_")}
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    try:
        async for chunk in body:
            parser.write(chunk)
        parser.finalize()
    except GardenError:
        sink.discard()
        raise
    except Exception as exc:
        sink.discard()
        raise BadRequest(f"the multipart body could not be read: {exc}") from exc
    sink.close()
    if not sink.ended:
        sink.discard()
        raise BadRequest(
            "the upload ended before the multipart body's closing boundary: it was cut off on the way; "
            "send the file again"
        )
    if sink.upload.filename is None:
        sink.discard()
        raise BadRequest("the form has no `file` part: send the CSV as `file` (curl -F file=@leads.csv …)")
    sink.upload.sha256 = sink.digest.hexdigest()
    return sink.upload
