"""The API's connection pool and the one way requests touch the database: a scoped transaction.

Each request runs in one transaction whose first statement switches to the role the verified JWT
names and puts the claims in `request.jwt.claims`, both transaction-local (`set_config(..., true)`),
so nothing leaks to the next user of a pooled connection. This is PostgREST's model.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gardenos.errors import DatabaseUnavailable, GardenError

ApiRole = Literal["anon", "authenticated", "service_role"]
API_ROLES: frozenset[str] = frozenset({"anon", "authenticated", "service_role"})

SCOPE = "SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true)"

# /ready: reachable, writable (not a standby, not read-only), and which migration it is at.
READINESS = """
SELECT (SELECT max(version) FROM gardenos.schema_migrations),
       pg_is_in_recovery(),
       current_setting('transaction_read_only') = 'on'
"""

Conn = AsyncConnection[TupleRow]


class Database:
    """Owns the pool. Everything else receives a connection from `transaction()`."""

    def __init__(self, conninfo: str, *, min_size: int = 2, max_size: int = 20, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self.pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            # A connection that died with the server (restart, failover) is found out before a request
            # gets it, not by the request.
            check=AsyncConnectionPool.check_connection,
            kwargs={"connect_timeout": max(1, int(timeout))},
            name="gardenos-api",
        )

    async def open(self) -> None:
        # wait=False: the API starts (and /ready says 503) even while the database is still down.
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def transaction(
        self, role: ApiRole, claims: Mapping[str, Any] | None = None
    ) -> AsyncIterator[Conn]:
        """One transaction as `role` with `claims`: committed if the block succeeds, else rolled back."""
        if role not in API_ROLES:
            raise ValueError(f"not an API role: {role!r}")
        try:
            async with self.pool.connection() as conn, conn.transaction():
                await conn.execute(SCOPE, (role, json.dumps(dict(claims or {}))))
                yield conn
        except PoolTimeout as exc:
            raise DatabaseUnavailable(
                "the database is not reachable right now; try again shortly",
                details=str(exc),
            ) from exc
        except psycopg.OperationalError as exc:
            raise DatabaseUnavailable(
                "the database connection failed during the request; try again", details=str(exc)
            ) from exc

    async def readiness(self) -> tuple[int | None, bool]:
        """(applied migration version, writable). Raises DatabaseUnavailable when unreachable."""
        try:
            async with self.pool.connection(timeout=min(self.timeout, 2.0)) as conn:
                cur = await conn.execute(READINESS)
                row = await cur.fetchone()
        except (PoolTimeout, psycopg.OperationalError) as exc:
            raise DatabaseUnavailable("the database is not reachable", details=str(exc)) from exc
        except psycopg.Error as exc:
            raise GardenError(
                "the database answered the readiness check with an error", details=str(exc)
            ) from exc
        assert row is not None
        version, in_recovery, read_only = row
        return version, not (in_recovery or read_only)
