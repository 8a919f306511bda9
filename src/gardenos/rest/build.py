"""SQL from a parsed `/rest/v1` request and the schema cache.

Identifiers are checked against the schema cache and quoted with `psycopg.sql.Identifier`; values are
always bind parameters, cast to the column's own type (from the catalog, never from the request); a
type named in a `::cast` must match a plain type-name pattern. Results are built as JSON by PostgreSQL
(`json_agg`), as PostgREST does, so rows never pass through Python objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from gardenos.errors import GardenError
from gardenos.rest.ast import Condition, Embed, FieldRef, Filter, Logic, OrderTerm, ReadRequest, SelectField
from gardenos.rest.schema import Column, Relationship, SchemaCache, Table

SCHEMA = "public"
CAST_TYPE = re.compile(r"^[a-z_][a-z0-9_ ]{0,62}(\[\])?$")

COMPARISONS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
PATTERNS = {"like": "LIKE", "ilike": "ILIKE", "match": "~", "imatch": "~*"}
CONTAINMENT = {
    "cs": "@>",
    "cd": "<@",
    "ov": "&&",
    "sl": "<<",
    "sr": ">>",
    "nxr": "&<",
    "nxl": "&>",
    "adj": "-|-",
}
FTS_FUNCTIONS = {
    "fts": "to_tsquery",
    "plfts": "plainto_tsquery",
    "phfts": "phraseto_tsquery",
    "wfts": "websearch_to_tsquery",
}
IS_VALUES = {
    "null": "IS NULL",
    "not_null": "IS NOT NULL",
    "true": "IS TRUE",
    "false": "IS FALSE",
    "unknown": "IS UNKNOWN",
}


class RestError(GardenError):
    """An error in PostgREST's terms: a PGRST code and the HTTP status PostgREST gives it."""

    def __init__(
        self, code: str, status: int, message: str, details: str | None = None, hint: str | None = None
    ):
        super().__init__(message, status_code=status, code=code, details=details, hint=hint)


def table_not_found(name: str) -> RestError:
    return RestError(
        "PGRST205",
        404,
        f"Could not find the table 'public.{name}' in the schema cache",
        hint="check the table name",
    )


def column_not_found(table: str, name: str) -> RestError:
    """A write body's unknown key (PostgREST checks those against its schema cache)."""
    return RestError("PGRST204", 400, f"Could not find the '{name}' column of '{table}' in the schema cache")


def undefined_column(table: str, name: str) -> RestError:
    """An unknown column named in select=, a filter or order=: PostgREST leaves those to PostgreSQL, whose
    42703 the clients then see; the same error, without sending the query."""
    return RestError("42703", 400, f"column {table}.{name} does not exist")


@dataclass
class Query:
    """A statement under construction. Parameters are named (`%(p3)s`), so pieces may be composed in
    any order and reused (an `!inner` embed's conditions appear twice) without miscounting."""

    params: dict[str, Any] = field(default_factory=dict)
    aliases: int = 0

    def bind(self, value: Any, cast: str | None = None) -> sql.Composable:
        name = f"p{len(self.params) + 1}"
        self.params[name] = value
        placeholder = sql.Placeholder(name)
        if cast is None:
            return placeholder
        return sql.SQL("CAST({} AS {})").format(placeholder, sql.SQL(cast))

    def alias(self) -> sql.Identifier:
        self.aliases += 1
        return sql.Identifier(f"t{self.aliases}")


def _column(table: Table, name: str) -> Column:
    column = table.columns.get(name)
    if column is None:
        raise undefined_column(table.name, name)
    return column


def _cast_type(name: str) -> str:
    if not CAST_TYPE.match(name.lower()):
        raise RestError("PGRST100", 400, f"'{name}' is not a type name that can be cast to")
    return name.lower()


