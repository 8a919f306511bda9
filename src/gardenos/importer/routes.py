"""`/api/v1/imports`: upload a CSV, watch its import, read its rejected rows, revert it."""

from __future__ import annotations

import csv
import io
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from psycopg.types.json import Jsonb

from gardenos.api.deps import DatabaseDep, rate_limited
from gardenos.auth.principal import Principal, PrincipalDep
from gardenos.crm.attachments import service as attachments
from gardenos.crm.attachments.schemas import Attachment
from gardenos.crm.common import ADMIN_ROLES, agency_role, agency_transaction, fetch_one, require_agency
from gardenos.crm.contacts.rules import RULES, parse_rule
from gardenos.crm.normalize import valid_region
from gardenos.db.pool import Conn, Database
from gardenos.errors import BadRequest, Conflict, Forbidden, NotFound
from gardenos.importer import sql
from gardenos.importer.mapping import parse_mapping
from gardenos.importer.runner import ImportRunner
from gardenos.importer.schemas import ImportStatus, PossibleDuplicate, RevertResult
from gardenos.importer.service import NOT_FOUND, ImportOptions
from gardenos.importer.upload import new_upload_path, receive, remove_leftovers, upload_dir
from gardenos.settings import Settings
from gardenos.storage.routes import StorageDep

router = APIRouter(prefix="/api/v1", tags=["imports"])
log = logging.getLogger(__name__)
ERRORS_PAGE_ROWS = 5000


@router.post("/imports", status_code=202, dependencies=[rate_limited("import")])
async def create_import(
    request: Request,
    database: DatabaseDep,
    principal: PrincipalDep,
    on_duplicate: Annotated[Literal["skip", "update", "merge"], Query()] = "skip",
    region: Annotated[str | None, Query(min_length=2, max_length=2)] = None,
    match: Annotated[
        str | None,
        Query(
            description=f"Which fields make a row the same person as a lead or client: {', '.join(RULES)}, "
            "or several separated by commas. Default: the agency's `settings.duplicate_rule`, else email."
        ),
    ] = None,
) -> ImportStatus:
    """Upload a CSV as multipart/form-data (`file`, and optionally `mapping`: a YAML mapping). The import
    runs in the background: poll `GET /api/v1/imports/{id}` until `status` is succeeded or failed. The
    same file as an import that was interrupted (its process stopped) takes that import over."""
    require_agency(principal)
    settings: Settings = request.app.state.settings
    if region is not None and not valid_region(region.upper()):
        raise BadRequest(f"region {region!r} is not a country code (DE, US, …)")
    rule = parse_rule(match)
    path = new_upload_path(settings)
    upload = await receive(
        request.headers.get("content-type"),
        request.headers.get("content-length"),
        request.stream(),
        path,
        settings.import_max_bytes,
    )
    try:
        mapping = parse_mapping(upload.mapping) if upload.mapping else None
        # The request's region, else the agency's own (its settings' phone_region), else the server's; the
        # request's rule, else the agency's: resolved by the importer, as for the CLI.
        options = ImportOptions(
            on_duplicate=on_duplicate,
            mapping=mapping,
            default_region=region.upper() if region else None,
            match=rule,
            fallback_region=settings.default_phone_region.upper(),
        )
        async with agency_transaction(database, principal) as conn:
            params = _create_params(upload, options, path)
            await conn.execute(sql.AS_IMPORTER)
            await conn.execute(sql.REAP, {"error": sql.INTERRUPTED})
            row = await fetch_one(conn, sql.TAKE_OVER, params | {"error": sql.INTERRUPTED})
            if row is None:
                row = await fetch_one(conn, sql.CREATE_IMPORT, params)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    assert row is not None
    if row.get("old_file_path"):
        await remove_leftovers(database, upload_dir(settings), done=[row["old_file_path"]])
    conninfo = database.pool.conninfo
    assert isinstance(conninfo, str)
    runner: ImportRunner = request.app.state.imports
    runner.start(
        conninfo,
        principal.raw_claims,
        row["id"],
        path,
        options,
        settings.import_max_bytes,
        settings.import_statement_timeout_s,
    )
    return ImportStatus.model_validate(row)


def _create_params(upload: Any, options: ImportOptions, path: Path) -> dict[str, Any]:
    return {
        "filename": (upload.filename or "upload.csv")[:255],
        "on_duplicate": options.on_duplicate,
        "mapping": Jsonb(options.mapping.to_json() if options.mapping else {}),
        "options": Jsonb(options.to_json()),
        "file_size": upload.size,
        "file_sha256": upload.sha256,
        "file_path": str(path),
    }


async def _get(conn: Conn, import_id: uuid.UUID) -> dict[str, Any]:
    # An import whose process died shows as failed, not as running forever.
    await conn.execute(sql.AS_IMPORTER)
    await conn.execute(sql.REAP, {"error": sql.INTERRUPTED})
    row = await fetch_one(conn, sql.GET_IMPORT, (import_id,))
    if row is None:
        raise NotFound(NOT_FOUND)
    return dict(row)


