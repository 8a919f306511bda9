"""The server's half of an import: each chunk of checked rows is staged with COPY, matched against the
agency's leads and clients and against the file's earlier rows, and written with its embedding jobs.

A chunk is written in a thread of its own while the importer reads and checks the next one: the reading
is Python's work, the writing PostgreSQL's, so each has a core. Both happen in the import's one
transaction; the connection is used by this thread alone until the last chunk is written.
"""

from __future__ import annotations

import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import psycopg

from gardenos.crm.contacts.rules import DuplicateRule
from gardenos.importer import sql
from gardenos.importer.rows import STAGE_COLUMNS


@dataclass
class Written:
    """What became of the rows written so far."""

    inserted: int = 0
    updated: int = 0
    duplicate: int = 0
    possible_duplicate: int = 0


class ChunkWriter:
    """Writes chunks in order, one at a time, on `cur` (whose transaction is the member's, with the
    import's settings and temp tables in place)."""

    def __init__(
        self, cur: psycopg.Cursor, import_id: uuid.UUID, on_duplicate: str, rule: DuplicateRule
    ) -> None:
        self.cur = cur
        self.import_id = import_id
        self.on_duplicate = on_duplicate
        self.rule = rule
        self.plan = sql.PLANS[on_duplicate != "skip", rule.by_name_and_company]
        self.written = Written()
        self.chunks = 0
        row = cur.execute(sql.AGENCY).fetchone()
        # Given once rather than as the column's default, which reads the JWT claims again for every row.
        self.agency: uuid.UUID | None = row[0] if row else None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer")
        self._pending: Future[None] | None = None

    def submit(self, text: str) -> None:
        """Hand a chunk (COPY text) over: waits for the previous chunk first, so at most one is in the
        server's hands and one in the reader's."""
        self.wait()
        self._pending = self._pool.submit(self._write, text)

    def wait(self) -> None:
        """Wait for the chunk being written; its error, if any, is raised here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Let the chunk being written end (the connection is free afterwards); its error is dropped, as
        whatever closes the writer early is raising its own."""
        try:
            self.wait()
        except Exception:  # noqa: S110 (the caller is already failing with the first error)
            pass
        finally:
            self._pool.shutdown(wait=True)

    def _write(self, text: str) -> None:
        cur = self.cur
        if self.chunks:
            cur.execute(sql.NEXT_CHUNK)
        with cur.copy(sql.COPY_STAGE.format(columns=STAGE_COLUMNS)) as copy:
            copy.write(text)
        cur.execute(
            self.plan, {"policy": self.on_duplicate, "import_id": self.import_id} | self.rule.params()
        )
        cur.execute(sql.REMEMBER_KEYS)
        inserted, updated, duplicate = cur.execute(sql.COUNT_PLAN).fetchone() or (0, 0, 0)
        if updated:
            cur.execute(sql.ANALYZE_PLAN)
            cur.execute(sql.CLAIM_UPDATED)
            # Changes to existing leads keep their row-by-row audit trail; new leads get one entry.
            cur.execute(sql.AUDIT_ON)
            cur.execute(sql.UPDATE_LEADS if self.on_duplicate == "update" else sql.MERGE_LEADS)
            cur.execute(sql.AUDIT_OFF)
        if inserted:
            cur.execute(sql.INSERT_LEADS, {"agency": self.agency, "import_id": self.import_id})
        if updated:
            cur.execute(sql.EMBED_UPDATED, {"key": f"import:{self.import_id}:updated:{self.chunks}:"})
        if inserted:
            cur.execute(sql.POSSIBLE, {"agency": self.agency, "import_id": self.import_id})
            self.written.possible_duplicate += cur.rowcount
        self.chunks += 1
        self.written.inserted += inserted
        self.written.updated += updated
        self.written.duplicate += duplicate