def field_expr(table: Table, alias: sql.Identifier, ref: FieldRef) -> tuple[sql.Composable, Column]:
    column = _column(table, ref.column)
    expr: sql.Composable = sql.SQL("{}.{}").format(alias, sql.Identifier(ref.column))
    for step in ref.json_path:
        key: sql.Composable = sql.Literal(int(step.key)) if step.is_index else sql.Literal(step.key)
        expr = sql.SQL("({} {} {})").format(expr, sql.SQL(step.arrow), key)
    return expr, column


def _value_type(ref: FieldRef, column: Column) -> str:
    """The type a filter value is cast to: the column's, or what its JSON path yields."""
    if ref.json_path:
        return "text" if ref.json_path[-1].arrow == "->>" else "jsonb"
    return column.type


def condition_sql(q: Query, table: Table, alias: sql.Identifier, condition: Condition) -> sql.Composable:
    if isinstance(condition, Logic):
        joiner = sql.SQL(" AND ") if condition.operator == "and" else sql.SQL(" OR ")
        inner = (
            joiner.join(condition_sql(q, table, alias, c) for c in condition.conditions)
            if condition.conditions
            else (sql.SQL("true") if condition.operator == "and" else sql.SQL("false"))
        )
        expr: sql.Composable = sql.SQL("({})").format(inner)
        return sql.SQL("NOT {}").format(expr) if condition.negated else expr
    expr = _filter_sql(q, table, alias, condition)
    return sql.SQL("NOT ({})").format(expr) if condition.negated else expr


def _filter_sql(q: Query, table: Table, alias: sql.Identifier, f: Filter) -> sql.Composable:
    target, column = field_expr(table, alias, f.ref)
    value_type = _value_type(f.ref, column)
    op = f.operator
    if f.quantifier is not None:
        symbol = COMPARISONS.get(op) or PATTERNS.get(op)
        if symbol is None:
            raise RestError("PGRST100", 400, f"the operator {op} takes no (any)/(all) modifier")
        items = list(f.values or ())
        if op in ("like", "ilike"):
            items = [v.replace("*", "%") for v in items]
        element = value_type if op in COMPARISONS else "text"
        return sql.SQL("{} {} {}({})").format(
            target, sql.SQL(symbol), sql.SQL(f.quantifier.upper()), q.bind(items, f"{element}[]")
        )
    if op in COMPARISONS:
        return sql.SQL("{} {} {}").format(target, sql.SQL(COMPARISONS[op]), q.bind(f.value, value_type))
    if op in ("like", "ilike"):
        return sql.SQL("{}::text {} {}").format(
            target, sql.SQL(PATTERNS[op]), q.bind(f.value.replace("*", "%"))
        )
    if op in ("match", "imatch"):
        return sql.SQL("{}::text {} {}").format(target, sql.SQL(PATTERNS[op]), q.bind(f.value))
    if op == "in":
        return sql.SQL("{} = ANY({})").format(target, q.bind(list(f.values or ()), f"{value_type}[]"))
    if op == "is":
        keyword = IS_VALUES.get(f.value.lower())
        if keyword is None:
            raise RestError(
                "PGRST100", 400, f"is.{f.value}: use is.null, is.not_null, is.true, is.false or is.unknown"
            )
        return sql.SQL("{} {}").format(target, sql.SQL(keyword))
    if op == "isdistinct":
        return sql.SQL("{} IS DISTINCT FROM {}").format(target, q.bind(f.value, value_type))
    if op in FTS_FUNCTIONS:
        document = (
            target
            if column.type == "tsvector" and not f.ref.json_path
            else sql.SQL("to_tsvector({})").format(
                target
                if not f.language
                else sql.SQL("{}, {}").format(q.bind(f.language, "regconfig"), target)
            )
        )
        function = sql.SQL(FTS_FUNCTIONS[op])
        query = (
            sql.SQL("{}({}, {})").format(function, q.bind(f.language, "regconfig"), q.bind(f.value))
            if f.language
            else sql.SQL("{}({})").format(function, q.bind(f.value))
        )
        return sql.SQL("{} @@ {}").format(document, query)
    if op in CONTAINMENT:
        return sql.SQL("{} {} {}").format(target, sql.SQL(CONTAINMENT[op]), q.bind(f.value, value_type))
    raise RestError("PGRST100", 400, f"unknown operator {op}")


