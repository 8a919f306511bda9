"""/health and /ready against a PostgreSQL of the test's own, which the test stops and restarts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from gardenos.api.app import create_app
from gardenos.db.migrate import latest_version
from gardenos.db.target import DatabaseTarget
from tests.support import make_settings, remove_runtime

pytestmark = pytest.mark.anyio


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[DatabaseTarget]:
    settings = make_settings(tmp_path, pool_timeout_s=2.0)
    target = DatabaseTarget(settings)
    assert target.embedded is not None
    target.embedded.start()
    target.prepare()
    try:
        yield target
    finally:
        target.embedded.stop()
        remove_runtime(settings)


@pytest.fixture
async def client(own_database: DatabaseTarget) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(own_database)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gardenos.test") as client,
    ):
        yield client


async def _wait_ready(client: httpx.AsyncClient, attempts: int = 120) -> httpx.Response:
    """Poll /ready until it says 200 (the pool reconnects in the background), at most ~30 s."""
    response = await client.get("/ready")
    for _ in range(attempts):
        if response.status_code == 200:
            break
        await asyncio.sleep(0.25)
        response = await client.get("/ready")
    return response


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    health = await client.get("/health")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    ready = await _wait_ready(client)
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "database": "ok",
        "writable": True,
        "migration": latest_version(),
    }


async def test_ready_is_503_while_the_database_is_down_and_recovers(
    client: httpx.AsyncClient, own_database: DatabaseTarget
) -> None:
    assert own_database.embedded is not None
    assert (await _wait_ready(client)).status_code == 200

    own_database.embedded.stop()
    down = await client.get("/ready")
    assert down.status_code == 503
    assert down.json()["status"] == "not_ready"
    assert "not reachable" in down.json()["reason"]
    assert down.headers["Retry-After"]
    # The process itself is alive: liveness does not depend on the database.
    assert (await client.get("/health")).status_code == 200

    own_database.embedded.start()
    assert (await _wait_ready(client)).status_code == 200


async def test_ready_is_503_when_migrations_are_behind(
    client: httpx.AsyncClient, own_database: DatabaseTarget
) -> None:
    """As after an upgrade whose migrations have not run yet: the record of the newest one is missing."""
    with psycopg.connect(own_database.owner_url, autocommit=True) as conn:
        conn.execute("DELETE FROM gardenos.schema_migrations WHERE version = %s", (latest_version(),))
    response = await client.get("/ready")
    assert response.status_code == 503
    assert "migrations are not current" in response.json()["reason"]


async def test_unknown_route_gets_the_error_shape(client: httpx.AsyncClient) -> None:
    # Under an API prefix: any other path belongs to the web app (its index.html, when it is built).
    response = await client.get("/api/v1/no/such/thing")
    assert response.status_code == 404
    assert set(response.json()) == {"code", "message", "details", "hint"}
