"""Rows as PostgreSQL values, and which of them a subscriber may see.

A decoded row travels as its composite literal (`(v1,"v 2",)`, the text form of the table's row type);
`unnest($1::text[]::<table>[])` turns a batch of them back into rows of the table's type, with no read
of the table itself. Per table and batch, one transaction (one round trip, pipelined) puts them in a
temporary table, reads them back as JSON (`to_jsonb`: the typed values Supabase's `record` carries),
and then, for each group of subscribers sharing role, claims and filter, switches to that role with
those claims (as every request does) and evaluates the table's SELECT policies on the rows themselves,
with the filter. So a row is checked as it was at that commit, even if it was updated or deleted since,
against the subscriber's rights as of now (their current memberships, which `auth.agency_id()` reads).
This is Supabase's `realtime.apply_rls` idea, done with the policies' own expressions: a role with
BYPASSRLS sees every row, a role without SELECT on the table none. Callers share one such statement when
their role, filter and the values their policies read of them are equal (context.py: members of one
agency, under `tenant_isolation`); the cost per batch is one statement per group, whatever the number of
subscribers in it, plus one that evaluates every caller's context values.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from gardenos.auth.principal import Principal
from gardenos.db.pool import Conn, Database
from gardenos.realtime.changes import context
from gardenos.realtime.changes.catalog import TableInfo
from gardenos.realtime.changes.pgoutput import UnchangedToast, Value
from gardenos.realtime.changes.spec import ColumnFilter

# The batch's rows, sent once into a temporary table of the checking transaction, which each group's
# check then reads. unnest() of a row-type array gives the table's columns, `ordinality` (from 1) after.
# Arrays of text go in binary (%b): in text form psycopg escapes each element's quotes with a regex,
# which cost more than the whole check for a thousand callers' claims.
BATCH = sql.Identifier("pg_temp", "gardenos_change_batch")
CREATE = """
CREATE TEMPORARY TABLE {batch} ON COMMIT DROP AS
SELECT * FROM unnest(%b::text[]::{table}[]) WITH ORDINALITY
"""
GRANT = "GRANT SELECT ON {batch} TO anon, authenticated"
RECORDS = "SELECT json_agg(to_jsonb(r) - 'ordinality' ORDER BY r.ordinality) FROM {batch} AS r"
# Each group's check runs as its role with its claims, as every request does (db/pool.py's SCOPE).
AS = "SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true)"
VISIBLE = """
SELECT array_agg({alias}.ordinality), {context}
FROM {batch} AS {alias}
WHERE has_table_privilege({oid}::oid, 'SELECT')
  AND ((SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user) OR ({policies}))
  AND {filter}
"""

# The callers whose context values decide their grouping (context.py), evaluated each with their claims
# in one statement (a DO block: each needs its own `request.jwt.claims`), into a temporary table.
CALLERS = """
CREATE TEMPORARY TABLE gardenos_callers ON COMMIT DROP AS
SELECT n::int, claims, NULL::jsonb AS context FROM unnest(%b::text[]) WITH ORDINALITY AS c(claims, n)
"""
CONTEXT_LOOP = """
DO $$
DECLARE
    caller record;
    found jsonb[] := '{{}}';
BEGIN
    FOR caller IN SELECT n, claims FROM pg_temp.gardenos_callers ORDER BY n LOOP
        PERFORM set_config('request.jwt.claims', caller.claims, true);
        found := found || {values};
    END LOOP;
    UPDATE pg_temp.gardenos_callers c SET context = f.context
    FROM unnest(found) WITH ORDINALITY AS f(context, n) WHERE f.n = c.n;
END
$$
"""
CONTEXTS_READ = "SELECT json_agg(context ORDER BY n) FROM pg_temp.gardenos_callers"

# A change's rows: (new, old), either may be absent.
Rows = tuple[Mapping[str, Value] | None, Mapping[str, Value] | None]


def composite(table: TableInfo, values: Mapping[str, Value]) -> str:
    """The row's literal in the table's row type: columns in table order, absent ones NULL."""
    parts = []
    for column in table.columns:
        value = values.get(column.name)
        if value is None or isinstance(value, UnchangedToast):
            parts.append("")
        else:
            parts.append('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "(" + ",".join(parts) + ")"


def visible_query(
    table: TableInfo, role: str, row_filter: ColumnFilter | None, reads: Sequence[str] = ()
) -> tuple[sql.Composed, list[object]]:
    """The statement that answers which rows of the batch (by ordinality) `role` may see, with the
    filter, and the caller's values of the contexts `reads` (as of the same snapshot); and its
    parameters."""
    alias = table.name
    condition: sql.Composable = sql.SQL("true")
    params: list[object] = []
    if row_filter is not None:
        condition, params = row_filter.condition(table, alias)
    query = sql.SQL(VISIBLE).format(
        alias=sql.Identifier(alias),
        batch=BATCH,
        oid=sql.Literal(table.oid),
        policies=table.visibility(role),
        filter=condition,
        context=context.values(reads),
    )
    return query, params


@dataclass(frozen=True)
class Check:
    """One caller's check: their token, their filter, and the contexts their role's policies on the
    table read (`context.prove`; None: not proven, so the check is theirs alone)."""

    principal: Principal
    row_filter: ColumnFilter | None
    reads: tuple[str, ...] | None
    # The claims as canonical JSON (`claims_key`), if the caller has it already.
    claims: str = ""

    def __post_init__(self) -> None:
        if not self.claims:
            object.__setattr__(self, "claims", claims_key(self.principal))


def claims_key(principal: Principal) -> str:
    """A token's claims as canonical JSON: equal for tokens that grant the same."""
    return json.dumps(principal.raw_claims, sort_keys=True)