def order_sql(table: Table, alias: sql.Identifier, terms: tuple[OrderTerm, ...]) -> sql.Composable:
    parts = []
    for term in terms:
        if term.relation is not None:
            raise RestError(
                "PGRST100",
                400,
                f"ordering by a related table's column ({term.relation}) is not supported yet",
                hint="order by this table's own columns, or by the embedded resource's with <embed>.order=",
            )
        expr, _ = field_expr(table, alias, term.ref)
        text = sql.SQL("{} {}").format(expr, sql.SQL("DESC" if term.descending else "ASC"))
        if term.nulls_first is not None:
            text = sql.SQL("{} {}").format(text, sql.SQL("NULLS FIRST" if term.nulls_first else "NULLS LAST"))
        parts.append(text)
    return sql.SQL(" ORDER BY {}").format(sql.SQL(", ").join(parts)) if parts else sql.SQL("")


def _output_name(item: SelectField) -> str:
    if item.alias:
        return item.alias
    if item.ref.json_path:
        return item.ref.json_path[-1].key
    return item.ref.column


def select_list(
    q: Query,
    cache: SchemaCache,
    table: Table,
    alias: sql.Identifier,
    request: ReadRequest,
    path: tuple[str, ...],
) -> tuple[sql.Composable, list[sql.Composable]]:
    """The select list, and conditions on the parent that `!inner` embeds add."""
    items: list[sql.Composable] = []
    inner_conditions: list[sql.Composable] = []
    for item in _items_at(request, path):
        if isinstance(item, SelectField):
            if item.ref.column == "*" and not item.ref.json_path:
                items.append(sql.SQL("{}.*").format(alias))
                continue
            expr, _ = field_expr(table, alias, item.ref)
            if item.cast:
                expr = sql.SQL("CAST({} AS {})").format(expr, sql.SQL(_cast_type(item.cast)))
            items.append(sql.SQL("{} AS {}").format(expr, sql.Identifier(_output_name(item))))
        else:
            embedded, exists = embed_sql(
                q, cache, table, alias, request, item, (*path, item.alias or item.relation)
            )
            items.append(sql.SQL("{} AS {}").format(embedded, sql.Identifier(item.alias or item.relation)))
            if item.inner:
                inner_conditions.append(exists)
    if not items:
        items.append(sql.SQL("{}.*").format(alias))
    return sql.SQL(", ").join(items), inner_conditions


def _items_at(request: ReadRequest, path: tuple[str, ...]) -> tuple[Any, ...]:
    items: tuple[Any, ...] = request.select
    for name in path:
        embed = next((i for i in items if isinstance(i, Embed) and (i.alias or i.relation) == name), None)
        items = embed.select if embed else ()
    return items


def relationship(cache: SchemaCache, table: Table, embed: Embed) -> Relationship:
    candidates = [r for r in cache.relationships(table.name) if r.target == embed.relation]
    if embed.hint:
        candidates = [r for r in candidates if embed.hint in (r.key.name, *r.key.columns, *r.key.ref_columns)]
    if not candidates:
        raise RestError(
            "PGRST200",
            400,
            f"Could not find a relationship between '{table.name}' and '{embed.relation}' "
            "in the schema cache",
            hint="embed along a foreign key between the two tables",
        )
    if len(candidates) > 1:
        names = ", ".join(sorted(r.key.name for r in candidates))
        raise RestError(
            "PGRST201",
            300,
            "Could not embed because more than one relationship was found for "
            f"'{table.name}' and '{embed.relation}'",
            details=names,
            hint=f"name the foreign key: {embed.relation}!<one of: {names}>(...)",
        )
    return candidates[0]


