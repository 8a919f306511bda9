"""The one write path of people records, and the reads by id every door shares. `/api/v1` (leads and
clients), conversion, merge and the agents insert and update leads and clients only through `insert` and
`update`; the importer's bulk COPY path takes its column list from `fields`.

Every statement runs in the caller's transaction, as the caller: row-level security keeps it inside the
agency. A new lead's embedding job is queued by the table's own trigger (0018) in that same transaction.

Writes return the answer's columns and `record` (`to_jsonb(row)` without the search vector): the shape
the audit trail keeps, so what a caller is shown and what the trail stores are one thing."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from functools import cache
from typing import Any

from psycopg import sql
from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from gardenos.crm.contacts.fields import Kind, text
from gardenos.db.pool import Conn
from gardenos.db.rows import fetch_one

# A value the database computes in the statement itself, e.g. `converted_at` as the transaction's now(),
# the same moment as the lead's own `converted_at`.
NOW = sql.SQL("now()")


@cache
def _returning(kind: Kind) -> sql.Composed:
    return sql.SQL("RETURNING {columns}, to_jsonb({a}) - 'search_vector' AS record").format(
        columns=kind.select_list(), a=sql.Identifier(kind.alias)
    )


@cache
def get_query(kind: Kind, *, lock: bool = False) -> str:
    query = sql.SQL("SELECT {columns} FROM {table} {a} WHERE {a}.id = %s").format(
        columns=kind.select_list(), table=kind.name, a=sql.Identifier(kind.alias)
    )
    return text(query + sql.SQL(" FOR UPDATE") if lock else query)


@cache
def delete_query(kind: Kind) -> str:
    return text(
        sql.SQL("DELETE FROM {table} {a} WHERE {a}.id = %s RETURNING {a}.id").format(
            table=kind.name, a=sql.Identifier(kind.alias)
        )
    )


@cache
def add_tag_query(kind: Kind) -> str:
    """Changes nothing (no row) when the record has the tag already, or has `max` tags."""
    return text(
        sql.SQL(
            "UPDATE {table} {a} SET tags = array_append({a}.tags, %(tag)s::text) "
            "WHERE {a}.id = %(id)s AND NOT %(tag)s::text = ANY ({a}.tags) "
            "AND cardinality({a}.tags) < %(max)s RETURNING {columns}"
        ).format(table=kind.name, a=sql.Identifier(kind.alias), columns=kind.select_list())
    )


@cache
def remove_tag_query(kind: Kind) -> str:
    """Changes nothing (no row) when the record does not have the tag."""
    return text(
        sql.SQL(
            "UPDATE {table} {a} SET tags = array_remove({a}.tags, %(tag)s::text) "
            "WHERE {a}.id = %(id)s AND %(tag)s::text = ANY ({a}.tags) RETURNING {columns}"
        ).format(table=kind.name, a=sql.Identifier(kind.alias), columns=kind.select_list())
    )


@cache
def _insert(kind: Kind, names: tuple[str, ...], computed: tuple[str, ...]) -> str:
    values = [sql.Placeholder(n) for n in names] + [NOW for _ in computed]
    return text(
        sql.SQL("INSERT INTO {table} AS {a} ({columns}) VALUES ({values}) {returning}").format(
            table=kind.name,
            a=sql.Identifier(kind.alias),
            columns=sql.SQL(", ").join(sql.Identifier(n) for n in names + computed),
            values=sql.SQL(", ").join(values),
            returning=_returning(kind),
        )
    )


@cache
def _update(kind: Kind, names: tuple[str, ...], computed: tuple[str, ...]) -> str:
    sets = [sql.SQL("{} = {}").format(sql.Identifier(n), sql.Placeholder(n)) for n in names]
    sets += [sql.SQL("{} = {}").format(sql.Identifier(n), NOW) for n in computed]
    return text(
        sql.SQL("UPDATE {table} AS {a} SET {sets} WHERE {a}.id = %(id)s {returning}").format(
            table=kind.name,
            a=sql.Identifier(kind.alias),
            sets=sql.SQL(", ").join(sets),
            returning=_returning(kind),
        )
    )


def _split(kind: Kind, values: Mapping[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...], dict[str, Any]]:
    """The bound columns, the computed ones, and the bind parameters, in the kind's own column order (so
    that a statement is composed once per set of columns)."""
    unknown = set(values) - set(kind.insertable)
    if unknown:
        raise ValueError(f"not columns a {kind.singular} write sets: {sorted(unknown)}")
    present = [n for n in kind.insertable if n in values]
    computed = tuple(n for n in present if values[n] is NOW)
    names = tuple(n for n in present if values[n] is not NOW)
    params = {n: Jsonb(values[n]) if isinstance(values[n], dict) else values[n] for n in names}
    return names, computed, params


async def insert(conn: Conn, kind: Kind, values: Mapping[str, Any]) -> DictRow:
    """A new record with `values` (already checked: crm/contacts/service.py); the rest are the table's
    defaults."""
    names, computed, params = _split(kind, values)
    row = await fetch_one(conn, _insert(kind, names, computed), params)
    assert row is not None  # an INSERT … RETURNING returns its row or raises
    return row


async def update(conn: Conn, kind: Kind, record_id: uuid.UUID, changes: Mapping[str, Any]) -> DictRow | None:
    """The record with `changes` set, or None when it is not there (or not in the caller's agency)."""
    names, computed, params = _split(kind, changes)
    if not names and not computed:
        return await fetch_one(conn, get_query(kind), (record_id,))
    return await fetch_one(conn, _update(kind, names, computed), params | {"id": record_id})
