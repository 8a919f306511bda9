"""`/rest/v1/{table}`: PostgREST's reads and writes, each request one transaction under the caller's role
and claims, so RLS decides every row."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from gardenos.api.deps import DatabaseDep
from gardenos.auth.principal import Principal, PrincipalDep
from gardenos.crm.common import InvalidField
from gardenos.crm.contacts.service import CONTACT_KINDS, direct_values
from gardenos.db.pool import Database
from gardenos.rest import schema
from gardenos.rest.ast import ReadRequest
from gardenos.rest.bodies import json_body, rows_body
from gardenos.rest.build import RestError, build_read
from gardenos.rest.execute import explain, in_transaction, read_rows, run_statement
from gardenos.rest.grammar import parse_columns, parse_filters, parse_on_conflict, parse_read, parse_select
from gardenos.rest.plan import PlanRequest, plan_request
from gardenos.rest.prefer import Prefer, parse_prefer
from gardenos.rest.rpc import build_call, split_query
from gardenos.rest.write import BuiltWrite, build_delete, build_insert, build_update

router = APIRouter(prefix="/rest/v1", tags=["rest"])

SINGULAR = "application/vnd.pgrst.object+json"
RANGE = re.compile(r"^\s*(\d+)-(\d*)\s*$")
# A request for a table the cache does not know reloads it, at most this often.
RELOAD_INTERVAL_S = 1.0


class SchemaCacheHolder:
    """The current schema cache, loaded on first use and reloaded on demand."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._cache: schema.SchemaCache | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> schema.SchemaCache:
        if self._cache is None:
            await self.reload()
        assert self._cache is not None
        return self._cache

    async def reload(self, *, if_older_than: float = 0.0) -> schema.SchemaCache:
        async with self._lock:
            if self._cache is None or time.monotonic() - self._loaded_at >= if_older_than:
                async with self.database.transaction("service_role") as conn:
                    self._cache = await schema.load(conn)
                self._loaded_at = time.monotonic()
        assert self._cache is not None
        return self._cache

    async def on_notify(self, payload: str) -> None:
        if payload in ("", "reload schema"):
            await self.reload()

    async def on_reconnect(self) -> None:
        # Notifications sent while the listener was away are lost: reload to be safe.
        await self.reload()

    async def for_function(self, name: str) -> schema.SchemaCache:
        cache = await self.get()
        if name not in cache.functions:
            # A function created since the last load: look again before saying 404.
            cache = await self.reload(if_older_than=RELOAD_INTERVAL_S)
        return cache

    async def for_table(self, name: str) -> schema.SchemaCache:
        cache = await self.get()
        if name not in cache.tables:
            # A table created by a migration since the last load: look again before saying 404.
            cache = await self.reload(if_older_than=RELOAD_INTERVAL_S)
        return cache


async def get_schema(request: Request) -> SchemaCacheHolder:
    holder: SchemaCacheHolder = request.app.state.rest_schema
    return holder


SchemaDep = Annotated[SchemaCacheHolder, Depends(get_schema)]


def _query_pairs(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _prefer(request: Request) -> Prefer:
    return parse_prefer(request.headers.getlist("prefer"))


def _apply_range(request: Request, read: ReadRequest) -> ReadRequest:
    """`Range: 0-24` (items) narrows limit/offset, as the `range()` of Supabase clients sends it."""
    header = request.headers.get("range")
    if not header:
        return read
    unit = request.headers.get("range-unit", "items")
    match = RANGE.match(header)
    if unit != "items" or not match:
        raise RestError("PGRST103", 416, "Requested range not satisfiable", details=f"Range: {header}")
    first = int(match[1])
    last = int(match[2]) if match[2] else None
    if last is not None and last < first:
        raise RestError("PGRST103", 416, "Requested range not satisfiable", details=f"Range: {header}")
    limit = None if last is None else last - first + 1
    if read.limit is not None:
        limit = read.limit if limit is None else min(limit, read.limit)
    return ReadRequest(
        select=read.select,
        where=read.where,
        order=read.order,
        limit=limit,
        offset=first + read.offset,
        embed_limits=read.embed_limits,
        embed_offsets=read.embed_offsets,
        embed_order=read.embed_order,
    )


def capped(read: ReadRequest, max_rows: int) -> ReadRequest:
    """At most `max_rows` rows (GARDENOS_REST_MAX_ROWS, PostgREST's db-max-rows): a smaller limit stands,
    a larger one or none is cut to it, and the Content-Range of the answer tells the client where to
    page on."""
    if read.limit is not None and read.limit <= max_rows:
        return read
    return replace(read, limit=max_rows)


def _content_range(offset: int, returned: int, total: int | None) -> str:
    total_text = "*" if total is None else str(total)
    if returned == 0:
        return f"*/{total_text}"
    return f"{offset}-{offset + returned - 1}/{total_text}"


def _body(request: Request, body: str, returned: int) -> Response:
    accept = request.headers.get("accept", "")
    if SINGULAR in accept:
        if returned != 1:
            raise RestError(
                "PGRST116",
                406,
                "JSON object requested, multiple (or no) rows returned",
                details=f"The result contains {returned} rows",
            )
        return Response(json.dumps(json.loads(body)[0]), media_type=SINGULAR)
    if "text/csv" in accept:
        return Response(_csv(json.loads(body)), media_type="text/csv")
    return Response(body, media_type="application/json")


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()})
    return out.getvalue()