def embed_sql(
    q: Query,
    cache: SchemaCache,
    parent: Table,
    parent_alias: sql.Identifier,
    request: ReadRequest,
    embed: Embed,
    path: tuple[str, ...],
) -> tuple[sql.Composable, sql.Composable]:
    """A correlated subquery for one embedded resource (JSON object or array), and its EXISTS test."""
    rel = relationship(cache, parent, embed)
    target = cache.tables.get(rel.target)
    if target is None:
        raise table_not_found(rel.target)
    alias = q.alias()
    join = sql.SQL(" AND ").join(
        sql.SQL("{}.{} = {}.{}").format(alias, sql.Identifier(child), parent_alias, sql.Identifier(own))
        for own, child in rel.join_pairs
    )
    conditions = [join] + [
        condition_sql(q, target, alias, c) for c in request.where if _embed_path(c) == path
    ]
    columns, inner = select_list(q, cache, target, alias, request, path)
    conditions += inner
    where = sql.SQL(" AND ").join(conditions)
    source = sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(target.name))
    exists = sql.SQL("EXISTS (SELECT 1 FROM {} AS {} WHERE {})").format(source, alias, where)
    rows = q.alias()
    if rel.kind == "many_to_one":
        body = sql.SQL(
            "(SELECT row_to_json({r}) FROM (SELECT {cols} FROM {src} AS {a} WHERE {w} LIMIT 1) AS {r})"
        ).format(r=rows, cols=columns, src=source, a=alias, w=where)
        return body, exists
    order = order_sql(target, alias, request.embed_order.get(path, ()))
    limit = request.embed_limits.get(path)
    paging: sql.Composable = sql.SQL("")
    if limit is not None:
        paging = sql.SQL(" LIMIT {}").format(sql.Literal(limit))
    if request.embed_offsets.get(path):
        paging = sql.SQL("{} OFFSET {}").format(paging, sql.Literal(request.embed_offsets[path]))
    body = sql.SQL(
        "coalesce((SELECT json_agg({r}) FROM (SELECT {cols} FROM {src} AS {a} WHERE {w}{o}{p}) AS {r}), "
        "'[]'::json)"
    ).format(r=rows, cols=columns, src=source, a=alias, w=where, o=order, p=paging)
    return body, exists


def _embed_path(condition: Condition) -> tuple[str, ...]:
    return condition.embed_path


# The relation a read selects from, as SQL: a table (`public.leads`), or a function call whose arguments
# are bound into the query being built.
Source = Callable[["Query"], sql.Composable]


def table_source(table: Table) -> Source:
    return lambda _q: sql.SQL("{}.{}").format(sql.Identifier(SCHEMA), sql.Identifier(table.name))


@dataclass(frozen=True)
class BuiltRead:
    body: sql.Composed
    params: dict[str, Any]
    table: Table
    where: tuple[Condition, ...]
    agency_id: str | None = None
    source: Source | None = None
    # The body's third column is the total (see `read_from`); `count()` is then not needed.
    with_total: bool = False

    def count(self) -> tuple[sql.Composed, dict[str, Any]]:
        """`count(*)` over the same filters, built only when a count is asked for."""
        q = Query()
        alias = q.alias()
        parts = [condition_sql(q, self.table, alias, c) for c in self.where]
        parts += _agency_condition(q, self.table, alias, self.agency_id)
        where = sql.SQL(" WHERE {}").format(sql.SQL(" AND ").join(parts)) if parts else sql.SQL("")
        source = (self.source or table_source(self.table))(q)
        return sql.SQL("SELECT count(*) FROM {} AS {}{}").format(source, alias, where), q.params


def _agency_condition(
    q: Query, table: Table, alias: sql.Identifier, agency_id: str | None
) -> list[sql.Composable]:
    """`agency_id = <the caller's>` on a tenant table, in so many words.

    The table's only read policy already restricts the rows to the caller's agency, so the results are the
    same; but the planner cannot see through the policy's `auth.agency_id()` and estimates an average
    agency's share of rows. With the value bound it reads that agency's own statistics: a search in an
    agency of millions of leads uses the search index, and a planned count is that agency's.
    """
    if agency_id is None or not table.tenant_scoped:
        return []
    return [sql.SQL("{}.agency_id = {}").format(alias, q.bind(agency_id, "uuid"))]


