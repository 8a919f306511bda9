"""Running a `/rest/v1` request's built statements in one transaction as the caller: read-only for GET and
HEAD, rolled back under `Prefer: tx=rollback`, counted as `Prefer: count=` asks, or explained."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from gardenos.auth.principal import Principal
from gardenos.db.pool import Database, Statement
from gardenos.rest.build import BuiltRead, RestError
from gardenos.rest.plan import PlanRequest
from gardenos.rest.prefer import Prefer

# count=estimated counts exactly below this planned count, as PostgREST does below its max-rows.
ESTIMATE_EXACT_BELOW = 1_000_000
# GET and HEAD run read-only, as in PostgREST: a view or function that writes is refused (405, 25006).
# set_config rather than SET, so it is a statement with a row, like the others of a pipelined read.
READ_ONLY = "SELECT set_config('transaction_read_only', 'on', true)"

_T = TypeVar("_T")


@asynccontextmanager
async def read_only_refusals() -> AsyncIterator[None]:
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


async def in_transaction(
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
        async with read_only_refusals(), db.transaction(principal.role, principal.raw_claims) as conn:
            if read_only:
                await conn.execute(READ_ONLY)
            result = await work(conn)
            if rollback:
                raise _Rollback(result)
    except _Rollback as rolled_back:
        return rolled_back.result  # type: ignore[no-any-return]
    return result


async def run_statement(
    principal: Principal, db: Database, statement: Any, params: Any, *, read_only: bool, rollback: bool
) -> tuple[str, int]:
    """A statement answering (JSON text, rows): a write, or a call of a function that returns no rows."""

    async def run(conn: Any) -> tuple[str, int]:
        row = await (await conn.execute(statement, params)).fetchone()
        return row[0], row[1]

    return await in_transaction(principal, db, run, read_only=read_only, rollback=rollback)


async def explain(
    principal: Principal,
    db: Database,
    plan: PlanRequest,
    statement: Any,
    params: Any,
    *,
    read_only: bool,
    rollback: bool,
) -> str:
    """The plan of `statement`, in the transaction the statement itself would run in."""

    async def run(conn: Any) -> str:
        return plan.body(await (await conn.execute(plan.explain(statement), params)).fetchall())

    return await in_transaction(principal, db, run, read_only=read_only, rollback=rollback)


async def read_rows(
    principal: Principal, db: Database, built: BuiltRead, prefer: Prefer, *, read_only: bool
) -> tuple[str | None, int, int | None]:
    """(the page as JSON text, its rows, the count if one was asked for)."""
    exact = prefer.count == "exact" and not built.with_total
    if read_only and (prefer.count in (None, "exact") or built.with_total):
        # Nothing to decide between statements: one round trip.
        statements: list[Statement] = [(READ_ONLY, None), (built.body, built.params)]
        if exact:
            statements.append(built.count())
        async with read_only_refusals():
            rows = await db.read(principal.role, principal.raw_claims, statements)
        page = rows[1]
        assert page is not None
        if built.with_total:
            return page[0], page[1], int(page[2])
        return page[0], page[1], int(rows[2][0]) if exact else None  # type: ignore[index]

    async def run(conn: Any) -> tuple[str | None, int, int | None]:
        page = await (await conn.execute(built.body, built.params)).fetchone()
        total: int | None = None
        if built.with_total:
            total = int(page[2])
        elif exact:
            total = int((await (await conn.execute(*built.count())).fetchone())[0])
        elif prefer.count is not None:
            total = await count_rows(conn, built, prefer)
        return page[0], page[1], total

    return await in_transaction(principal, db, run, read_only=read_only, rollback=prefer.rollback)


async def count_rows(conn: Any, built: BuiltRead, prefer: Prefer) -> int:
    """count=planned|estimated (an exact count goes with the read, see `read_rows`)."""
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
