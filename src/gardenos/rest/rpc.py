"""`/rest/v1/rpc/{function}`: calling a function of the exposed schema with named arguments."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from gardenos.rest.build import SCHEMA, Query, RestError
from gardenos.rest.schema import Function, SchemaCache


@dataclass(frozen=True)
class BuiltCall:
    statement: sql.Composed
    params: dict[str, Any]
    returns_rows: bool
    function: Function


def _signature(name: str, args: dict[str, Any]) -> str:
    return f"{SCHEMA}.{name}({', '.join(sorted(args))})"


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
            f"Could not find the function {_signature(name, args)} in the schema cache",
            hint=f"available: {known}" if known else "check the function name",
        )
    if len(candidates) > 1:
        raise RestError(
            "PGRST203", 300, f"Could not choose the best candidate function for {_signature(name, args)}"
        )
    return candidates[0]


def build_call(
    cache: SchemaCache, name: str, args: dict[str, Any], *, read_only: bool, max_rows: int
) -> BuiltCall:
    """The call as one statement answering (JSON text, rows); a set-returning function's rows stop at
    `max_rows`, as a table read's do."""
    function = resolve(cache, name, args)
    if read_only and function.volatility == "v":
        raise RestError(
            "PGRST101",
            405,
            f"{SCHEMA}.{name} is VOLATILE: call it with POST",
            hint="GET calls stable functions only",
        )
    q = Query()
    types = dict(zip(function.arg_names, function.arg_types, strict=True))
    arguments = sql.SQL(", ").join(
        sql.SQL("{} => {}").format(sql.Identifier(arg), q.bind(_text(value), types[arg]))
        for arg, value in args.items()
    )
    call = sql.SQL("{}.{}({})").format(sql.Identifier(SCHEMA), sql.Identifier(function.name), arguments)
    if function.returns_rows:
        # `r` is the row, or the value of a SETOF scalar function, as json_agg wants it.
        statement = sql.SQL(
            "SELECT coalesce(json_agg(s.r), '[]'::json)::text, count(*) "
            "FROM (SELECT r FROM {} AS r LIMIT {}) AS s(r)"
        ).format(call, q.bind(max_rows, "bigint"))
    else:
        statement = sql.SQL("SELECT to_json({})::text, 1").format(call)
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