def _plan(request: Request) -> PlanRequest | None:
    enabled: bool = request.app.state.settings.rest_plan_enabled
    return plan_request(request.headers.get("accept", ""), enabled=enabled)


async def _explain(
    request: Request, principal: Principal, db: Database, plan: PlanRequest, statement: Any, params: Any
) -> Response:
    body = await explain(
        principal,
        db,
        plan,
        statement,
        params,
        read_only=request.method in ("GET", "HEAD"),
        rollback=_prefer(request).rollback,
    )
    return Response(b"" if request.method == "HEAD" else body, media_type=f"{plan.media_type}; charset=utf-8")


def _read_response(
    request: Request, prefer: Prefer, body: str | None, returned: int, offset: int, total: int | None
) -> Response:
    """A read's answer (a table's, or a function's rows): 206 when a known total is not all here, and for
    HEAD the same status and headers without the body."""
    if body is None:
        # HEAD: the type the GET would answer with (as PostgREST), and no body.
        singular = SINGULAR in request.headers.get("accept", "")
        response = Response(media_type=SINGULAR if singular else "application/json")
    else:
        response = _body(request, body, returned)
    response.headers["Content-Range"] = _content_range(offset, returned, total)
    if total is not None and returned < total:
        response.status_code = 206  # as PostgREST: a known total that this answer does not cover
    if prefer.applied:
        response.headers["Preference-Applied"] = ", ".join(prefer.applied)
    return response


def _read_request(request: Request, pairs: list[tuple[str, str]]) -> ReadRequest:
    max_rows: int = request.app.state.settings.rest_max_rows
    return capped(_apply_range(request, parse_read(pairs)), max_rows)


async def _call(
    name: str,
    args: dict[str, Any],
    read_pairs: list[tuple[str, str]],
    request: Request,
    principal: Principal,
    db: Database,
    holder: SchemaCacheHolder,
) -> Response:
    cache = await holder.for_function(name)
    head = request.method == "HEAD"
    read_only = request.method in ("GET", "HEAD")
    prefer = _prefer(request)
    parsed = _read_request(request, read_pairs)
    built = build_call(
        cache,
        name,
        args,
        parsed,
        max_rows=request.app.state.settings.rest_max_rows,
        headers_only=head,
        # Counted by the call itself: a second call for the count would run the function twice.
        with_total=prefer.count in ("exact", "estimated"),
    )
    if (plan := _plan(request)) is not None:
        return await _explain(request, principal, db, plan, built.statement, built.params)
    if built.read is not None:
        body, returned, total = await read_rows(principal, db, built.read, prefer, read_only=read_only)
        return _read_response(request, prefer, body, returned, parsed.offset, total)
    body, returned = await run_statement(
        principal, db, built.statement, built.params, read_only=read_only, rollback=prefer.rollback
    )
    if built.function.return_type == "void":
        # PostgREST (since v11): a function returning void answers 204 with no body and no Content-Type.
        return Response(status_code=204)
    if not built.returns_rows:
        return Response(b"" if head else body, media_type="application/json")
    return _read_response(request, prefer, None if head else body, returned, 0, None)


@router.post("/rpc/{name}")
async def call_post(
    name: str, request: Request, principal: PrincipalDep, db: DatabaseDep, holder: SchemaDep
) -> Response:
    """Named arguments in the JSON body; the query string shapes a result of rows as a table read."""
    payload = await json_body(request)
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise RestError("PGRST102", 400, "the body of an RPC call must be a JSON object of named arguments")
    return await _call(name, payload, _query_pairs(request), request, principal, db, holder)


@router.get("/rpc/{name}")
@router.head("/rpc/{name}")
async def call_get(
    name: str, request: Request, principal: PrincipalDep, db: DatabaseDep, holder: SchemaDep
) -> Response:
    """Arguments in the query string beside select/filters/order (see `rpc.split_query`), in a read-only
    transaction."""
    args, read_pairs = split_query(await holder.for_function(name), name, _query_pairs(request))
    return await _call(name, args, read_pairs, request, principal, db, holder)


