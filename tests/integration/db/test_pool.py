"""The API's pool: a connection that died since its last use is replaced without the request noticing, a
connection lost mid-request is a retryable 503 that saved nothing, and a full pool says it is busy."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from gardenos.db.pool import Database
from gardenos.errors import DatabaseUnavailable
from tests.support import SessionDatabase

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pool(database: SessionDatabase) -> AsyncIterator[Database]:
    db = Database(database.api_url, min_size=2, max_size=2, timeout=2.0)
    await db.open()
    await db.pool.wait()
    yield db
    await db.close()


def _terminate(database: SessionDatabase, pids: list[int]) -> None:
    with psycopg.connect(database.owner_url, autocommit=True) as owner:
        for pid in pids:
            owner.execute("SELECT pg_terminate_backend(%s, 5000)", (pid,))


async def _backend_pids(db: Database) -> list[int]:
    pids = []
    async with db.transaction("service_role") as a, db.transaction("service_role") as b:
        for conn in (a, b):
            pids.append((await (await conn.execute("SELECT pg_backend_pid()")).fetchone())[0])  # type: ignore[index]
    return pids


async def test_connections_that_died_while_idle_are_replaced_unnoticed(
    database: SessionDatabase, pool: Database
) -> None:
    old = await _backend_pids(pool)
    _terminate(database, old)  # what a database restart or a failover does to every pooled connection

    async with pool.transaction("service_role") as conn:
        pid = (await (await conn.execute("SELECT pg_backend_pid()")).fetchone())[0]  # type: ignore[index]

    assert pid not in old


async def test_a_connection_lost_mid_request_is_a_503_that_saved_nothing(
    database: SessionDatabase, pool: Database
) -> None:
    slug = f"lost-{uuid.uuid4().hex[:8]}"

    async def write_then_lose_the_connection() -> None:
        async with pool.transaction("service_role") as conn:
            await conn.execute("INSERT INTO agencies (name, slug) VALUES ('Lost', %s)", (slug,))
            pid = (await (await conn.execute("SELECT pg_backend_pid()")).fetchone())[0]  # type: ignore[index]
            _terminate(database, [pid])
            await conn.execute("SELECT 1")

    with pytest.raises(DatabaseUnavailable, match="nothing was saved") as caught:
        await write_then_lose_the_connection()

    assert caught.value.status_code == 503
    assert caught.value.retry_after_s is not None
    with psycopg.connect(database.owner_url) as owner:
        assert owner.execute("SELECT count(*) FROM agencies WHERE slug = %s", (slug,)).fetchone() == (0,)


async def test_a_full_pool_answers_busy_with_a_retry_hint(pool: Database) -> None:
    pool.timeout = 0.5
    async with pool.transaction("service_role"), pool.transaction("service_role"):
        with pytest.raises(DatabaseUnavailable, match="busy") as caught:
            async with pool.transaction("service_role"):
                pass

    assert caught.value.retry_after_s == 1
    assert caught.value.hint is not None
    assert "GARDENOS_POOL_MAX_SIZE" in caught.value.hint


async def test_a_read_runs_scoped_in_one_transaction_and_returns_each_first_row(pool: Database) -> None:
    claims = {"role": "authenticated", "sub": str(uuid.uuid4())}
    rows = await pool.read(
        "authenticated",
        claims,
        [
            ("SELECT current_user, auth.uid()::text", None),
            ("SELECT txid_current_if_assigned() IS NULL, %s::int + 1", (41,)),
        ],
    )
    assert rows == [("authenticated", claims["sub"]), (True, 42)]
    # Committed and returned: the connection is idle, with no role or claims left behind.
    async with pool.transaction("anon") as conn:
        row = await (
            await conn.execute("SELECT current_user, current_setting('request.jwt.claims')")
        ).fetchone()
    assert row == ("anon", "{}")


async def test_a_refused_read_raises_and_leaves_the_pool_clean(pool: Database) -> None:
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        await pool.read("anon", None, [("SELECT 'not a uuid'::uuid", None), ("SELECT 1", None)])
    stats = pool.pool.get_stats()
    # Both connections are back, usable, and the aborted transaction was rolled back (not left to the pool).
    assert stats.get("returns_bad", 0) == 0
    for _ in range(2):
        assert await pool.read("anon", None, [("SELECT 1", None)]) == [(1,)]


async def test_a_read_on_a_connection_that_died_while_idle_is_retried_unnoticed(
    database: SessionDatabase, pool: Database
) -> None:
    _terminate(database, await _backend_pids(pool))
    assert await pool.read("service_role", None, [("SELECT 1", None)]) == [(1,)]
