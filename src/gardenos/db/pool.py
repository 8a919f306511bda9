"""The API's connection pool and the one way requests touch the database: a scoped transaction.

Each request runs in one transaction whose first statement switches to the role the verified JWT
names and puts the claims in `request.jwt.claims`, both transaction-local (`set_config(..., true)`),
so nothing leaks to the next user of a pooled connection. This is PostgREST's model.

The same statement sets the role's `statement_timeout`, transaction-local too. Not `ALTER ROLE … SET`:
a role's settings apply when it logs in, and the API logs in once as `authenticator` and then switches
role; and not a second statement, which would cost reads their single round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, Literal

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.abc import Params
from psycopg.rows import TupleRow
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from psycopg_pool.base import AttemptWithBackoff

from gardenos.errors import DatabaseUnavailable, GardenError

ApiRole = Literal["anon", "authenticated", "service_role"]
API_ROLES: frozenset[str] = frozenset({"anon", "authenticated", "service_role"})

SCOPE = (
    "SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true), "
    "set_config('statement_timeout', %s, true)"
)

# /ready: reachable, writable (not a standby, not read-only), and which migration it is at.
READINESS = """
SELECT (SELECT max(version) FROM gardenos.schema_migrations),
       pg_is_in_recovery(),
       current_setting('transaction_read_only') = 'on'
