"""`/rest/v1/{table}`: PostgREST's reads and writes, each request one transaction under the caller's role
and claims, so RLS decides every row."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Annotated, Any, TypeVar

import psycopg
from fastapi import APIRouter, Depends, Request, Response
from psycopg import sql

from gardenos.api.deps import DatabaseDep
from gardenos.auth.principal import Principal, PrincipalDep
from gardenos.db.pool import Database, Statement
from gardenos.rest import schema
from gardenos.rest.ast import ReadRequest
from gardenos.rest.build import BuiltRead, RestError, build_read
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
# count=estimated counts exactly below this planned count, as PostgREST does below its max-rows.
ESTIMATE_EXACT_BELOW = 1_000_000
# GET and HEAD run read-only, as in PostgREST: a view or function that writes is refused (405, 25006).
# set_config rather than SET, so it is a statement with a row, like the others of a pipelined read.
READ_ONLY = "SELECT set_config('transaction_read_only', 'on', true)"

_T = TypeVar("_T")


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


async def _count(conn: Any, built: BuiltRead, prefer: Prefer) -> int:
    """count=planned|estimated (an exact count goes with the read, see `read`)."""
    count, params = built.count()
    # Planned from the caller's own agency's statistics (see build._agency_condition); exact when small.
    # A parallel plan's scan estimates one worker's share: plan it serially.
    await conn.execute("SET LOCAL max_parallel_workers_per_gather = 0")
    explain = sql.SQL("EXPLAIN (FORMAT JSON) {}").format(count)
    row = await (await conn.execute(explain, params)).fetchone()
    planned = planned_rows(row[0][0]["Plan"])
    await conn.execute("RESET max_parallel_workers_per_gather")
    if prefer.count == "estimated" and planned < ESTIMATE_EXACT_BELOW:
        row = await (await conn.execute(count, params)).fetchone()
        return int(row[0])
    return planned


def planned_rows(plan: dict[str, Any]) -> int:
    """The row estimate of a count's scan: down the plan (Aggregate, Result, …) to the node that reads the
    table, past InitPlans (under RLS the policy's `auth.agency_id()` is one)."""
    node = plan
    while "Relation Name" not in node:
        children = [
            p for p in node.get("Plans", []) if p.get("Parent Relationship") not in ("InitPlan", "SubPlan")
        ]
        if not children:
            break
        node = children[0]
    return int(node["Plan Rows"])


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


@asynccontextmanager
async def _read_only_refusals() -> AsyncIterator[None]:
    """A write refused by a GET's or HEAD's read-only transaction: 405 with PostgreSQL's 25006, as
    PostgREST answers (api/errors.py reads a 25006 elsewhere as a standby's)."""
    try:
        yield
    except psycopg.errors.ReadOnlySqlTransaction as exc:
        raise RestError("25006", 405, exc.diag.message_primary or str(exc)) from exc


class _Rollback(Exception):
    """Leaves a transaction by an exception, so it rolls back, carrying what it answered."""

    def __init__(self, result: Any) -> None:
        self.result = result


async def _in_transaction(
    principal: Principal,
    db: Database,
    work: Callable[[Any], Awaitable[_T]],
    *,
    read_only: bool,
    rollback: bool,
) -> _T:
    """`work` in one transaction as the caller: read-only for GET and HEAD (PostgREST's access mode),
    rolled back after answering under `Prefer: tx=rollback`."""
    try:
        async with _read_only_refusals(), db.transaction(principal.role, principal.raw_claims) as conn:
            if read_only:
                await conn.execute(READ_ONLY)
            result = await work(conn)
            if rollback:
                raise _Rollback(result)
    except _Rollback as rolled_back:
        return rolled_back.result  # type: ignore[no-any-return]
    return result


async def _explain(
    request: Request, principal: Principal, db: Database, plan: PlanRequest, statement: Any, params: Any
) -> Response:
    async def run(conn: Any) -> str:
        return plan.body(await (await conn.execute(plan.explain(statement), params)).fetchall())

    read_only = request.method in ("GET", "HEAD")
    body = await _in_transaction(principal, db, run, read_only=read_only, rollback=_prefer(request).rollback)
    return Response(b"" if request.method == "HEAD" else body, media_type=f"{plan.media_type}; charset=utf-8")


async def _read_rows(
    principal: Principal, db: Database, built: BuiltRead, prefer: Prefer, *, read_only: bool
) -> tuple[str | None, int, int | None]:
    """(the page as JSON text, its rows, the count if one was asked for)."""
    if read_only and prefer.count in (None, "exact"):
        # Nothing to decide between statements: one round trip.
        statements: list[Statement] = [(READ_ONLY, None), (built.body, built.params)]
        if prefer.count == "exact":
            statements.append(built.count())
        async with _read_only_refusals():
            rows = await db.read(principal.role, principal.raw_claims, statements)
        body, returned = rows[1]  # type: ignore[misc]
        return body, returned, int(rows[2][0]) if len(rows) > 2 else None  # type: ignore[index]

    async def run(conn: Any) -> tuple[str | None, int, int | None]:
        body, returned = await (await conn.execute(built.body, built.params)).fetchone()
        total: int | None = None
        if prefer.count == "exact":
            total = int((await (await conn.execute(*built.count())).fetchone())[0])
        elif prefer.count is not None:
            total = await _count(conn, built, prefer)
        return body, returned, total

    return await _in_transaction(principal, db, run, read_only=read_only, rollback=prefer.rollback)


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
    parsed = _read_request(request, read_pairs)
    built = build_call(
        cache,
        name,
        args,
        parsed,
        max_rows=request.app.state.settings.rest_max_rows,
        headers_only=head,
    )
    prefer = _prefer(request)
    if (plan := _plan(request)) is not None:
        return await _explain(request, principal, db, plan, built.statement, built.params)
    if built.read is not None:
        body, returned, total = await _read_rows(principal, db, built.read, prefer, read_only=read_only)
        return _read_response(request, prefer, body, returned, parsed.offset, total)

    async def run(conn: Any) -> tuple[str, int]:
        row = await (await conn.execute(built.statement, built.params)).fetchone()
        return row[0], row[1]

    body, returned = await _in_transaction(principal, db, run, read_only=read_only, rollback=prefer.rollback)
    if not built.returns_rows:
        return Response(b"" if head else body, media_type="application/json")
    return _read_response(request, prefer, None if head else body, returned, 0, None)


@router.post("/rpc/{name}")
async def call_post(
    name: str, request: Request, principal: PrincipalDep, db: DatabaseDep, holder: SchemaDep
) -> Response:
    """Named arguments in the JSON body; the query string shapes a result of rows as a table read."""
    payload = await _json_body(request)
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise RestError("PGRST102", 400, "the body of an RPC call must be a JSON object of named arguments")
    return await _call(name, payload, _query_pairs(request), request, principal, db, holder)


@router.api_route("/rpc/{name}", methods=["GET", "HEAD"])
async def call_get(
    name: str, request: Request, principal: PrincipalDep, db: DatabaseDep, holder: SchemaDep
) -> Response:
    """Arguments in the query string beside select/filters/order (see `rpc.split_query`), in a read-only
    transaction."""
    args, read_pairs = split_query(await holder.for_function(name), name, _query_pairs(request))
    return await _call(name, args, read_pairs, request, principal, db, holder)


@router.api_route("/{table}", methods=["GET", "HEAD"])
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
    body, returned, total = await _read_rows(principal, db, built, prefer, read_only=True)
    return _read_response(request, prefer, body, returned, parsed.offset, total)


def _select_param(request: Request) -> Any:
    text = request.query_params.get("select")
    return parse_select(text) if text else ReadRequest().select


async def _run_write(
    request: Request, principal: Principal, db: Database, built: BuiltWrite, prefer: Prefer, status: int
) -> Response:
    if (plan := _plan(request)) is not None:
        return await _explain(request, principal, db, plan, built.statement, built.params)

    async def run(conn: Any) -> tuple[str, int]:
        row = await (await conn.execute(built.statement, built.params)).fetchone()
        return row[0], row[1]

    body, returned = await _in_transaction(principal, db, run, read_only=False, rollback=prefer.rollback)
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


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw) if raw else None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise RestError("PGRST102", 400, "Empty or invalid json", details=str(exc)) from exc


