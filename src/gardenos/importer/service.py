"""Running an import: read and validate the file a chunk at a time; each chunk is staged with COPY,
matched (new, duplicate, update) and written with its embedding jobs by the writer thread while the next
chunk is read (writer.py), all in one transaction.

Isolation: every statement runs as `authenticated` with the importing member's claims (role and
`request.jwt.claims` set transaction-locally, as for API requests), so row-level security confines the
reads and writes to that member's agency, whoever calls: the API's background task or the CLI, which logs
in as the database owner but switches to the agency owner's claims before touching tenant rows.

Atomicity and resuming: the rows, the error report, the counts and the embedding jobs commit together or
not at all. While an import runs, its process holds a session advisory lock on it. An import left
`running` without that lock lost its process (kill -9, crash, power cut): PostgreSQL rolled its transaction
back, so it is marked failed with nothing kept, and importing the same file again takes that import over
and runs it from the start. Nothing is ever half-imported or imported twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from gardenos.crm.contacts.rules import DuplicateRule, parse_rule, stored_rule
from gardenos.db.pool import scope
from gardenos.errors import Conflict, GardenError, NotFound
from gardenos.importer import sql
from gardenos.importer.mapping import CUSTOM_PREFIX, MappingFile, resolve
from gardenos.importer.reader import CsvSource
from gardenos.importer.rows import Options, RowBuilder, RowError, RowWarning
from gardenos.importer.writer import ChunkWriter

OnDuplicate = Literal["skip", "update", "merge"]
Phase = Literal["reading", "matching", "writing", "done"]
ProgressCallback = Callable[[Phase, "Counts", int], None]

# Rows the server writes while the next ones are read and checked: large enough that a chunk's fixed
# costs (a dozen statements) do not count, small enough that the last chunk, written alone, is short.
CHUNK_ROWS = 50_000
PROGRESS_ROWS = 5000
PROGRESS_EVERY_S = 1.0
# Day-first dates everywhere but where month-first is the custom.
MONTH_FIRST_REGIONS = frozenset({"US", "CA", "PH", "FM", "MH", "PW", "BZ"})
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
NOT_FOUND = "import not found (or not in your agency)"


class Interrupted(GardenError):
    """The process running the import is stopping."""

    status_code = 503
    code = "GARDEN503"

    def __init__(self) -> None:
        super().__init__(sql.INTERRUPTED)


@dataclass(frozen=True)
class ImportOptions:
    """What an import was asked to do. Left unset, the region and the duplicate rule are the agency's
    (`settings.phone_region`, `settings.duplicate_rule`), then `fallback_region` and matching by email:
    read by the importer, so that the CLI and the API import a file alike."""

    on_duplicate: OnDuplicate = "skip"
    mapping: MappingFile | None = None
    default_region: str | None = None
    dry_run: bool = False
    # A rule's name, several (a list, or separated by commas), or None: the agency's.
    match: DuplicateRule | str | list[str] | None = None
    fallback_region: str = "US"

    def __post_init__(self) -> None:
        if not isinstance(self.match, DuplicateRule | None):
            object.__setattr__(self, "match", parse_rule(self.match))

    @property
    def rule(self) -> DuplicateRule:
        assert isinstance(self.match, DuplicateRule), "resolved by Importer before it runs"
        return self.match

    @property
    def region(self) -> str:
        return (
            (self.mapping.default_region if self.mapping else None)
            or self.default_region
            or self.fallback_region
        )

    @property
    def day_first(self) -> bool:
        chosen = self.mapping.day_first if self.mapping else None
        return chosen if chosen is not None else self.region not in MONTH_FIRST_REGIONS

    def to_json(self) -> dict[str, Any]:
        shown = {"default_region": self.region, "day_first": self.day_first, "dry_run": self.dry_run}
        if isinstance(self.match, DuplicateRule):
            shown["match"] = list(self.match.names)
        return shown


@dataclass
class Counts:
    total: int = 0
    invalid: int = 0
    inserted: int = 0
    updated: int = 0
    duplicate: int = 0
    # Rows imported with a value set aside (a phone kept as written), and new leads listed for review.
    warned: int = 0
    possible_duplicate: int = 0

    @property
    def valid(self) -> int:
        return self.total - self.invalid


@dataclass(frozen=True)
class Outcome:
    import_id: uuid.UUID
    status: str
    counts: Counts
    detected: dict[str, Any] = field(default_factory=dict)
    dry_run: bool = False
    errors_file: Path | None = None


def _write_warnings(errors: Any, warnings: list[RowWarning]) -> None:
    for w in warnings:
        column = w.column.translate(_COPY_ESCAPES) if w.column else "\\N"
        reason, value = w.reason.translate(_COPY_ESCAPES), w.value[:10000].translate(_COPY_ESCAPES)
        errors.write(f"{w.line}\t{column}\t{reason}\t{value}\twarning\n")
    warnings.clear()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Importer:
    """Imports for one member of one agency, over `conn` (a dedicated connection, not autocommit).

    `progress_conn`, when given, is a second connection on which the running counts are committed every
    second, so that others (GET /api/v1/imports/{id}) see them while the import's own transaction runs.
    """

    def __init__(
        self,
        conn: psycopg.Connection,
        claims: dict[str, Any],
        *,
        progress_conn: psycopg.Connection | None = None,
        on_progress: ProgressCallback | None = None,
        errors_dir: Path | None = None,
        statement_timeout_s: float = 0.0,
    ) -> None:
        # Set by `interrupt` (from another thread): the process is stopping.
        self.stopping = threading.Event()
        self.conn = conn
        self.scope = scope("authenticated", claims, statement_timeout_s)
        # The run lock names the agency too (sql.TRY_LOCK); row-level security checks the claim itself.
        meta = claims.get("app_metadata")
        self.agency_id = str(meta.get("agency_id") or "") if isinstance(meta, dict) else ""
        self.progress_conn = progress_conn
        self.on_progress = on_progress or (lambda _phase, _counts, _position: None)
        self.errors_dir = errors_dir

    def interrupt(self) -> None:
        """Stop a running import from another thread, soon: its statement in flight is cancelled and
        the reading stops at the next chunk. Its transaction rolls back, so nothing of it is kept, and it
        is recorded as interrupted, for the same file to take it over."""
        self.stopping.set()
        for conn in (self.conn, self.progress_conn):
            if conn is not None and not conn.closed:
                conn.cancel_safe(timeout=5)

    # --- transactions as the member ------------------------------------------------------------------

    @contextmanager
    def _tx(
        self, conn: psycopg.Connection | None = None, *, rollback: bool = False
    ) -> Iterator[psycopg.Cursor]:
        conn = conn or self.conn
        with conn.transaction(force_rollback=rollback), conn.cursor() as cur:
            cur.execute(sql.SCOPE_AS_IMPORTER, self.scope)
            yield cur

    def reap(self) -> list[uuid.UUID]:
        """Mark the agency's imports whose process is gone as failed (see the module's docstring)."""
        with self._tx() as cur:
            return [row[0] for row in cur.execute(sql.REAP, {"error": sql.INTERRUPTED})]

    def create(
        self,
        *,
        filename: str,
        options: ImportOptions,
        file_size: int,
        file_sha256: str | None,
        file_path: Path | None = None,
    ) -> dict[str, Any]:
        with self._tx() as cur:
            return self._create(cur, filename, options, file_size, file_sha256, file_path)

    def _create(
        self,
        cur: psycopg.Cursor,
        filename: str,
        options: ImportOptions,
        file_size: int,
        sha: str | None,
        file_path: Path | None,
    ) -> dict[str, Any]:
        params = {
            "filename": filename[:255],
            "on_duplicate": options.on_duplicate,
            "mapping": Jsonb(options.mapping.to_json() if options.mapping else {}),
            "options": Jsonb(options.to_json()),
            "file_size": file_size,
            "file_sha256": sha,
            "file_path": str(file_path) if file_path else None,
        }
        row = cur.execute(sql.CREATE_IMPORT, params).fetchone()
        assert row is not None
        assert cur.description is not None
        return dict(zip([c.name for c in cur.description], row, strict=True))

    def resolved(self, cur: psycopg.Cursor, options: ImportOptions) -> ImportOptions:
        """`options` with the agency's region and duplicate rule where the import names none."""
        row = cur.execute(sql.AGENCY_RULES).fetchone()
        region, rule = row if row is not None else (None, None)
        return replace(
            options,
            default_region=options.default_region or region,
            match=options.match if options.match is not None else stored_rule(rule),
        )

    def find_interrupted(self, sha: str) -> uuid.UUID | None:
        """An import of the same file that lost its process, to take over."""
        self.reap()
        with self._tx() as cur:
            row = cur.execute(sql.FIND_INTERRUPTED, (sha, sql.INTERRUPTED)).fetchone()
        return row[0] if row else None

    # --- running -------------------------------------------------------------------------------------

    def import_file(self, path: Path, *, filename: str, options: ImportOptions, max_bytes: int) -> Outcome:
        """The CLI's way in: create (or take over) the import of `path` and run it."""
        size = path.stat().st_size
        if options.dry_run:
            with self._tx(rollback=True) as cur:
                options = self.resolved(cur, options)
                created = self._create(cur, filename, options, size, None, None)
                return self._load(cur, created["id"], path, options, max_bytes)
        sha = file_sha256(path) if size <= max_bytes else None
        import_id = self.find_interrupted(sha) if sha else None
        if import_id is None:
            import_id = self.create(filename=filename, options=options, file_size=size, file_sha256=sha)["id"]
        return self.run(import_id, path, options, max_bytes=max_bytes)

    def run(self, import_id: uuid.UUID, path: Path, options: ImportOptions, *, max_bytes: int) -> Outcome:
        """Run a created import to its end: succeeded, or failed with the reason (raised after it is
        recorded)."""
        key = (sql.IMPORT_LOCK, self.agency_id, import_id)
        locked = self.conn.execute(sql.TRY_LOCK, key).fetchone()
        self.conn.commit()
        if not locked or not locked[0]:
            raise Conflict(f"import {import_id} is being run by another process right now")
        try:
            with self._tx() as cur:
                options = self.resolved(cur, options)
                started = cur.execute(
                    sql.START,
                    {
                        "id": import_id,
                        "on_duplicate": options.on_duplicate,
                        "options": Jsonb(options.to_json()),
                    },
                ).fetchone()
            if started is None:
                raise Conflict(f"import {import_id} has already finished; start a new one")
            try:
                with self._tx() as cur:
                    return self._load(cur, import_id, path, options, max_bytes)
            except GardenError as exc:
                self._fail(import_id, exc.message)
                raise
            except Exception as exc:
                if self.stopping.is_set():  # the cancelled statement's error
                    self._fail(import_id, sql.INTERRUPTED)
                    raise Interrupted() from exc
                self._fail(import_id, f"the import failed: {type(exc).__name__}: {exc}"[:2000])
                raise
        finally:
            if not self.conn.closed:
                self.conn.execute(sql.UNLOCK, key)
                self.conn.commit()

    def _fail(self, import_id: uuid.UUID, message: str) -> None:
        if self.conn.closed or self.conn.broken:
            return  # the reaper will mark it
        if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self.conn.rollback()
        with self._tx() as cur:
            cur.execute(sql.FAIL, (message, import_id))

    def _load(
        self, cur: psycopg.Cursor, import_id: uuid.UUID, path: Path, options: ImportOptions, max_bytes: int
    ) -> Outcome:
        source = CsvSource(path, max_bytes=max_bytes)
        columns = resolve(source.sample, options.mapping)
        row_options = Options(
            default_region=options.region, day_first=options.day_first, encoding=source.format.encoding
        )
        builder = RowBuilder(columns, row_options)
        detected: dict[str, Any] = source.format.describe() | {"header": columns.has_header}
        counts = Counts()
        cur.execute(sql.LOCK_AGENCY, (sql.AGENCY_LOCK,))
        # The columns kept in custom_fields become fields of the agency, so the leads can be edited later.
        custom = [t[len(CUSTOM_PREFIX) :] for t in columns.targets if t.startswith(CUSTOM_PREFIX)]
        if custom:
            row = cur.execute(sql.DEFINE_FIELDS, (custom,)).fetchone()
            detected["custom_fields_defined"] = list(row[0]) if row else []
        cur.execute(sql.AUDIT_OFF)
        cur.execute(sql.SUBSCRIPTIONS_OFF)
        cur.execute(sql.WORK_MEM)
        cur.execute(sql.TEMP_BUFFERS)
        cur.execute(sql.STAGE)
        cur.execute(sql.STAGE_ERRORS)
        report = self._error_report(import_id) if self.errors_dir is not None else None
        writer = ChunkWriter(cur, import_id, options.on_duplicate, options.rule)
        with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as errors:
            try:
                self._stage(writer, source, builder, counts, errors, report, import_id)
            finally:
                writer.close()
                if report is not None:
                    report[1].close()
            errors.seek(0)
            with cur.copy(sql.COPY_ERRORS) as copy:
                while chunk := errors.read(1 << 20):
                    copy.write(chunk)
        cur.execute(sql.SAVE_ERRORS, (import_id,))
        counts.inserted = writer.written.inserted
        counts.updated = writer.written.updated
        counts.duplicate = writer.written.duplicate
        counts.possible_duplicate = writer.written.possible_duplicate
        summary = asdict(counts) | {"import_id": str(import_id), "file": str(path.name)}
        cur.execute(sql.AUDIT, (import_id, Jsonb(summary)))
        cur.execute(
            sql.FINISH,
            {
                "id": import_id,
                "detected": Jsonb(detected),
                "mapping": Jsonb(columns.describe()),
                "total": counts.total,
                "inserted": counts.inserted,
                "updated": counts.updated,
                "invalid": counts.invalid,
                "duplicate": counts.duplicate,
                "warned": counts.warned,
                "possible_duplicate": counts.possible_duplicate,
            },
        )
        self.on_progress("done", counts, source.size)
        errors_file = report[0] if report is not None and counts.invalid else None
        if report is not None and not counts.invalid:
            report[0].unlink(missing_ok=True)
        return Outcome(import_id, "succeeded", counts, detected, options.dry_run, errors_file)

    def _error_report(self, import_id: uuid.UUID) -> tuple[Path, io.TextIOWrapper]:
        assert self.errors_dir is not None
        self.errors_dir.mkdir(parents=True, exist_ok=True)
        report_path = self.errors_dir / f"{import_id}-errors.csv"
        handle = report_path.open("w", encoding="utf-8", newline="")
        csv.writer(handle).writerow(["line", "column", "reason", "row"])
        return report_path, handle

    def _stage(
        self,
        writer: ChunkWriter,
        source: CsvSource,
        builder: RowBuilder,
        counts: Counts,
        errors: Any,
        report: tuple[Path, io.TextIOWrapper] | None,
        import_id: uuid.UUID,
    ) -> None:
        """Stream the file through validation to the writer, a chunk at a time; invalid rows go to
        `errors`. The writer writes chunk N while this reads and checks chunk N+1."""
        report_writer = csv.writer(report[1]) if report is not None else None
        raw = io.StringIO()
        raw_writer = csv.writer(raw, delimiter=source.format.delimiter, lineterminator="")
        build = builder.build
        last_progress = time.monotonic()
        chunk: list[str] = []
        records = source.records()
        if builder.columns.has_header:
            next(records, None)
        warnings = builder.warnings
        for line, cells in records:
            try:
                staged = build(line, cells)
            except RowError as exc:
                warnings.clear()  # the row is refused: a warning about a value of it does not count
                counts.total += 1
                counts.invalid += 1
                raw.seek(0)
                raw.truncate()
                raw_writer.writerow(cells)
                text = raw.getvalue().encode("utf-8", "replace").decode("utf-8")[:10000]
                column = exc.column or ""
                shown = column.translate(_COPY_ESCAPES) if column else "\\N"
                reason, row = exc.reason.translate(_COPY_ESCAPES), text.translate(_COPY_ESCAPES)
                errors.write(f"{line}\t{shown}\t{reason}\t{row}\terror\n")
                if report_writer is not None:
                    report_writer.writerow([line, column, exc.reason, text])
                continue
            if warnings:
                counts.warned += 1
                _write_warnings(errors, warnings)
            if staged is None:
                continue
            counts.total += 1
            chunk.append(staged)
            if len(chunk) % PROGRESS_ROWS == 0:
                if self.stopping.is_set():
                    raise Interrupted()
                if len(chunk) >= CHUNK_ROWS:
                    writer.submit("".join(chunk))
                    chunk.clear()
                self.on_progress("reading", counts, source.position())
                now = time.monotonic()
                if now - last_progress >= PROGRESS_EVERY_S:
                    last_progress = now
                    self._publish(import_id, counts)
        if chunk:
            writer.submit("".join(chunk))
        self.on_progress("writing", counts, source.size)
        writer.wait()

    def _publish(self, import_id: uuid.UUID, counts: Counts) -> None:
        if self.progress_conn is None:
            return
        with self._tx(self.progress_conn) as cur:
            cur.execute(sql.PROGRESS, (counts.total, counts.invalid, import_id))

    # --- reading and reverting -----------------------------------------------------------------------

    def get(self, import_id: uuid.UUID) -> dict[str, Any]:
        with self._tx() as cur:
            cur.row_factory = dict_row  # type: ignore[assignment]
            row = cur.execute(sql.GET_IMPORT, (import_id,)).fetchone()
        if row is None:
            raise NotFound(NOT_FOUND)
        return dict(row)