"""

Conn = AsyncConnection[TupleRow]
# A statement and its parameters.
Statement = tuple[str | bytes | sql.SQL | sql.Composed, Params | None]
# How long psycopg_pool keeps retrying one lost connection before it gives up; a request that is
# waiting then starts a new attempt (see `_begin`), so an outage of any length is retried.
RECONNECT_TIMEOUT_S = 1.0
WAIT_SLICE_S = 0.25

# psycopg_pool retries a failed connection after 1 s, then 2 s, 4 s…; its only knobs for that are these
# class attributes. With them the API came back 1.0-2.0 s after HAProxy routed a new leader. Retrying
# after 0.1 s, growing by half each time (0.1, 0.25, 0.5, 0.8 s, then give up at 1 s) costs a refused
# loopback connection per attempt while the database is away.
AttemptWithBackoff.INITIAL_DELAY = 0.1
AttemptWithBackoff.DELAY_BACKOFF = 1.5


class Database:
    """Owns the pool. Everything else receives a connection from `transaction()`."""

    def __init__(
        self,
        conninfo: str,
        *,
        min_size: int = 2,
        max_size: int = 20,
        timeout: float = 5.0,
        statement_timeouts: Mapping[str, float] | None = None,
    ) -> None:
        self.timeout = timeout
        # Seconds one statement may run, per role (0 or absent: no limit).
        self.statement_timeouts: Mapping[str, float] = dict(statement_timeouts or {})
        self.max_size = max_size
        self._checks: set[asyncio.Task[None]] = set()
        # No check on checkout: it costs a round trip per request. A connection that died with the server
        # (restart, failover) is found by the transaction's first round trip instead, which is retried on
        # a fresh connection (`_begin`); the pool drops a broken connection when it is returned.
        self.pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            conninfo,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            kwargs={"connect_timeout": max(1, int(timeout))},
            # psycopg_pool retries a failed connection for this long; left at its default (10 min, with
            # a doubling backoff) a 20 s failover added ~10 s of 503s.
            reconnect_timeout=RECONNECT_TIMEOUT_S,
            name="gardenos-api",
        )

    def with_statement_timeout(self, seconds: float) -> Database:
        """The same pool, with one statement timeout for every role (the agents' own, in the API process)."""
        view = copy.copy(self)
        view.statement_timeouts = dict.fromkeys(API_ROLES, seconds)
        return view

    async def open(self) -> None:
        # wait=False: the API starts (and /ready says 503) even while the database is still down.
        await self.pool.open(wait=False)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def transaction(
        self, role: ApiRole, claims: Mapping[str, Any] | None = None
    ) -> AsyncIterator[Conn]:
        """One transaction as `role` with `claims`: committed if the block succeeds, else rolled back.

        A connection lost before the block ran is replaced transparently. One lost inside the block is
        a 503: nothing the block did was committed, so the caller may safely retry. One lost while
        committing is a 503 that says the outcome is unknown.
        """
        scope = self._scope(role, claims)
        async with AsyncExitStack() as stack:
            conn, _ = await self._begin(stack, scope)
            try:
                yield conn
            except psycopg.OperationalError as exc:
                if not conn.broken:
                    await conn.rollback()
                    raise
                raise DatabaseUnavailable(
                    "the database connection was lost during the request; nothing was saved, try again",
                    details=str(exc),
                ) from exc
            except Exception:
                if not conn.broken:
                    await conn.rollback()
                raise
            try:
                await conn.commit()
            except psycopg.OperationalError as exc:
                raise DatabaseUnavailable(
                    "the database connection was lost while saving: the change may or may not have been "
                    "saved; check before trying again",
                    details=str(exc),
                ) from exc

    async def read(
        self, role: ApiRole, claims: Mapping[str, Any] | None, statements: Sequence[Statement]
    ) -> list[tuple[Any, ...] | None]:
        """Statements that only read, as `role` with `claims`, in one round trip: BEGIN, the scope, the
        statements and COMMIT travel together (pipeline mode). The first row of each statement.

        The same transaction as `transaction()` gives, two round trips sooner: a read that needs no
        answer from the database before its next statement should come here. A connection found dead
        is replaced as in `transaction()` (nothing was committed: these statements only read)."""
        async with AsyncExitStack() as stack:
            _, cursors = await self._begin(stack, self._scope(role, claims), statements)
            return [await cursor.fetchone() for cursor in cursors]

    async def _begin(
        self, stack: AsyncExitStack, scope: tuple[str, str, str], reads: Sequence[Statement] = ()
    ) -> tuple[Conn, list[psycopg.AsyncCursor[TupleRow]]]:
        """A pooled connection inside a transaction that has run the scope statement; with `reads`,
        also those statements and COMMIT, whose cursors come back with the connection.

        All of it travels in one round trip (pipeline mode). If that round trip finds the connection
        dead, the next pooled connection is tried, until the pool's timeout.
        """
        deadline = time.monotonic() + self.timeout
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            try:
                # In slices: each new wait lets the pool start connecting again once its last attempt
                # gave up (RECONNECT_TIMEOUT_S), so a request waiting out a failover is served as soon
                # as the database is back rather than when the next request happens to arrive.
                conn = await self.pool.getconn(timeout=max(min(remaining, WAIT_SLICE_S), 0.05))
            except PoolTimeout as exc:
                if time.monotonic() < deadline:
                    attempt -= 1
                    continue
                raise self._pool_exhausted(exc) from exc
            except psycopg.OperationalError as exc:
                raise DatabaseUnavailable(
                    "the database is not reachable right now", details=str(exc)
                ) from exc
            try:
                async with conn.pipeline():
                    await conn.execute(SCOPE, scope)
                    cursors = [await conn.execute(query, params) for query, params in reads]
                    if reads:
                        await conn.commit()
            except BaseException as exc:
                if reads and not conn.broken:
                    with contextlib.suppress(psycopg.Error):
                        await conn.rollback()  # a refused statement: the transaction is aborted
                await self.pool.putconn(conn)  # a broken connection is discarded, not pooled
                stale = isinstance(exc, psycopg.OperationalError) and conn.broken
                if stale and attempt <= self.max_size and time.monotonic() < deadline:
                    # The server restarted or failed over since this connection was last used.
                    if attempt == 1:
                        self._check_soon()
                    continue
                # A statement cancelled by statement_timeout is an OperationalError too, but the
                # database is fine: it is the request's fault, answered as such (api/errors.py).
                if isinstance(exc, psycopg.OperationalError) and not isinstance(
                    exc, psycopg.errors.QueryCanceled
                ):
                    raise DatabaseUnavailable(
                        "the database is not reachable right now; try again shortly", details=str(exc)
                    ) from exc
                raise
            stack.push_async_callback(self.pool.putconn, conn)
            return conn, cursors

    def _scope(self, role: ApiRole, claims: Mapping[str, Any] | None) -> tuple[str, str, str]:
        return scope(role, claims, self.statement_timeouts.get(role, 0.0))

    def _pool_exhausted(self, exc: PoolTimeout) -> DatabaseUnavailable:
        stats = self.pool.get_stats()
        if stats.get("pool_size", 0) >= self.max_size and stats.get("pool_available", 0) == 0:
            error = DatabaseUnavailable(
                f"the server is busy: all {self.max_size} database connections stayed in use for "
                f"{self.timeout:g} s; try again shortly",
                details=str(exc),
                hint="raise GARDENOS_POOL_MAX_SIZE (and the database's max_connections) for more "
                "concurrent requests",
            )
            error.retry_after_s = 1
            return error
        return DatabaseUnavailable(
            "the database is not reachable right now; try again shortly", details=str(exc)
        )

    def _check_soon(self) -> None:
        """Drop the other dead idle connections in the background, so requests do not each find one."""
        task = asyncio.get_running_loop().create_task(self.pool.check(), name="gardenos-pool-check")
        self._checks.add(task)
        task.add_done_callback(self._checks.discard)

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


def scope(role: str, claims: Mapping[str, Any] | None, statement_timeout_s: float) -> tuple[str, str, str]:
    """`SCOPE`'s parameters: the role, its claims and its statement timeout (0: none)."""
    if role not in API_ROLES:
        raise ValueError(f"not an API role: {role!r}")
    return role, json.dumps(dict(claims or {})), f"{round(statement_timeout_s * 1000)}ms"
