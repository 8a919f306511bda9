"""`statement_timeout` per role (issue 14, finding 5: no statement had a time limit, so one request could
keep a connection busy for as long as it asked): the API's roles, the importer and the agents each
with their own, set transaction-locally where their transactions start, never left on a pooled
connection for the next user."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import psycopg
import pytest

from gardenos.agents.queue import ServiceConnections
from gardenos.db.pool import Database
from gardenos.importer.service import Importer
from tests.support import SessionDatabase

pytestmark = pytest.mark.anyio

SHOW = ("SHOW statement_timeout", None)


@pytest.fixture
async def pool(database: SessionDatabase) -> AsyncIterator[Database]:
    # One connection: every transaction below reuses it, so a leaked setting would show.
    db = Database(
        database.api_url,
        min_size=1,
        max_size=1,
        timeout=2.0,
        statement_timeouts={"anon": 1.5, "authenticated": 7, "service_role": 0},
    )
    await db.open()
    yield db
    await db.close()


async def test_each_api_role_gets_its_own_timeout_in_the_reads_single_round_trip(pool: Database) -> None:
    claims = {"role": "authenticated", "sub": str(uuid.uuid4())}
    assert await pool.read("authenticated", claims, [SHOW]) == [("7s",)]
    assert await pool.read("anon", None, [SHOW]) == [("1500ms",)]
    assert await pool.read("service_role", None, [SHOW]) == [("0",)]


async def test_the_timeout_is_transaction_local(pool: Database) -> None:
    async with pool.transaction("authenticated", {"role": "authenticated"}) as conn:
        assert await (await conn.execute(SHOW[0])).fetchone() == ("7s",)
    async with pool.pool.connection() as conn:
        # Back in the pool: the login's own default, not the last request's.
        assert await (await conn.execute(SHOW[0])).fetchone() == ("0",)


async def test_a_statement_past_the_timeout_is_cancelled(pool: Database) -> None:
    with pytest.raises(psycopg.errors.QueryCanceled):
        await pool.read("anon", None, [("SELECT pg_sleep(30)", None)])
    assert await pool.read("anon", None, [("SELECT 1", None)]) == [(1,)]


async def test_the_agents_view_shares_the_pool_with_its_own_timeout(pool: Database) -> None:
    agents = pool.with_statement_timeout(42)
    assert agents.pool is pool.pool
    assert await agents.read("authenticated", {"role": "authenticated"}, [SHOW]) == [("42s",)]
    assert await pool.read("authenticated", {"role": "authenticated"}, [SHOW]) == [("7s",)]


async def test_the_agents_queue_connections_have_the_agents_timeout(database: SessionDatabase) -> None:
    service = ServiceConnections(database.api_url, size=1, timeout_s=2.0, statement_timeout_s=9)
    await service.open()
    try:
        async with service.connection() as conn:
            assert await (await conn.execute(SHOW[0])).fetchone() == ("9s",)
    finally:
        await service.close()


def test_the_importer_has_its_own_timeout(database: SessionDatabase) -> None:
    with psycopg.connect(database.api_url) as conn:
        importer = Importer(conn, {"role": "authenticated"}, statement_timeout_s=120)
        with importer._tx() as cur:
            assert cur.execute(SHOW[0]).fetchone() == ("2min",)
