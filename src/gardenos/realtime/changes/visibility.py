"""Rows as PostgreSQL values, and which of them a subscriber may see.

A decoded row travels as its composite literal (`(v1,"v 2",)`, the text form of the table's row type);
`unnest($1::text[]::<table>[])` turns a batch of them back into rows of the table's type, with no table
read. On those rows:

- `RECORDS` gives each row as JSON (`to_jsonb`), the typed values Supabase's `record` carries;
- `visible()` evaluates the table's SELECT policies on the rows themselves, as the subscriber's role
  with their claims (`Database.read`, the same scope every request runs in), plus the subscription's
  filter: the rows as they were at that commit, even if they were since updated or deleted, checked
  against the subscriber's rights as of now (their current memberships, read by `auth.agency_id()`).
  This is Supabase's `realtime.apply_rls` idea, done with the policies' own expressions: a role with
  BYPASSRLS sees every row; a role without SELECT on the table sees none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from psycopg import sql

from gardenos.realtime.changes.catalog import TableInfo
from gardenos.realtime.changes.pgoutput import UnchangedToast, Value
from gardenos.realtime.changes.spec import ColumnFilter

# unnest() of a row-type array gives the table's columns, and `ordinality` after them.
RECORDS = """
SELECT json_agg(to_jsonb(x) - 'ordinality' ORDER BY x.ordinality)
FROM unnest(%s::text[]::{}[]) WITH ORDINALITY AS x
"""

VISIBLE = """
SELECT array_agg({alias}.ordinality)
FROM unnest(%s::text[]::{table}[]) WITH ORDINALITY AS {alias}
WHERE has_table_privilege({oid}::oid, 'SELECT')
  AND ((SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user) OR ({policies}))
  AND {filter}
"""


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


def records_query(table: TableInfo) -> sql.Composed:
    return sql.SQL(RECORDS).format(table.identifier)


def visible_query(
    table: TableInfo, role: str, row_filter: ColumnFilter | None
) -> tuple[sql.Composed, list[object]]:
    """The statement that answers which of a batch of rows (1-based positions) `role` may see, and the
    parameters after the rows."""
    alias = table.name
    condition: sql.Composable = sql.SQL("true")
    params: list[object] = []
    if row_filter is not None:
        condition, params = row_filter.condition(table, alias)
    query = sql.SQL(VISIBLE).format(
        alias=sql.Identifier(alias),
        table=table.identifier,
        oid=sql.Literal(table.oid),
        policies=table.visibility(role),
        filter=condition,
    )
    return query, params


def positions(found: Sequence[int] | None) -> set[int]:
    """0-based positions of the visible rows."""
    return {n - 1 for n in found or ()}
