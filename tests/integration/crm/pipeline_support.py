"""For the pipeline tests: rows set up directly as the database owner, reads that check what is stored, and
a way to lose a request's database connection in the middle of its transaction."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

# The API's backend that waits for a lock the blocker holds.
BLOCKED_BACKEND = """
SELECT pid, query FROM pg_stat_activity
WHERE application_name = 'gardenos-api' AND %s = ANY(pg_blocking_pids(pid))
"""


def insert(owner_url: str, table: str, agency_id: str, **fields: Any) -> str:
    """One row in `table` of `agency_id`; returns its id."""
    fields = {"agency_id": agency_id, **fields}
    values = [Jsonb(v) if isinstance(v, dict) else v for v in fields.values()]
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id::text").format(
        sql.Identifier("public", table),
        sql.SQL(", ").join(map(sql.Identifier, fields)),
        sql.SQL(", ").join(sql.Placeholder() * len(fields)),
    )
    with psycopg.connect(owner_url, autocommit=True) as conn:
        row = conn.execute(query, values).fetchone()
    assert row is not None
    return str(row[0])


def insert_activities(owner_url: str, agency_id: str, n: int, **subject: str) -> list[str]:
    return [
        insert(owner_url, "activities", agency_id, kind="note", subject=f"note {i}", **subject)
        for i in range(n)
    ]


def rows(owner_url: str, query: str, params: Any = None) -> list[dict[str, Any]]:
    with psycopg.connect(owner_url, autocommit=True, row_factory=dict_row) as conn:
        return conn.execute(query, params).fetchall()


def audit_rows(owner_url: str, action: str, record_id: str) -> list[dict[str, Any]]:
    return rows(
        owner_url,
        """SELECT actor_id::text, actor_role, agency_id::text, table_name, before, after, context
           FROM audit_log WHERE action = %s AND record_id = %s ORDER BY id""",
        (action, record_id),
    )


def cut_connection_while_blocked(
    owner_url: str, lock: str, lock_params: Any, send: Callable[[], httpx.Response]
) -> tuple[httpx.Response, str]:
    """Hold `lock` (a `SELECT … FOR UPDATE`) in a transaction of our own, `send` a request that needs that
    row half-way through its work, and once the request's backend waits for us, terminate it. Returns the
    answer and the statement that was waiting."""
    with psycopg.connect(owner_url) as blocker:
        assert blocker.execute(lock, lock_params).fetchone() is not None, "nothing to lock"
        pool = ThreadPoolExecutor(max_workers=1)
        try:
            future = pool.submit(send)
            with psycopg.connect(owner_url, autocommit=True) as admin:
                deadline = time.monotonic() + 20
                while (
                    waiting := admin.execute(BLOCKED_BACKEND, (blocker.info.backend_pid,)).fetchone()
                ) is None:
                    if future.done():
                        raise AssertionError(f"the request did not wait for the lock: {future.result().text}")
                    if time.monotonic() > deadline:
                        raise AssertionError("the request never waited for the lock")
                    time.sleep(0.02)
                pid, query = waiting
                assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        finally:
            # Released whatever happened, so a failed test cannot leave the request waiting forever.
            blocker.rollback()
            pool.shutdown(wait=True)
        return future.result(timeout=30), str(query)