class Batch:
    """One table's changes of one batch: their rows as JSON, and which of them each caller may see,
    in one transaction of two round trips (three if a group has to be split)."""

    def __init__(self, table: TableInfo, changes: Sequence[Rows]) -> None:
        self.table = table
        # Each change's new row, then its old row: the order `records` come back in.
        self.literals: list[str] = []
        # The ordinality of the row whose visibility decides, per change: the new row, or the deleted one.
        self.decides: dict[int, int] = {}
        for i, (new, old) in enumerate(changes):
            if new is not None:
                self.literals.append(composite(table, new))
                self.decides[len(self.literals)] = i
            if old is not None:
                self.literals.append(composite(table, old))
                if new is None:
                    self.decides[len(self.literals)] = i

    async def evaluate(self, database: Database, checks: Sequence[Check]) -> tuple[list[Any], list[set[int]]]:
        """(the rows as JSON, in `literals` order; per check, the positions of the changes it may see).

        Checks of one role and filter whose policies read the caller only through contexts, and whose
        context values are equal now, are answered by one statement, run as one of them. That
        statement reports the values it saw (its own snapshot): if they moved meanwhile (a membership
        changed between the two statements), the group is checked one token at a time instead."""
        table = self.table
        claims = [c.claims for c in checks]
        contextual = sorted({claims[i] for i, c in enumerate(checks) if c.reads})
        names = sorted({name for c in checks for name in c.reads or ()})
        async with database.transaction("service_role") as conn:
            async with conn.pipeline():
                await conn.execute(
                    sql.SQL(CREATE).format(batch=BATCH, table=table.identifier), (self.literals,)
                )
                await conn.execute(sql.SQL(GRANT).format(batch=BATCH))
                records = await conn.execute(sql.SQL(RECORDS).format(batch=BATCH))
                contexts = None
                if contextual:
                    await conn.execute(CALLERS, (contextual,))
                    await conn.execute(sql.SQL(CONTEXT_LOOP).format(values=context.values(names)))
                    contexts = await conn.execute(CONTEXTS_READ)
            row = await records.fetchone()
            rows = list(row[0] if row and row[0] else [])
            now: dict[str, dict[str, Any]] = {}
            if contexts is not None:
                evaluated = await contexts.fetchone()
                now = dict(zip(contextual, evaluated[0] if evaluated and evaluated[0] else [], strict=True))
            groups: dict[tuple[Any, ...], list[int]] = {}
            for i, check in enumerate(checks):
                if check.reads is None:
                    key: tuple[Any, ...] = (check.principal.role, check.row_filter, claims[i])
                else:
                    seen = now.get(claims[i], {})
                    values = json.dumps([seen.get(name) for name in check.reads])
                    key = (check.principal.role, check.row_filter, check.reads, values)
                groups.setdefault(key, []).append(i)
            members = list(groups.values())
            answers = await _run(conn, table, [checks[m[0]] for m in members])
            out: list[set[int]] = [set() for _ in checks]
            split: list[int] = []
            for group, (found, saw) in zip(members, answers, strict=True):
                first = checks[group[0]]
                if first.reads and any(_subset(now.get(claims[i], {}), first.reads) != saw for i in group):
                    split.extend(group)  # the values moved since they were grouped
                    continue
                for i in group:
                    out[i] = found
            if split:
                alone = [Check(checks[i].principal, checks[i].row_filter, None) for i in split]
                for i, (found, _) in zip(split, await _run(conn, table, alone), strict=True):
                    out[i] = found
        # One set per distinct answer (a group's members share theirs).
        positions: dict[int, set[int]] = {}
        for found in out:
            if id(found) not in positions:
                positions[id(found)] = {self.decides[n] for n in found if n in self.decides}
        return rows, [positions[id(found)] for found in out]


def _subset(values: dict[str, Any], names: Sequence[str]) -> dict[str, Any]:
    return {name: values.get(name) for name in names}


async def _run(
    conn: Conn, table: TableInfo, checks: Sequence[Check]
) -> list[tuple[set[int], dict[str, Any]]]:
    """Each check's visible rows (by ordinality) and the context values it saw, in one round trip."""
    cursors = []
    async with conn.pipeline():
        for check in checks:
            principal = check.principal
            await conn.execute(AS, (principal.role, json.dumps(principal.raw_claims)))
            query, params = visible_query(table, principal.role, check.row_filter, check.reads or ())
            cursors.append(await conn.execute(query, params))
    out = []
    for cursor in cursors:
        found = await cursor.fetchone()
        out.append((set((found[0] if found else None) or ()), (found[1] if found else None) or {}))
    return out
