"""What the feed knows of a published table: its columns in order with their types, its primary key, and
the SELECT policies that decide who may read a row.

Read from PostgreSQL's catalog, per table, when first needed and again when decoding shows the table
changed shape (pgoutput sends a Relation message before a table's first change in every decoding call).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql
from psycopg.rows import dict_row

from gardenos.db.pool import Conn
from gardenos.rest.schema import EXPOSED_SCHEMA

# The publication of migration 0022: every table of the exposed schema.
PUBLICATION = "gardenos_changes"

TABLE = """
SELECT c.oid, c.relrowsecurity AS rls, c.relreplident AS replica_identity,
       coalesce((SELECT array_agg(a.attname ORDER BY array_position(i.indkey::int2[], a.attnum))
                 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                 WHERE i.indrelid = c.oid AND i.indisprimary), '{}') AS primary_key,
       (SELECT json_agg(json_build_object('name', a.attname, 'type', t.typname,
                                          'sql_type', format_type(a.atttypid, a.atttypmod))
                        ORDER BY a.attnum)
        FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
       -- Policies that govern SELECT, with the roles they apply to ('public': every role).
       (SELECT json_agg(json_build_object(
                 'permissive', p.polpermissive,
                 'roles', array(SELECT CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END
                                FROM unnest(p.polroles) r),
                 'qual', pg_get_expr(p.polqual, p.polrelid)))
        FROM pg_policy p WHERE p.polrelid = c.oid AND p.polcmd IN ('r', '*')) AS policies
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relname = %(table)s AND c.relkind IN ('r', 'p')
"""

TABLE_NAMES = """
SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p') ORDER BY 1
"""


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # pg_type.typname, as Supabase's `columns` name them (int8, text, _text, timestamptz…)
    sql_type: str  # format_type(), to cast values to


@dataclass(frozen=True)
class Policy:
    permissive: bool
    roles: tuple[str, ...]
    qual: str | None  # SQL from the catalog (our own schema's text, never a request's)


@dataclass(frozen=True)
class TableInfo:
    schema: str
    name: str
    oid: int
    rls: bool
    replica_identity: str  # 'd' default, 'f' full, 'n' nothing, 'i' index
    primary_key: tuple[str, ...]
    columns: tuple[Column, ...]
    policies: tuple[Policy, ...]

    @property
    def identifier(self) -> sql.Composable:
        return sql.Identifier(self.schema, self.name)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    def visibility(self, role: str) -> sql.Composable:
        """The condition under which `role` may SELECT a row of this table, on the row's columns: the
        table's policies combined as PostgreSQL combines them (permissive ones OR'd, restrictive ones
        AND'd; no permissive policy: nothing). Roles with BYPASSRLS do not come here."""
        return sql.SQL(self.condition(role))  # the catalog's own SQL

    def condition(self, role: str) -> str:
        """`visibility(role)` as text."""
        if not self.rls:
            return "true"
        mine = [p for p in self.policies if "public" in p.roles or role in p.roles]
        permissive = [p.qual or "true" for p in mine if p.permissive]
        restrictive = [p.qual or "true" for p in mine if not p.permissive]
        if not permissive:
            return "false"
        condition = "(" + " OR ".join(f"({q})" for q in permissive) + ")"
        for qual in restrictive:
            condition += f" AND ({qual})"
        return condition


async def load_table(conn: Conn, table: str, schema: str = EXPOSED_SCHEMA) -> TableInfo | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(TABLE, {"schema": schema, "table": table})
        row = await cur.fetchone()
    if row is None:
        return None
    return TableInfo(
        schema,
        table,
        int(row["oid"]),
        bool(row["rls"]),
        str(row["replica_identity"]),
        tuple(row["primary_key"]),
        tuple(Column(c["name"], c["type"], c["sql_type"]) for c in row["columns"] or ()),
        tuple(Policy(p["permissive"], tuple(p["roles"]), p["qual"]) for p in row["policies"] or ()),
    )


async def table_names(conn: Conn, schema: str = EXPOSED_SCHEMA) -> list[str]:
    cur = await conn.execute(TABLE_NAMES, {"schema": schema})
    return [str(name) for (name,) in await cur.fetchall()]
