"""Which values of the caller a table's SELECT policies read, so that subscribers for whom those values
are equal share one visibility check.

`tenant_isolation` on `leads` is `agency_id = (SELECT auth.agency_id())`: it reads the caller only
through `auth.agency_id()`, so two members of one agency see the same rows of `leads`, whatever else
differs in their tokens. That is proven here, not assumed: each context call of the policy (the
functions of `CONTEXTS`) is replaced by a column, and PostgreSQL is asked to accept the result as the
expression of a stored generated column of a scratch copy of the table. It accepts only an expression
that is immutable and reads nothing but the row: no subquery (a read of another table, under the
caller's own RLS), no `current_setting` or `current_user`, no STABLE or VOLATILE function or operator
(`contain_mutable_functions`, as for an index). Such an expression answers the same for the same row
and the same context values; so callers of one role whose context values are equal *now* (evaluated
per batch, in the checking transaction: a removed member's `auth.agency_id()` is already NULL) may
see the same rows. A policy that cannot be proven so is checked per token (role and claims).

Supabase Realtime checks RLS for each subscriber and each change (`realtime.apply_rls`) and documents
that this does not scale. Here the cost per batch is one context evaluation per distinct token (an
index lookup or two, in one statement) and one visibility check per group of equal context.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import psycopg
from psycopg import sql

from gardenos.db.pool import Conn
from gardenos.realtime.changes.catalog import TableInfo

# The caller's values a policy may read, each evaluated as the caller (claims set) and compared as JSON.
# All of them read only `request.jwt.claims` and, as SECURITY DEFINER functions, the memberships: the
# values do not depend on the role the check runs as. `agency_ids` is a set: compared sorted.
CONTEXTS: dict[str, tuple[str, str]] = {
    # name: (its type in the probe, the expression that evaluates it for the current caller)
    "uid": ("uuid", "auth.uid()"),
    "role": ("text", "auth.role()"),
    "email": ("text", "auth.email()"),
    "jwt": ("jsonb", "auth.jwt()"),
    "agency_id": ("uuid", "auth.agency_id()"),
    "agency_role": ("text", "auth.agency_role()"),
    "agency_ids": ("uuid[]", "ARRAY(SELECT auth.agency_ids() ORDER BY 1)"),
}
SETS = frozenset({"agency_ids"})

# pg_get_expr() prints an uncorrelated `(SELECT auth.f())` as `( SELECT auth.f() AS f)`, and
# `x IN (SELECT auth.agency_ids())` as `x IN ( SELECT auth.agency_ids() AS agency_ids)`.
_SET_CALL = re.compile(r"\bIN \( SELECT auth\.(\w+)\(\) AS \w+\)")
_SCALAR_CALL = re.compile(r"\( SELECT auth\.(\w+)\(\) AS \w+\)")
_BARE_CALL = re.compile(r"\bauth\.(\w+)\(\)")
# Literals and quoted identifiers are left alone: text that looks like a call inside them is not one.
_QUOTED = re.compile(r"""('(?:[^']|'')*'|"(?:[^"]|"")*")""")

PROBE_TABLE = "CREATE TEMPORARY TABLE gardenos_policy_probe (LIKE {table}) ON COMMIT DROP"
PROBE_COLUMN = "ALTER TABLE pg_temp.gardenos_policy_probe ADD COLUMN {column} {type}"
PROBE = (
    "ALTER TABLE pg_temp.gardenos_policy_probe "
    'ADD COLUMN "gardenos visible" boolean GENERATED ALWAYS AS ({expression}) STORED'
)


def column(name: str) -> str:
    """The probe's column standing for a context value (`name` is one of CONTEXTS; the space keeps it
    apart from the table's own columns)."""
    return f'"gardenos context {name}"'


def substitute(condition: str) -> tuple[str, tuple[str, ...]]:
    """The condition with each context call replaced by its probe column, and the contexts it reads."""
    names: set[str] = set()

    def scalar(match: re.Match[str]) -> str:
        name = match[1]
        if name not in CONTEXTS or name in SETS:
            return match[0]  # not a context: left in, the probe refuses it
        names.add(name)
        return column(name)

    def of_set(match: re.Match[str]) -> str:
        name = match[1]
        if name not in SETS:
            return match[0]
        names.add(name)
        return f"= ANY ({column(name)})"

    parts = _QUOTED.split(condition)
    for i in range(0, len(parts), 2):  # the even parts are outside quotes
        part = _SET_CALL.sub(of_set, parts[i])
        part = _SCALAR_CALL.sub(scalar, part)
        parts[i] = _BARE_CALL.sub(scalar, part)
    return "".join(parts), tuple(sorted(names))


async def prove(conn: Conn, table: TableInfo, condition: str) -> tuple[str, ...] | None:
    """The contexts `condition` (a policy expression of `table`) reads, if PostgreSQL accepts that it
    reads nothing else of the caller; None if not. Leaves nothing behind (a savepoint, rolled back)."""
    expression, names = substitute(condition)
    try:
        async with conn.transaction(force_rollback=True):
            await conn.execute(sql.SQL(PROBE_TABLE).format(table=table.identifier))
            for name in names:
                await conn.execute(
                    sql.SQL(PROBE_COLUMN).format(
                        column=sql.SQL(column(name)), type=sql.SQL(CONTEXTS[name][0])
                    )
                )
            await conn.execute(sql.SQL(PROBE).format(expression=sql.SQL(expression)))
    except psycopg.Error:
        return None
    return names


def values(names: Iterable[str]) -> sql.Composable:
    """A jsonb object of the current caller's values of `names`."""
    return sql.SQL("jsonb_build_object({})").format(
        sql.SQL(", ").join(
            sql.SQL("{}, {}").format(sql.Literal(name), sql.SQL(CONTEXTS[name][1])) for name in sorted(names)
        )
        if names
        else sql.SQL("")
    )
