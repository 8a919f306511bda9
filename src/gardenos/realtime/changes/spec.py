"""A `postgres_changes` entry checked against the catalog: which table(s), which events, which filter.

Filters use PostgREST's syntax (`column=op.value`), parsed by `/rest/v1`'s own grammar, restricted to the
operators Supabase Realtime serves. Values are compared as the column's type, in SQL, with the same
visibility check (`visibility.py`), so `gt.9` on a number is numeric order, not text order.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql

from gardenos.realtime.changes.catalog import TableInfo
from gardenos.realtime.contracts import ChangeSpec, InvalidChangeSpec
from gardenos.rest.ast import Filter as RestFilter
from gardenos.rest.grammar import QueryParseError, parse_filters
from gardenos.rest.schema import EXPOSED_SCHEMA

_SQL_OPERATORS = {"eq": "=", "neq": "<>", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
OPERATORS_HINT = "filters are `column=op.value` with op one of eq, neq, lt, lte, gt, gte, in (in.(a,b,c))"
EVENTS = frozenset({"INSERT", "UPDATE", "DELETE", "*"})


@dataclass(frozen=True)
class ColumnFilter:
    column: str
    operator: str  # eq, neq, lt, lte, gt, gte, in
    values: tuple[str, ...]

    def condition(self, table: TableInfo, alias: str) -> tuple[sql.Composable, list[object]]:
        """The filter as SQL on `alias`'s columns, and its parameters (values cast to the column's type)."""
        column = table.column(self.column)
        assert column is not None  # checked by `compile_spec`
        ref = sql.Identifier(alias, self.column)
        sql_type = sql.SQL(column.sql_type)  # format_type() of the catalog
        if self.operator == "in":
            return sql.SQL("{} = ANY(%s::text[]::{}[])").format(ref, sql_type), [list(self.values)]
        op = sql.SQL(_SQL_OPERATORS[self.operator])
        return sql.SQL("{} {} %s::text::{}").format(ref, op, sql_type), [self.values[0]]


@dataclass(frozen=True)
class CompiledSpec:
    table: str | None  # None: every exposed table
    events: frozenset[str]  # INSERT, UPDATE, DELETE
    filter: ColumnFilter | None

    def matches(self, table: str, event: str) -> bool:
        return event in self.events and (self.table is None or self.table == table)


def parse_filter(text: str) -> ColumnFilter:
    column, eq, value = text.partition("=")
    if not eq or not column or not value:
        raise InvalidChangeSpec(f"filter {text!r} is not of the form column=op.value", hint=OPERATORS_HINT)
    try:
        (parsed,) = parse_filters([(column.strip(), value)])
    except QueryParseError as exc:
        raise InvalidChangeSpec(f"filter {text!r}: {exc.message}", hint=OPERATORS_HINT) from exc
    if not isinstance(parsed, RestFilter) or parsed.ref.json_path or parsed.embed_path:
        raise InvalidChangeSpec(f"filter {text!r} must name a plain column", hint=OPERATORS_HINT)
    if parsed.negated or parsed.quantifier or parsed.operator not in (*_SQL_OPERATORS, "in"):
        raise InvalidChangeSpec(
            f"filter {text!r}: operator {parsed.operator!r} is not supported for database changes",
            hint=OPERATORS_HINT,
        )
    values = parsed.values if parsed.operator == "in" else (parsed.value,)
    assert values is not None
    return ColumnFilter(parsed.ref.column, parsed.operator, tuple(values))


def compile_spec(spec: ChangeSpec, table: TableInfo | None, exposed: list[str]) -> CompiledSpec:
    """`table` is the catalog's entry for `spec.table` (None when it names no exposed table or names
    every table); `exposed` lists the exposed tables, for the message."""
    if spec.event not in EVENTS:
        raise InvalidChangeSpec(
            f"event {spec.event!r} is not one of INSERT, UPDATE, DELETE or *",
            hint="set `event` in the postgres_changes entry",
        )
    if spec.schema != EXPOSED_SCHEMA:
        raise InvalidChangeSpec(
            f"schema {spec.schema!r} is not exposed: database changes are served for schema "
            f"{EXPOSED_SCHEMA!r}",
            hint=f'use schema: "{EXPOSED_SCHEMA}"',
        )
    events = frozenset({"INSERT", "UPDATE", "DELETE"}) if spec.event == "*" else frozenset({spec.event})
    every_table = spec.table in (None, "*")
    if not every_table and table is None:
        raise InvalidChangeSpec(
            f"table {spec.table!r} is not an exposed table of schema {EXPOSED_SCHEMA!r}",
            hint="exposed tables: " + ", ".join(exposed),
        )
    column_filter = None
    if spec.filter:
        if every_table or table is None:
            raise InvalidChangeSpec(
                "a filter needs a table: name the table the filter's column belongs to",
                hint='e.g. {"event": "*", "schema": "public", "table": "leads", "filter": "status=eq.new"}',
            )
        column_filter = parse_filter(spec.filter)
        if table.column(column_filter.column) is None:
            raise InvalidChangeSpec(
                f"filter {spec.filter!r}: table {table.name!r} has no column {column_filter.column!r}",
                hint="columns: " + ", ".join(c.name for c in table.columns),
            )
    return CompiledSpec(None if every_table else spec.table, events, column_filter)
