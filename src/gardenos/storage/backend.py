"""Where objects' bytes live, behind one small protocol, and the local-disk backend (S3-compatible
storage's is `s3.py`; `stores.py` picks one from the settings).

Keys are the backend's own, never a client's path: `<agency uuid>/<version hex>` (`new_key`), one per
upload. An upsert writes a new key and the metadata row is switched to it in one statement; the old key
is deleted after that commit. So a reader holds either the old bytes or the new, never a mix, and two
concurrent upserts of one name leave one whole object.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import re
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from gardenos.storage.errors import object_not_found, upload_gone

_KEY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/[0-9a-f]{32}$")
READ_BLOCK = 256 * 1024
# Chunks of a request body are gathered up to this much before one write to disk (a thread hop each).
WRITE_BLOCK = 1 << 20
TMP_DIR = ".tmp"
# Resumable uploads' bytes so far: beside the objects, never under a key a metadata row can name.
UPLOADS_DIR = ".uploads"
# A temporary is created, then locked: one younger than this may be unlocked only because its writer
# has not taken the lock yet.
FRESH_S = 5.0


def new_key(agency_id: uuid.UUID) -> str:
    return f"{agency_id}/{uuid.uuid4().hex}"


def is_key(key: str) -> bool:
    return _KEY.fullmatch(key) is not None


def checked(key: str) -> str:
    """The key, if it is one `new_key` makes: every backend's only way from a key to where bytes are, so
    nothing a client wrote can name a file outside the root or an object outside the prefix."""
    if not _KEY.fullmatch(key):
        raise ValueError(f"not a storage key: {key!r}")
    return key


class Writer(Protocol):
    """An object being written: invisible under its key until `commit`, gone after `abort`."""

    async def write(self, chunk: bytes) -> None: ...
    async def commit(self) -> None: ...
    async def abort(self) -> None: ...


@dataclass(frozen=True)
class Staged:
    """A resumable upload's bytes so far: the first `offset` are durably stored, as the backend's `state`
    says (kept in the upload's row); `key` is where they go when the upload is whole."""

    upload_id: uuid.UUID
    key: str
    offset: int
    state: dict[str, Any]


class Staging(Protocol):
    """Where a resumable upload's bytes wait, outside the objects, until the last one is in."""

    async def append(self, staged: Staged, chunks: AsyncIterator[bytes]) -> tuple[int, dict[str, Any]]:
        """Store `chunks` after the first `staged.offset` bytes (whatever an unfinished earlier call left
        past them is overwritten); the new offset and state, once durable. If this raises, nothing it
        wrote counts: the staged upload is still `staged`."""
        ...

    async def settle(self, before: Staged, after: dict[str, Any]) -> None:
        """After `after` was recorded: drop what `before` held that `after` no longer uses."""
        ...

    async def publish(self, staged: Staged) -> None:
        """The staged bytes become the object under `staged.key` (invisible until a row names it); the
        staging is used up."""
        ...

    async def discard(self, staged: Staged) -> None:
        """Remove every staged byte of the upload (also what unfinished appends left); idempotent."""
        ...


class ObjectStore(Staging, Protocol):
    def where(self) -> str:
        """Where the objects are, for people to read."""
        ...

    def writer(self, key: str) -> Writer: ...
    def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncGenerator[bytes, None]:
        """Bytes `start`..`end` (inclusive, as HTTP ranges) of the object; ObjectNotFound if it is gone."""
        ...

    async def copy(self, source: str, dest: str) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def remove_abandoned(self, idle_s: float, resumable: Collection[str] = ()) -> int:
        """Remove unfinished writes whose process is gone (or that nothing wrote to for `idle_s`); how
        many. Never a write that is still going on in a live process, nor the staging of a resumable
        upload whose key is in `resumable` (it waits, idle, for its next chunk until it expires)."""
        ...

    def keys(self, before: float) -> AsyncGenerator[str, None]:
        """Every stored key last written before `before` (a time.time()), one agency's after another."""
        ...


class DiskStore:
    """Objects as files under `root`: `<root>/<agency>/<vv>/<version>`. A file is written beside them in
    `<root>/.tmp`, fsynced, renamed into place and its folder fsynced, so a crash leaves either no file
    or the whole one under the key (a half-written temporary at most, in `.tmp`, which no key names)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        (self.root / TMP_DIR).mkdir(parents=True, exist_ok=True)
        (self.root / UPLOADS_DIR).mkdir(exist_ok=True)

    def where(self) -> str:
        return str(self.root)

    async def remove_abandoned(self, idle_s: float, resumable: Collection[str] = ()) -> int:
        # Resumable uploads stage under UPLOADS_DIR, which this never reads.
        return await asyncio.to_thread(self._remove_abandoned, idle_s)

    def _remove_abandoned(self, idle_s: float) -> int:
        """Temporaries of uploads whose process died (kill -9, power cut): a writer holds a lock on its
        temporary (flock, which the kernel releases with the process), so one we can lock has no
        writer; other API processes sharing the folder keep theirs (on NFS too: Linux maps flock to
        its byte-range locks). `idle_s` is not needed here: a live writer's lock says it is alive."""
        removed = 0
        for part in (self.root / TMP_DIR).glob("*.part"):
            try:
                with part.open("rb") as file:
                    idle = time.time() - os.fstat(file.fileno()).st_mtime
                    try:
                        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        continue  # its writer is alive
                    if idle > FRESH_S:
                        part.unlink()
                        removed += 1
            except FileNotFoundError:
                continue  # committed or aborted meanwhile
        return removed

    async def keys(self, before: float) -> AsyncGenerator[str, None]:
        for agency in await asyncio.to_thread(lambda: sorted(self.root.iterdir())):
            if agency.name in (TMP_DIR, UPLOADS_DIR) or not agency.is_dir():
                continue
            found = await asyncio.to_thread(_files_before, agency, before)
            for key in found:
                yield key

    def path(self, key: str) -> Path:
        agency, version = checked(key).split("/")
        return self.root / agency / version[:2] / version

    def writer(self, key: str) -> DiskWriter:
        return DiskWriter(self.path(key), self.root / TMP_DIR / f"{uuid.uuid4().hex}.part")

    async def read(self, key: str, start: int = 0, end: int | None = None) -> AsyncGenerator[bytes, None]:
        try:
            file = await _in_thread_closing(self.path(key).open, "rb")
        except FileNotFoundError:
            raise object_not_found() from None
        try:
            await asyncio.to_thread(file.seek, start)
            left = None if end is None else end - start + 1
            while left is None or left > 0:
                block = await asyncio.to_thread(
                    file.read, READ_BLOCK if left is None else min(left, READ_BLOCK)
                )
                if not block:
                    break
                if left is not None:
                    left -= len(block)
                yield block
        finally:
            # Not in a thread: this runs when a download is cancelled too (the client hung up), when
            # another await would be cancelled before the file was closed.
            file.close()

    async def copy(self, source: str, dest: str) -> None:
        writer = self.writer(dest)
        try:
            async for block in self.read(source):
                await writer.write(block)
            await writer.commit()
        except BaseException:
            await writer.abort()
            raise

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.path(key).unlink, missing_ok=True)

    # --- resumable uploads: one file per upload in `.uploads`, appended in place -------------------------

    def staged_path(self, upload_id: uuid.UUID) -> Path:
        return self.root / UPLOADS_DIR / f"{upload_id.hex}.part"

    async def append(self, staged: Staged, chunks: AsyncIterator[bytes]) -> tuple[int, dict[str, Any]]:
        file = await _in_thread_closing(_open_staged, self.staged_path(staged.upload_id), staged.offset)
        try:
            size = staged.offset
            pending: list[bytes] = []
            pending_bytes = 0
            async for chunk in chunks:
                pending.append(chunk)
                pending_bytes += len(chunk)
                if pending_bytes >= WRITE_BLOCK:
                    await asyncio.to_thread(file.write, b"".join(pending))
                    size += pending_bytes
                    pending, pending_bytes = [], 0
            await asyncio.to_thread(_write_and_sync, file, b"".join(pending))
            size += pending_bytes
        finally:
            file.close()
        return size, {}

    async def settle(self, before: Staged, after: dict[str, Any]) -> None:
        pass  # appended in place: nothing of before's is left over

    async def publish(self, staged: Staged) -> None:
        # Every append fsynced its bytes; an upload of no bytes has no file yet.
        await asyncio.to_thread(self._publish, self.staged_path(staged.upload_id), staged)

    def _publish(self, source: Path, staged: Staged) -> None:
        final = self.path(staged.key)
        final.parent.mkdir(parents=True, exist_ok=True)
        if staged.offset == 0:
            source.touch()
        elif not source.exists() or source.stat().st_size < staged.offset:
            raise upload_gone()
        os.replace(source, final)
        _fsync_dir(final.parent)

    async def discard(self, staged: Staged) -> None:
        await asyncio.to_thread(self.staged_path(staged.upload_id).unlink, missing_ok=True)