def build_read(
    cache: SchemaCache,
    table_name: str,
    request: ReadRequest,
    agency_id: str | None = None,
    *,
    headers_only: bool = False,
) -> BuiltRead:
    """`SELECT` returning one JSON array of the page; its `count()` builds the matching count.
    `agency_id`: the caller's agency (see `_agency_condition`)."""
    table = cache.tables.get(table_name)
    if table is None:
        raise table_not_found(table_name)
    return read_from(
        Query(), cache, table, table_source(table), request, agency_id, headers_only=headers_only
    )


def read_from(
    q: Query,
    cache: SchemaCache,
    table: Table,
    source: Source,
    request: ReadRequest,
    agency_id: str | None = None,
    *,
    headers_only: bool = False,
    single: bool = False,
    with_total: bool = False,
) -> BuiltRead:
    """The read of `request` from `source`, whose rows have `table`'s columns (a table, or a function
    returning rows). The statement answers (JSON text, rows on the page): with `headers_only` (HEAD) the
    text is NULL and no JSON is built; with `single` (a function returning one row) it is that row's
    object, or `null`, rather than an array.

    `with_total` adds a third column, the count of every row the filters keep, from the same rows: the
    source is read once (a MATERIALIZED CTE), so a function that writes does so once, not again for a
    separate count statement."""
    alias = q.alias()
    columns, inner = select_list(q, cache, table, alias, request, ())
    own = tuple(c for c in request.where if not _embed_path(c))
    where_parts = [condition_sql(q, table, alias, c) for c in own] + inner
    where_parts += _agency_condition(q, table, alias, agency_id)
    where = sql.SQL(" WHERE {}").format(sql.SQL(" AND ").join(where_parts)) if where_parts else sql.SQL("")
    paging: sql.Composable = sql.SQL("")
    if request.limit is not None:
        paging = sql.SQL(" LIMIT {}").format(sql.Literal(request.limit))
    if request.offset:
        paging = sql.SQL("{} OFFSET {}").format(paging, sql.Literal(request.offset))
    rows = q.alias()
    if headers_only:
        aggregate: sql.Composable = sql.SQL("NULL::text")
    elif single:
        aggregate = sql.SQL("coalesce((json_agg({})->0)::text, 'null')").format(rows)
    else:
        aggregate = sql.SQL("coalesce(json_agg({}), '[]'::json)::text").format(rows)
    src = source(q)
    prefix: sql.Composable = sql.SQL("")
    total: sql.Composable = sql.SQL("")
    if with_total:
        shared = sql.Identifier("pgrst_source")
        prefix = sql.SQL("WITH {} AS MATERIALIZED (SELECT * FROM {} AS s) ").format(shared, src)
        src = shared
        counted = q.alias()
        parts = [condition_sql(q, table, counted, c) for c in own]
        parts += _agency_condition(q, table, counted, agency_id)
        total_where = sql.SQL(" WHERE {}").format(sql.SQL(" AND ").join(parts)) if parts else sql.SQL("")
        total = sql.SQL(", (SELECT count(*) FROM {} AS {}{})").format(shared, counted, total_where)
    body = sql.SQL(
        "{pre}SELECT {agg}, count(*){total} FROM (SELECT {cols} FROM {src} AS {a}{w}{o}{p}) AS {r}"
    ).format(
        pre=prefix,
        agg=aggregate,
        total=total,
        r=rows,
        cols=columns,
        src=src,
        a=alias,
        w=where,
        o=order_sql(table, alias, request.order),
        p=paging,
    )
    return BuiltRead(body, q.params, table, own, agency_id, source, with_total)
