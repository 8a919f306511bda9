"""The schema cache: which tables, views and functions `/rest/v1` exposes, their columns, keys and the
foreign keys that embedding follows.

What is exposed is decided by the database, not by code: every table, view and function in the
exposed schema (`public`, as Supabase). Grants and RLS then decide what each role may do with them.
The cache is reloaded after migrations (`NOTIFY pgrst, 'reload schema'`, PostgREST's convention) and
when a request names a table the cache does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from psycopg import AsyncConnection
from psycopg.rows import dict_row

EXPOSED_SCHEMA = "public"

TABLES = """
SELECT c.relname AS name, c.relkind IN ('v', 'm') AS is_view,
       coalesce(
         (SELECT array_agg(a.attname ORDER BY array_position(i.indkey::int2[], a.attnum))
          FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
          WHERE i.indrelid = c.oid AND i.indisprimary), '{}') AS primary_key,
       -- Rows readable only in the caller's agency: the one tenant policy and no other way to read.
       c.relrowsecurity
         AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polname = 'tenant_isolation')
         AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polpermissive
                         AND p.polname <> 'tenant_isolation' AND p.polcmd IN ('r', '*')) AS tenant_scoped
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY c.relname
"""

COLUMNS = """
SELECT c.relname AS table_name, a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       t.typcategory AS category, NOT a.attnotnull AS nullable, a.atthasdef AS has_default,
       a.attgenerated <> '' OR a.attidentity = 'a' AS generated,
       pg_get_expr(d.adbin, d.adrelid) AS default_expr
FROM pg_attribute a
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.attgenerated = ''
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY c.relname, a.attnum
"""

FOREIGN_KEYS = """
SELECT con.conname AS name, src.relname AS table_name, dst.relname AS ref_table,
       array(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, i)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum
             ORDER BY k.i) AS columns,
       array(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, i)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum
             ORDER BY k.i) AS ref_columns