class DiskWriter:
    def __init__(self, final: Path, tmp: Path) -> None:
        self.final = final
        self.tmp = tmp
        self.file: BinaryIO | None = None
        self.pending: list[bytes] = []
        self.pending_bytes = 0

    async def write(self, chunk: bytes) -> None:
        self.pending.append(chunk)
        self.pending_bytes += len(chunk)
        if self.pending_bytes >= WRITE_BLOCK:
            await self._flush()

    async def _flush(self) -> None:
        data, self.pending, self.pending_bytes = b"".join(self.pending), [], 0
        await asyncio.to_thread(self._write, data)

    def _open(self) -> BinaryIO:
        file = self.tmp.open("xb")
        # Held until the file is renamed or removed: the sweeper leaves a locked temporary alone.
        fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        return file

    def _write(self, data: bytes) -> None:
        if self.file is None:
            self.file = self._open()
        self.file.write(data)

    async def commit(self) -> None:
        await self._flush()
        await asyncio.to_thread(self._commit)

    def _commit(self) -> None:
        if self.file is None:
            self.file = self._open()
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        self.final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.tmp, self.final)
        _fsync_dir(self.final.parent)

    async def abort(self) -> None:
        self.pending = []
        await asyncio.to_thread(self._abort)

    def _abort(self) -> None:
        if self.file is not None:
            self.file.close()
        self.tmp.unlink(missing_ok=True)


