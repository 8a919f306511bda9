"""INSERT (and upsert), UPDATE and DELETE for `/rest/v1`, returning rows as JSON like reads do.

The body goes to PostgreSQL as one JSON parameter and is turned into rows there by
`json_populate_recordset` against the table's own row type, as PostgREST does: no value is ever
spliced into SQL, and the column types are the table's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import sql

from gardenos.rest.ast import Condition, ReadRequest, SelectItem
from gardenos.rest.build import (
    SCHEMA,
    Query,
    RestError,
    column_not_found,
    condition_sql,
    select_list,
    table_not_found,
)
from gardenos.rest.schema import SchemaCache, Table


@dataclass(frozen=True)
class BuiltWrite:
    statement: sql.Composed
    params: dict[str, Any]


def _table(cache: SchemaCache, name: str) -> Table:
    table = cache.tables.get(name)
    if table is None:
        raise table_not_found(name)
    return table


def _columns(table: Table, names: list[str]) -> list[str]:
    for name in names:
        if name not in table.columns:
            raise column_not_found(table.name, name)
    return names


def payload_columns(rows: list[dict[str, Any]], explicit: tuple[str, ...]) -> list[str]:
    """The columns an insert writes: `columns=` when given, else every key of every row, in order seen."""
    if explicit:
        return list(explicit)
    seen: dict[str, None] = {}
    for row in rows:
        for key in row:
            seen.setdefault(key, None)
    return list(seen)


def _returning(
    q: Query, cache: SchemaCache, table: Table, cte: sql.Composable, select: tuple[SelectItem, ...]
) -> sql.Composed:
    alias = sql.Identifier("t1")
    columns, _ = select_list(q, cache, table, alias, ReadRequest(select=select), ())
    rows = q.alias()
    return sql.SQL(
        "WITH written AS ({cte}) SELECT coalesce(json_agg({r}), '[]'::json)::text, count(*) "
        "FROM (SELECT {cols} FROM written AS {a}) AS {r}"
    ).format(cte=cte, r=rows, cols=columns, a=alias)


def _conflict_target(table: Table, on_conflict: tuple[str, ...]) -> list[str]:
    """An upsert's conflict target: the primary key unless the client names one. A tenant table's key is
    (agency_id, id), but a caller sees only its agency's rows, among which `id` alone names one row: so
    `on_conflict=id`, as supabase clients send it (`onConflict: 'id'`), means that key."""
    key = list(table.primary_key)
    if not on_conflict or (key[:1] == ["agency_id"] and sorted(on_conflict) == sorted(key[1:])):
        return key
    return list(on_conflict)


def build_insert(
    cache: SchemaCache,
    table_name: str,
    rows: list[dict[str, Any]],
    *,
    columns: tuple[str, ...],
    select: tuple[SelectItem, ...],
    on_conflict: tuple[str, ...],
    resolution: str | None,
    body_json: str,
    missing_default: bool = False,
) -> BuiltWrite:
    """`missing_default` (Prefer: missing=default): a key absent from a row takes the column's default
    rather than NULL."""
    table = _table(cache, table_name)
    names = _columns(table, payload_columns(rows, columns))
    q = Query()
    q.aliases = 1  # t1 is the written table in the RETURNING select
    target = sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(table.name))
    idents = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    body = q.bind(body_json, "json")
    insert: sql.Composable
    if names and missing_default:
        values = sql.SQL(", ").join(
            sql.SQL("CASE WHEN e.j ? {key} THEN r.{col} ELSE {default} END").format(
                key=sql.Literal(n),
                col=sql.Identifier(n),
                default=sql.SQL(table.columns[n].default_expr or "NULL"),
            )
            for n in names
        )
        insert = sql.SQL(
            "INSERT INTO {t} AS t1 ({cols}) SELECT {vals} "
            "FROM jsonb_array_elements({b}::jsonb) WITH ORDINALITY AS e(j, n) "
            "CROSS JOIN LATERAL jsonb_populate_record(NULL::{t}, e.j) AS r ORDER BY e.n"
        ).format(t=target, cols=idents, vals=values, b=body)
    elif names:
        insert = sql.SQL(
            "INSERT INTO {t} AS t1 ({cols}) SELECT {cols} FROM json_populate_recordset(NULL::{t}, "
            "CASE WHEN json_typeof({b}) = 'array' THEN {b} ELSE json_build_array({b}) END)"
        ).format(t=target, cols=idents, b=body)
    else:
        insert = sql.SQL("INSERT INTO {t} AS t1 DEFAULT VALUES").format(t=target)
    if resolution is not None:
        keys = _conflict_target(table, on_conflict)
        if not keys:
            raise RestError(
                "PGRST100", 400, f"'{table.name}' has no primary key: name the columns with on_conflict="
            )
        _columns(table, keys)
        conflict = sql.SQL(", ").join(sql.Identifier(k) for k in keys)
        updates = [n for n in names if n not in keys]
        action: sql.Composable
        if resolution == "ignore-duplicates" or not updates:
            action = sql.SQL("DO NOTHING")
        else:
            action = sql.SQL("DO UPDATE SET {}").format(
                sql.SQL(", ").join(sql.SQL("{0} = EXCLUDED.{0}").format(sql.Identifier(n)) for n in updates)
            )
        insert = sql.SQL("{} ON CONFLICT ({}) {}").format(insert, conflict, action)
    cte = sql.SQL("{} RETURNING t1.*").format(insert)
    return BuiltWrite(_returning(q, cache, table, cte, select), q.params)


def build_update(
    cache: SchemaCache,
    table_name: str,
    values: dict[str, Any],
    where: tuple[Condition, ...],
    *,
    select: tuple[SelectItem, ...],
    body_json: str,
) -> BuiltWrite:
    table = _table(cache, table_name)
    names = _columns(table, list(values))
    if not names:
        raise RestError("PGRST100", 400, "the body names no column to update")
    q = Query()
    alias = q.alias()
    target = sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(table.name))
    idents = sql.SQL(", ").join(sql.Identifier(n) for n in names)
    source = sql.SQL("SELECT {cols} FROM json_populate_record(NULL::{t}, {b})").format(
        cols=idents, t=target, b=q.bind(body_json, "json")
    )
    conditions = [condition_sql(q, table, alias, c) for c in where]
    where_sql = sql.SQL(" WHERE {}").format(sql.SQL(" AND ").join(conditions)) if conditions else sql.SQL("")
    cte = sql.SQL("UPDATE {t} AS {a} SET ({cols}) = ({src}){w} RETURNING {a}.*").format(
        t=target, a=alias, cols=idents, src=source, w=where_sql
    )
    return BuiltWrite(_returning(q, cache, table, cte, select), q.params)


def build_delete(
    cache: SchemaCache, table_name: str, where: tuple[Condition, ...], *, select: tuple[SelectItem, ...]
) -> BuiltWrite:
    table = _table(cache, table_name)
    q = Query()
    alias = q.alias()
    target = sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(table.name))
    conditions = [condition_sql(q, table, alias, c) for c in where]
    where_sql = sql.SQL(" WHERE {}").format(sql.SQL(" AND ").join(conditions)) if conditions else sql.SQL("")
    cte = sql.SQL("DELETE FROM {t} AS {a}{w} RETURNING {a}.*").format(t=target, a=alias, w=where_sql)
    return BuiltWrite(_returning(q, cache, table, cte, select), q.params)
