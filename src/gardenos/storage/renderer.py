"""Transformed images for the render routes: from this node's cache when it has them, else made in a worker
thread under bounds a flood of requests or a hostile image cannot pass.

At most `concurrency` transformations run at once (each holding a source of at most `max_source_bytes`
and a decoded image of at most `max_pixels`), so their memory is bounded whatever arrives; a request
that waits for a slot, reads its source and transforms it longer than `timeout_s` gets a 503. A thread
cannot be stopped: its slot is released when its work ends, not when its request gave up, so work
timed out still counts against the bound.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from gardenos.storage.backend import ObjectStore
from gardenos.storage.errors import ImageNotTransformable, TransformUnavailable
from gardenos.storage.image_cache import ImageCache
from gardenos.storage.images import Format, Limits, Rendered, TransformOptions, transform
from gardenos.storage.service import StoredObject

Work = Callable[[bytes, TransformOptions, Format, Limits], Rendered]


@dataclass(frozen=True)
class Result:
    rendered: Rendered
    cached: bool


class ImageRenderer:
    def __init__(
        self,
        store: ObjectStore,
        cache: ImageCache,
        limits: Limits,
        concurrency: int,
        timeout_s: float,
        work: Work = transform,
    ) -> None:
        self.store = store
        self.work = work
        self.cache = cache
        self.limits = limits
        self.timeout_s = timeout_s
        self.slots = asyncio.Semaphore(concurrency)
        self._pending: dict[tuple[str, str], asyncio.Future[Rendered]] = {}
        # Its own threads: transformations never hold the default executor's, which file reads and
        # password hashing need.
        self.executor = concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix="storage-image")

    def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def render(self, obj: StoredObject, options: TransformOptions, output: Format) -> Result:
        digest = options.digest(output)
        found = await asyncio.to_thread(self.cache.get, obj.version, digest)
        if found is not None:
            return Result(Rendered(*found), cached=True)
        if obj.size > self.limits.max_source_bytes:
            raise ImageNotTransformable(
                f"The object is {obj.size:,} bytes: only images up to {self.limits.max_source_bytes:,} bytes "
                "can be transformed (GARDENOS_STORAGE_TRANSFORM_MAX_SOURCE_BYTES)"
            )
        key = (obj.version, digest)
        pending = self._pending.get(key)
        if pending is not None:
            # The same image is being made for another request: wait for it rather than make it again
            # (a new thumbnail on a busy page is asked for by every viewer at once).
            try:
                return Result(await asyncio.shield(pending), cached=False)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request was cancelled
                # The request making it went away first: make it here.
        pending = asyncio.get_running_loop().create_future()
        self._pending[key] = pending
        try:
            rendered = await self._make(obj, options, output)
            await asyncio.to_thread(self.cache.put, obj.version, digest, rendered.subtype, rendered.body)
        except asyncio.CancelledError:
            pending.cancel()
            raise
        except BaseException as exc:
            pending.set_exception(exc)
            pending.exception()  # retrieved: nobody else may be waiting for it
            raise
        else:
            pending.set_result(rendered)
        finally:
            del self._pending[key]
        return Result(rendered, cached=False)

    async def _make(self, obj: StoredObject, options: TransformOptions, output: Format) -> Rendered:
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.slots.acquire()
                work: asyncio.Future[Rendered] | None = None
                try:
                    data = await self._source(obj)
                    work = asyncio.get_running_loop().run_in_executor(
                        self.executor, self.work, data, options, output, self.limits
                    )
                    work.add_done_callback(self._finished)
                finally:
                    if work is None:  # refused before the thread started: the slot is free now
                        self.slots.release()
                # Shielded: a request that times out or hangs up leaves the thread's future alone, so
                # its slot comes back when the thread ends.
                return await asyncio.shield(work)
        except TimeoutError:
            raise TransformUnavailable(
                f"The image could not be transformed within {self.timeout_s:g} s (the server is busy, "
                "or the image is too costly): try again later, or ask for a smaller one"
            ) from None

    def _finished(self, work: asyncio.Future[Rendered]) -> None:
        self.slots.release()
        if not work.cancelled():
            work.exception()  # retrieved: one nobody awaits any more (timed out) is not logged as lost

    async def _source(self, obj: StoredObject) -> bytes:
        """The object's bytes, refused past the limit even when the metadata's size said otherwise."""
        parts: list[bytes] = []
        total = 0
        async with contextlib.aclosing(self.store.read(obj.version)) as chunks:
            async for chunk in chunks:
                total += len(chunk)
                if total > self.limits.max_source_bytes:
                    raise ImageNotTransformable(
                        f"Only images up to {self.limits.max_source_bytes:,} bytes can be transformed"
                    )
                parts.append(chunk)
        return b"".join(parts)