async def _rows_body(request: Request) -> list[dict[str, Any]]:
    """The rows of an insert: a JSON object or array of objects, or (`Content-Type: text/csv`) a CSV with a
    header row of column names, where an empty field is an empty string and `NULL` is null (as PostgREST)."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type == "text/csv":
        return _csv_rows(await request.body())
    payload = await _json_body(request)
    rows = payload if isinstance(payload, list) else [payload]
    if not rows or not all(isinstance(r, dict) for r in rows):
        raise RestError("PGRST102", 400, "the body must be a JSON object or an array of objects")
    return rows


def _csv_rows(raw: bytes) -> list[dict[str, Any]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RestError("PGRST102", 400, "the CSV body is not UTF-8", details=str(exc)) from exc
    try:
        lines = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise RestError("PGRST102", 400, "the CSV body could not be read", details=str(exc)) from exc
    if not lines or not lines[0]:
        raise RestError("PGRST102", 400, "the CSV body is empty: it needs a header row of column names")
    header = lines[0]
    if len(set(header)) != len(header) or any(not name for name in header):
        raise RestError(
            "PGRST102", 400, "the CSV header must name each column once", details=",".join(header)
        )
    rows = []
    for number, values in enumerate(lines[1:], start=2):
        if not values:
            continue  # a blank line, e.g. the one after a final newline
        if len(values) != len(header):
            raise RestError(
                "PGRST102",
                400,
                f"line {number} of the CSV body has {len(values)} fields; the header names {len(header)}",
            )
        rows.append({k: None if v == "NULL" else v for k, v in zip(header, values, strict=True)})
    if not rows:
        raise RestError("PGRST102", 400, "the CSV body has a header but no rows")
    return rows


@router.post("/{table}")
async def insert(
    table: str, request: Request, principal: PrincipalDep, db: DatabaseDep, holder: SchemaDep
) -> Response:
    prefer = _prefer(request)
    rows = await _rows_body(request)
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
    payload = await _json_body(request)
    if not isinstance(payload, dict):
        raise RestError("PGRST102", 400, "the body of a PATCH must be a JSON object")
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
