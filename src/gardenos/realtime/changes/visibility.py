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
BYPASSRLS sees every row, a role without SELECT on the table none. The cost per batch is one statement
per group, whatever the number of subscribers in it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import sql

from gardenos.auth.principal import Principal
from gardenos.db.pool import Database
from gardenos.realtime.changes.catalog import TableInfo
from gardenos.realtime.changes.pgoutput import UnchangedToast, Value
from gardenos.realtime.changes.spec import ColumnFilter

# The batch's rows, sent once into a temporary table of the checking transaction, which each group's
# check then reads. unnest() of a row-type array gives the table's columns, `ordinality` (from 1) after.
BATCH = sql.Identifier("pg_temp", "gardenos_change_batch")
CREATE = """
CREATE TEMPORARY TABLE {batch} ON COMMIT DROP AS
SELECT * FROM unnest(%s::text[]::{table}[]) WITH ORDINALITY
"""
GRANT = "GRANT SELECT ON {batch} TO anon, authenticated"
RECORDS = "SELECT json_agg(to_jsonb(r) - 'ordinality' ORDER BY r.ordinality) FROM {batch} AS r"
# Each group's check runs as its role with its claims, as every request does (db/pool.py's SCOPE).
AS = "SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true)"
VISIBLE = """
SELECT array_agg({alias}.ordinality)
FROM {batch} AS {alias}
WHERE has_table_privilege({oid}::oid, 'SELECT')
  AND ((SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user) OR ({policies}))
  AND {filter}
"""

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
    table: TableInfo, role: str, row_filter: ColumnFilter | None
) -> tuple[sql.Composed, list[object]]:
    """The statement that answers which rows of the batch (by ordinality) `role` may see, with the
    filter, and its parameters."""
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
    )
    return query, params


class Batch:
    """One table's changes of one batch: their rows as JSON, and which of them each group may see,
    in one transaction and one round trip."""

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

    async def evaluate(
        self, database: Database, checks: Sequence[tuple[Principal, ColumnFilter | None]]
    ) -> tuple[list[Any], list[set[int]]]:
        """(the rows as JSON, in `literals` order; per check, the positions of the changes it may see)."""
        table = self.table
        async with database.transaction("service_role") as conn:
            async with conn.pipeline():
                await conn.execute(
                    sql.SQL(CREATE).format(batch=BATCH, table=table.identifier), (self.literals,)
                )
                await conn.execute(sql.SQL(GRANT).format(batch=BATCH))
                records = await conn.execute(sql.SQL(RECORDS).format(batch=BATCH))
                cursors = []
                for principal, row_filter in checks:
                    await conn.execute(AS, (principal.role, json.dumps(principal.raw_claims)))
                    query, params = visible_query(table, principal.role, row_filter)
                    cursors.append(await conn.execute(query, params))
            row = await records.fetchone()
            seen = []
            for cursor in cursors:
                found = await cursor.fetchone()
                seen.append(
                    {self.decides[n] for n in (found[0] if found else None) or () if n in self.decides}
                )
        return list(row[0] if row and row[0] else []), seen