FROM pg_constraint con
JOIN pg_class src ON src.oid = con.conrelid JOIN pg_namespace sn ON sn.oid = src.relnamespace
JOIN pg_class dst ON dst.oid = con.confrelid JOIN pg_namespace dn ON dn.oid = dst.relnamespace
WHERE con.contype = 'f' AND sn.nspname = %(schema)s AND dn.nspname = %(schema)s
ORDER BY con.conname
"""

FUNCTIONS = """
SELECT p.proname AS name, p.provolatile AS volatility, p.proretset AS returns_set,
       format_type(p.prorettype, NULL) AS return_type, t.typtype = 'c' OR p.proretset AS returns_rows,
       coalesce(p.proargnames[1:p.pronargs], '{}') AS arg_names,
       array(SELECT format_type(x, NULL) FROM unnest(p.proargtypes) x) AS arg_types,
       p.pronargdefaults AS defaults,
       -- A function returning an exposed table's rows: its result embeds along that table's keys.
       (SELECT c.relname FROM pg_class c JOIN pg_namespace cn ON cn.oid = c.relnamespace
        WHERE c.oid = t.typrelid AND cn.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))
         AS result_table,
       -- The columns of a row result, which select=, filters and order= name: the OUT/TABLE parameters,
       -- else the attributes of the returned composite type.
       CASE WHEN p.proargmodes::text[] && ARRAY['o', 'b', 't'] THEN
         (SELECT json_agg(json_build_object('name', a.n, 'type', format_type(a.t, NULL),
                                            'category', ty.typcategory) ORDER BY a.i)
          FROM unnest(p.proallargtypes, p.proargmodes::text[], p.proargnames) WITH ORDINALITY AS a(t, m, n, i)
          JOIN pg_type ty ON ty.oid = a.t
          WHERE a.m IN ('o', 'b', 't'))
       WHEN t.typrelid <> 0 THEN
         (SELECT json_agg(json_build_object('name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
                                            'category', ty.typcategory) ORDER BY a.attnum)
          FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
          WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped)
       END AS result_columns
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_type t ON t.oid = p.prorettype
WHERE n.nspname = %(schema)s AND p.prokind = 'f'
ORDER BY p.proname
"""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    # pg_type.typcategory: 'A' array, 'U' user/json..., 'S' string, 'N' numeric, 'B' boolean, 'D' date/time.
    category: str
    nullable: bool
    has_default: bool
    generated: bool
    # The default as SQL text from the catalog (our own schema's, never a request's).
    default_expr: str | None = None

    @property
    def is_json(self) -> bool:
        return self.type in ("json", "jsonb")

    @property
    def is_array(self) -> bool:
        return self.category == "A"


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]


@dataclass(frozen=True)
class Relationship:
    """How `table` reaches an embedded `target`: through a foreign key on either side."""

    target: str
    kind: Literal["many_to_one", "one_to_many"]
    key: ForeignKey

    @property
    def join_pairs(self) -> tuple[tuple[str, str], ...]:
        """(column on the embedding table, column on the embedded table) pairs."""
        if self.kind == "many_to_one":
            return tuple(zip(self.key.columns, self.key.ref_columns, strict=True))
        return tuple(zip(self.key.ref_columns, self.key.columns, strict=True))


@dataclass(frozen=True)
class Table:
    name: str
    is_view: bool
    columns: Mapping[str, Column]
    primary_key: tuple[str, ...]
    # Readable by a member only in its active agency (gardenos.enable_tenant_rls's policy alone).
    tenant_scoped: bool = False


@dataclass(frozen=True)
class Function:
    name: str
    volatility: Literal["i", "s", "v"]
    returns_set: bool
    returns_rows: bool
    return_type: str
    arg_names: tuple[str, ...]
    arg_types: tuple[str, ...]
    defaults: int
    # The exposed table whose rows it returns, if any (`RETURNS SETOF leads`).
    result_table: str | None = None
    # Its result's columns when it returns rows (a table's, a composite type's or `RETURNS TABLE (…)`'s).
    result_columns: tuple[Column, ...] = ()

    @property
    def required_args(self) -> tuple[str, ...]:
        return self.arg_names[: len(self.arg_names) - self.defaults]

    @property
    def returns_composite(self) -> bool:
        """Rows with named columns: what select=, filters, order= and embedding apply to."""
        return self.returns_rows and bool(self.result_columns)


@dataclass(frozen=True)
class SchemaCache:
    tables: Mapping[str, Table]
    functions: Mapping[str, tuple[Function, ...]]
    foreign_keys: tuple[ForeignKey, ...]
    _relationships: dict[str, tuple[Relationship, ...]] = field(default_factory=dict, compare=False)

    def relationships(self, table: str) -> tuple[Relationship, ...]:
        found = self._relationships.get(table)
        if found is None:
            found = tuple(
                [Relationship(k.ref_table, "many_to_one", k) for k in self.foreign_keys if k.table == table]
                + [Relationship(k.table, "one_to_many", k) for k in self.foreign_keys if k.ref_table == table]
            )
            self._relationships[table] = found
        return found


async def load(conn: AsyncConnection[Any], schema: str = EXPOSED_SCHEMA) -> SchemaCache:
    """Read the exposed schema's catalog (as the connection's role: run it as the owner or authenticator)."""
    params = {"schema": schema}
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(TABLES, params)
        table_rows = await cur.fetchall()
        await cur.execute(COLUMNS, params)
        column_rows = await cur.fetchall()
        await cur.execute(FOREIGN_KEYS, params)
        key_rows = await cur.fetchall()
        await cur.execute(FUNCTIONS, params)
        function_rows = await cur.fetchall()
    columns: dict[str, dict[str, Column]] = {}
    for row in column_rows:
        columns.setdefault(row["table_name"], {})[row["name"]] = Column(
            row["name"],
            row["type"],
            row["category"],
            row["nullable"],
            row["has_default"],
            row["generated"],
            row["default_expr"],
        )
    tables = {
        row["name"]: Table(
            row["name"],
            row["is_view"],
            columns.get(row["name"], {}),
            tuple(row["primary_key"]),
            bool(row["tenant_scoped"]),
        )
        for row in table_rows
    }
    keys = tuple(
        ForeignKey(
            row["name"], row["table_name"], tuple(row["columns"]), row["ref_table"], tuple(row["ref_columns"])
        )
        for row in key_rows
    )
    functions: dict[str, list[Function]] = {}
    for row in function_rows:
        functions.setdefault(row["name"], []).append(
            Function(
                row["name"],
                row["volatility"],
                row["returns_set"],
                row["returns_rows"],
                row["return_type"],
                tuple(row["arg_names"]),
                tuple(row["arg_types"]),
                row["defaults"],
                row["result_table"],
                tuple(
                    Column(c["name"], c["type"], c["category"], True, False, False)
                    for c in row["result_columns"] or ()
                ),
            )
        )
    return SchemaCache(tables, {name: tuple(fs) for name, fs in functions.items()}, keys)