def _open_staged(path: Path, offset: int) -> BinaryIO:
    """The upload's file, cut to the `offset` bytes its row says are stored (an append that died after
    writing more, before recording it, left bytes that do not count) and positioned after them."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    file = os.fdopen(fd, "r+b")
    if os.fstat(fd).st_size < offset:
        file.close()
        raise upload_gone()
    file.truncate(offset)
    file.seek(offset)
    return file


def _write_and_sync(file: BinaryIO, data: bytes) -> None:
    file.write(data)
    file.flush()
    os.fsync(file.fileno())


def _files_before(agency: Path, before: float) -> list[str]:
    found = []
    for file in agency.glob("*/*"):
        key = f"{agency.name}/{file.name}"
        with contextlib.suppress(FileNotFoundError):
            if is_key(key) and file.stat().st_mtime < before:
                found.append(key)
    return found


async def _in_thread_closing(opener: Callable[..., BinaryIO], *args: Any) -> BinaryIO:
    """`opener(*args)` in a thread. A caller cancelled meanwhile (a client that hung up) gets no file, but
    the thread opens one anyway: that one is closed when it arrives, not left for the collector."""
    opening = asyncio.ensure_future(asyncio.to_thread(opener, *args))
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_close_opened)
        raise


def _close_opened(done: asyncio.Future[BinaryIO]) -> None:
    if not done.cancelled() and done.exception() is None:
        done.result().close()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
