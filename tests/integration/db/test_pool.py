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
