"""`/rest/v1/rpc/{function}`: calling a function of the exposed schema with named arguments.

A function that returns rows with named columns is read like a table: `select=`, filters, `order`,
`limit`/`offset` and `Range` apply to its result (PostgREST's behaviour), and one that returns a table's
rows embeds along that table's foreign keys.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from gardenos.rest.ast import ReadRequest
from gardenos.rest.build import SCHEMA, BuiltRead, Query, RestError, Source, read_from
from gardenos.rest.grammar import is_filter_value, is_reserved_key
from gardenos.rest.schema import Function, SchemaCache, Table


@dataclass(frozen=True)
class BuiltCall:
    statement: sql.Composed
    params: dict[str, Any]
    returns_rows: bool
    function: Function
    # The read over the function's result, when it returns rows with columns (for its count).
    read: BuiltRead | None = None


def _signature(name: str, args: Sequence[str]) -> str:
    return f"{SCHEMA}.{name}({', '.join(sorted(args))})"


def split_query(
    cache: SchemaCache, name: str, pairs: Sequence[tuple[str, str]]
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """GET/HEAD /rpc/fn's query string: (the function's arguments, the read's own parameters).

    PostgREST's rule: a parameter whose value reads as a filter (`eq.5`) is one, the rest are arguments.
    One refinement, so an argument's value never turns it into a filter: a parameter that names one of the
    function's arguments is that argument, unless it also names a column of the result and its value
    reads as a filter."""
    functions = cache.functions.get(name, ())
    arg_names = {a for f in functions for a in f.arg_names}
    columns = {c.name for f in functions for c in f.result_columns}
    args: dict[str, str] = {}
    read: list[tuple[str, str]] = []
    for key, value in pairs:
        if is_reserved_key(key):
            read.append((key, value))
        elif key in arg_names:
            if key in columns and is_filter_value(value):
                read.append((key, value))
            else:
                args[key] = value
        elif is_filter_value(value):
            read.append((key, value))
        else:
            args[key] = value
    return args, read


def resolve(cache: SchemaCache, name: str, args: dict[str, Any]) -> Function:
    """The overload whose parameters fit the given argument names: every required one given, none unknown."""
    candidates = [
        f
        for f in cache.functions.get(name, ())
        if set(args) <= set(f.arg_names) and set(f.required_args) <= set(args)
    ]
    if not candidates:
        known = ", ".join(
            f"{SCHEMA}.{f.name}({', '.join(f.arg_names)})" for f in cache.functions.get(name, ())
        )
        raise RestError(
            "PGRST202",
            404,
            f"Could not find the function {_signature(name, list(args))} in the schema cache",
            hint=f"available: {known}" if known else "check the function name",
        )
    if len(candidates) > 1:
        signature = _signature(name, list(args))
        raise RestError("PGRST203", 300, f"Could not choose the best candidate function for {signature}")
    return candidates[0]


def _result_table(cache: SchemaCache, function: Function) -> Table:
    """The columns the result is read by: the returned table's own (so embedding follows its keys), else
    the function's result columns under the function's name."""
    if function.result_table is not None and function.result_table in cache.tables:
        return cache.tables[function.result_table]
    return Table(function.name, False, {c.name: c for c in function.result_columns}, ())


def build_call(
    cache: SchemaCache,
    name: str,
    args: dict[str, Any],
    request: ReadRequest,
    *,
    max_rows: int,
    headers_only: bool = False,
    with_total: bool = False,
) -> BuiltCall:
    """The call as one statement answering (JSON text, rows on the page).

    `request` (already capped at `max_rows`) shapes a result of rows with columns as a table read; the
    rows of a set of scalars stop at `max_rows`, as a table read's do. Volatility is not checked here:
    a GET or HEAD runs in a read-only transaction, which refuses a function's writes (PostgREST's rule).
    `with_total`: the statement counts the result too, from the same call (see `build.read_from`)."""
    function = resolve(cache, name, args)
    types = dict(zip(function.arg_names, function.arg_types, strict=True))

    def call(q: Query) -> sql.Composable:
        arguments = sql.SQL(", ").join(
            sql.SQL("{} => {}").format(sql.Identifier(arg), q.bind(_text(value), types[arg]))
            for arg, value in args.items()
        )
        return sql.SQL("{}.{}({})").format(sql.Identifier(SCHEMA), sql.Identifier(function.name), arguments)

    source: Source = call
    if function.returns_composite:
        read = read_from(
            Query(),
            cache,
            _result_table(cache, function),
            source,
            request,
            headers_only=headers_only,
            single=not function.returns_set,
            with_total=with_total,
        )
        return BuiltCall(read.body, read.params, True, function, read)
    q = Query()
    if function.returns_rows:
        # A set of scalars: `r` is the value, as json_agg wants it.
        statement = sql.SQL(
            "SELECT coalesce(json_agg(s.r), '[]'::json)::text, count(*) "
            "FROM (SELECT r FROM {} AS r LIMIT {}) AS s(r)"
        ).format(call(q), q.bind(max_rows, "bigint"))
    else:
        statement = sql.SQL("SELECT to_json({})::text, 1").format(call(q))
    return BuiltCall(statement, q.params, function.returns_rows, function)


def _text(value: Any) -> Any:
    """Arguments go to PostgreSQL as text cast to the parameter's type; JSON values stay JSON text."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        # Arrays go as PostgreSQL array literals, e.g. {a,b}.
        return "{" + ",".join(json.dumps(v) if isinstance(v, str) else str(v) for v in value) + "}"
    return json.dumps(value)