@router.get("/imports/{import_id}")
async def get_import(import_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep) -> ImportStatus:
    """Status and counts, updated while the import runs."""
    async with agency_transaction(database, principal) as conn:
        return ImportStatus.model_validate(await _get(conn, import_id))


@router.get("/imports/{import_id}/errors")
async def import_errors(
    import_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep
) -> StreamingResponse:
    """The rejected rows as CSV: line (in the file), column, reason, and the row as it was."""
    async with agency_transaction(database, principal) as conn:
        await _get(conn, import_id)
    return StreamingResponse(
        _error_rows(database, principal, import_id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'},
    )


@router.post("/imports/{import_id}/reports", status_code=201)
async def store_report(
    import_id: uuid.UUID,
    database: DatabaseDep,
    principal: PrincipalDep,
    storage: StorageDep,
    level: Annotated[
        Literal["error", "warning"],
        Query(
            description="`error`: the rejected rows (errors.csv); `warning`: the rows with a value set aside"
        ),
    ] = "error",
) -> Attachment:
    """Keep the import's report with the agency's files: `imports/<id>/errors.csv` (or `warnings.csv`) in
    its private `attachments` bucket, the same CSV as GET …/errors (…/warnings), stored again when asked
    again. Read it with /storage/v1 or supabase-js at the `bucket` and `path` answered."""
    async with agency_transaction(database, principal) as conn:
        await _get(conn, import_id)
    report = (part.encode() async for part in _error_rows(database, principal, import_id, level))
    stored = await attachments.upload(
        storage,
        attachments.caller_scope(principal),
        "imports",
        import_id,
        f"{level}s.csv",
        content_type="text/csv; charset=utf-8",
        content_length=None,
        body=report,
        upsert=True,
    )
    return Attachment.model_validate(stored)


async def _error_rows(
    database: Database, principal: Principal, import_id: uuid.UUID, level: str = "error"
) -> AsyncIterator[str]:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "column", "reason", "row"])
    after = 0
    while True:
        async with agency_transaction(database, principal) as conn:
            cur = await conn.execute(sql.ERRORS_PAGE, (import_id, level, after, ERRORS_PAGE_ROWS))
            rows = await cur.fetchall()
        for row_id, line, column, reason, raw in rows:
            writer.writerow([line, column or "", reason, raw or ""])
            after = row_id
        yield out.getvalue()
        out.seek(0)
        out.truncate()
        if len(rows) < ERRORS_PAGE_ROWS:
            return


@router.get("/imports/{import_id}/warnings")
async def import_warnings(
    import_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep
) -> StreamingResponse:
    """Rows imported with a value set aside (a phone that could not be read, kept in `phone_raw`), as CSV:
    line, column, reason, and the value as it was."""
    async with agency_transaction(database, principal) as conn:
        await _get(conn, import_id)
    return StreamingResponse(
        _error_rows(database, principal, import_id, "warning"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-warnings.csv"'},
    )


@router.get("/imports/{import_id}/possible-duplicates")
async def possible_duplicates(
    import_id: uuid.UUID,
    database: DatabaseDep,
    principal: PrincipalDep,
    after: Annotated[int, Query(ge=0, description="The last `id` of the previous page.")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[PossibleDuplicate]:
    """New leads of this import that share a phone with a lead or client the import's rule did not call
    the same person (a company switchboard, or a person with two addresses): both records, to review and
    merge (POST /api/v1/leads/{id}/merge) or leave."""
    async with agency_transaction(database, principal) as conn:
        await _get(conn, import_id)
        cur = await conn.execute(sql.POSSIBLE_PAGE, (import_id, after, limit))
        cur_rows = await cur.fetchall()
        assert cur.description is not None
        names = [c.name for c in cur.description]
    return [PossibleDuplicate.model_validate(dict(zip(names, r, strict=True))) for r in cur_rows]


@router.post("/imports/{import_id}/revert")
async def revert_import(import_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep) -> RevertResult:
    """Delete the leads this import created (leads converted to clients since stay). Owners, admins and
    whoever ran the import may revert it."""
    async with agency_transaction(database, principal) as conn:
        await conn.execute(sql.AS_IMPORTER)
        row = await fetch_one(conn, sql.LOCK_IMPORT, (import_id,))
        if row is None:
            raise NotFound(NOT_FOUND)
        if agency_role(principal) not in ADMIN_ROLES and row["created_by"] != principal.user_id:
            raise Forbidden("only the agency's owners and admins, or whoever ran the import, can revert it")
        if row["status"] != "succeeded":
            raise Conflict(f"only a succeeded import can be reverted; this one is {row['status']}")
        await conn.execute(sql.AUDIT_OFF)
        deleted = (await conn.execute(sql.REVERT_LEADS, (import_id,))).rowcount
        await conn.execute(sql.CANCEL_EMBEDDINGS, (f"import:{import_id}:%",))
        await conn.execute(sql.MARK_REVERTED, (import_id,))
        await conn.execute(sql.AUDIT, (import_id, Jsonb({"reverted": True, "deleted": deleted})))
    return RevertResult(id=import_id, status="reverted", leads_deleted=deleted)
