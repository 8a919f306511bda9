"""The imports an API process runs: each in a thread of its own, on connections of its own, owned by the
app rather than by the request that queued it, so that stopping the server stops them within seconds
instead of waiting for them to end (uvicorn waits for a request's background work, however long)."""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gardenos.db.connect import connect
from gardenos.errors import GardenError
from gardenos.importer.service import Importer, ImportOptions

log = logging.getLogger(__name__)


@dataclass
class _Job:
    conninfo: str
    claims: dict[str, Any]
    import_id: uuid.UUID
    path: Path
    options: ImportOptions
    max_bytes: int
    statement_timeout_s: float
    stopping: threading.Event = field(default_factory=threading.Event)
    importer: Importer | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> None:
        """In its thread: the import to its end, or to the process's stop. Its upload goes either way (an
        interrupted import is taken over by uploading the file again)."""
        try:
            with connect(self.conninfo) as conn, connect(self.conninfo) as progress:
                importer = Importer(
                    conn, self.claims, progress_conn=progress, statement_timeout_s=self.statement_timeout_s
                )
                with self.lock:
                    if self.stopping.is_set():
                        return  # stopped before it began: the reaper records it as interrupted
                    self.importer = importer
                importer.run(self.import_id, self.path, self.options, max_bytes=self.max_bytes)
        except GardenError:
            pass  # recorded on the import as its error
        except Exception:
            log.exception("import %s failed", self.import_id)
        finally:
            self.path.unlink(missing_ok=True)

    def interrupt(self) -> None:
        with self.lock:
            self.stopping.set()
            importer = self.importer
        if importer is not None:
            importer.interrupt()


class ImportRunner:
    def __init__(self) -> None:
        self._jobs: dict[asyncio.Task[None], _Job] = {}

    def start(
        self,
        conninfo: str,
        claims: dict[str, Any],
        import_id: uuid.UUID,
        path: Path,
        options: ImportOptions,
        max_bytes: int,
        statement_timeout_s: float,
    ) -> None:
        job = _Job(conninfo, claims, import_id, path, options, max_bytes, statement_timeout_s)
        task = asyncio.create_task(asyncio.to_thread(job.run), name=f"import-{import_id}")
        self._jobs[task] = job
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        job = self._jobs.pop(task, None)
        if task.cancelled():
            # Cancelled without `stop` (a forced quit: uvicorn skips the app's shutdown, and asyncio
            # cancels what is left): the thread would still run the import to its end, and the
            # interpreter wait for it.
            if job is not None:
                job.interrupt()
        elif task.exception() is not None:
            log.error("import task %s ended with %r", task.get_name(), task.exception())

    async def stop(self, timeout_s: float = 15) -> None:
        """Interrupt every running import and wait for their threads (the cancelled statements return
        at once; the reading stops within a chunk)."""
        jobs = dict(self._jobs)
        if not jobs:
            return
        log.info("stopping %d running import(s); upload the same files again to resume them", len(jobs))
        await asyncio.gather(*(asyncio.to_thread(job.interrupt) for job in jobs.values()))
        _done, pending = await asyncio.wait(jobs, timeout=timeout_s)
        if pending:
            log.warning("%d import(s) did not stop within %.0f s", len(pending), timeout_s)
