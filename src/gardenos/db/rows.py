"""Rows as dicts: the one `fetch_one` / `fetch_all` every package reads with."""

from __future__ import annotations

from typing import Any

from psycopg.rows import DictRow, dict_row

from gardenos.db.pool import Conn


async def fetch_one(conn: Conn, query: str, params: Any = None) -> DictRow | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params)
        return await cur.fetchone()


async def fetch_all(conn: Conn, query: str, params: Any = None) -> list[DictRow]:
    # Never prepared: the lists' optional filters (`%(x)s IS NULL OR …`) fold away only in a plan made for
    # the actual values, and a prepared statement may switch to one generic plan for all of them.
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params, prepare=False)
        return await cur.fetchall()