@router.get("/{table}")
@router.head("/{table}")
async def read(
    table: str, request: Request, principal: PrincipalDep, db: DatabaseDep, holder: SchemaDep
) -> Response:
    prefer = _prefer(request)
    parsed = _read_request(request, _query_pairs(request))
    agency = (
        str(principal.agency_id)
        if principal.agency_id is not None and not principal.is_service_role
        else None
    )
    built = build_read(
        await holder.for_table(table), table, parsed, agency, headers_only=request.method == "HEAD"
    )
    if (plan := _plan(request)) is not None:
        return await _explain(request, principal, db, plan, built.body, built.params)
    body, returned, total = await read_rows(principal, db, built, prefer, read_only=True)
    return _read_response(request, prefer, body, returned, parsed.offset, total)


def _select_param(request: Request) -> Any:
    text = request.query_params.get("select")
    return parse_select(text) if text else ReadRequest().select


async def _run_write(
    request: Request, principal: Principal, db: Database, built: BuiltWrite, prefer: Prefer, status: int
) -> Response:
    if (plan := _plan(request)) is not None:
        return await _explain(request, principal, db, plan, built.statement, built.params)
    body, returned = await run_statement(
        principal, db, built.statement, built.params, read_only=False, rollback=prefer.rollback
    )
    return _write_response(request, body, returned, prefer, status)


def _write_response(request: Request, body: str, returned: int, prefer: Prefer, status: int) -> Response:
    headers = {"Content-Range": _content_range(0, returned, None) if status != 201 else f"*/{returned}"}
    if prefer.applied:
        headers["Preference-Applied"] = ", ".join(prefer.applied)
    if prefer.return_ == "representation":
        response = _body(request, body, returned)
        response.status_code = status
        response.headers.update(headers)
        return response
    return Response(status_code=204 if status != 201 else 201, headers=headers)


async def _contact_rules(
    request: Request, principal: Principal, db: Database, table: str, rows: list[dict[str, Any]]
) -> None:
    """Leads and clients written here pass the contact core's rules, as at every other door (emails,
    phones in E.164 by the agency's region, custom fields: `crm.contacts.service.direct_values`)."""
    if table not in CONTACT_KINDS:
        return
    region: str = request.app.state.settings.default_phone_region

    async def work(conn: Any) -> None:
        await direct_values(conn, table, rows, region)

    try:
        await in_transaction(principal, db, work, read_only=True, rollback=False)
    except InvalidField as exc:
        if exc.message.startswith("phone"):
            hint = "write the number in international form (+44 20 …), or set the agency's phone region"
        elif exc.message.startswith("custom"):
            hint = "see the agency's field definitions: GET /api/v1/custom-fields"
        else:
            hint = "write the address as name@example.com"
        raise RestError("22023", 400, exc.message, hint=hint) from exc


@router.post("/{table}")
async def insert(
    table: str, request: Request, principal: PrincipalDep, db: DatabaseDep, holder: SchemaDep
) -> Response:
    prefer = _prefer(request)
    rows = await rows_body(request)
    await _contact_rules(request, principal, db, table, rows)
    columns = request.query_params.get("columns")
    on_conflict = request.query_params.get("on_conflict")
    built = build_insert(
        await holder.for_table(table),
        table,
        rows,
        columns=parse_columns(columns) if columns else (),
        select=_select_param(request),
        on_conflict=parse_on_conflict(on_conflict) if on_conflict else (),
        resolution=prefer.resolution,
        body_json=json.dumps(rows),
        missing_default=prefer.missing_default,
    )
    return await _run_write(request, principal, db, built, prefer, 201)


def _require_filters(request: Request, where: tuple[Any, ...], verb: str) -> None:
    allow: bool = request.app.state.settings.rest_allow_unfiltered_writes
    if not where and not allow:
        raise RestError(
            "21000",
            400,
            f"{verb} requires a WHERE clause",
            hint="add a filter (e.g. ?id=eq.…); unfiltered writes are refused unless "
            "GARDENOS_REST_ALLOW_UNFILTERED_WRITES is set",
        )


@router.patch("/{table}")
async def update(
    table: str, request: Request, principal: PrincipalDep, db: DatabaseDep, holder: SchemaDep
) -> Response:
    prefer = _prefer(request)
    payload = await json_body(request)
    if not isinstance(payload, dict):
        raise RestError("PGRST102", 400, "the body of a PATCH must be a JSON object")
    await _contact_rules(request, principal, db, table, [payload])
    where = parse_filters(_query_pairs(request))
    _require_filters(request, where, "UPDATE")
    built = build_update(
        await holder.for_table(table),
        table,
        payload,
        where,
        select=_select_param(request),
        body_json=json.dumps(payload),
    )
    return await _run_write(request, principal, db, built, prefer, 200)


@router.delete("/{table}")
async def delete(
    table: str, request: Request, principal: PrincipalDep, db: DatabaseDep, holder: SchemaDep
) -> Response:
    prefer = _prefer(request)
    where = parse_filters(_query_pairs(request))
    _require_filters(request, where, "DELETE")
    built = build_delete(await holder.for_table(table), table, where, select=_select_param(request))
    return await _run_write(request, principal, db, built, prefer, 200)
