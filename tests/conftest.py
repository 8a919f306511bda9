"""The test session's own PostgreSQL: the embedded server, started in a temporary folder on a free port.

It is the same launcher `gardenos up` uses. As root (CI), the server runs as the `gardenos` system
user and the temporary folder (0700) is out of its reach, so the launcher's relocation runs too.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from gardenos.db.target import DatabaseTarget
from tests.support import SessionDatabase, make_settings, moto_server, remove_runtime


@pytest.fixture(scope="session")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionDatabase]:
    settings = make_settings(tmp_path_factory.mktemp("gardenos"))
    target = DatabaseTarget(settings)
    assert target.embedded is not None
    target.embedded.start()
    try:
        target.prepare()
        yield SessionDatabase(settings, target)
    finally:
        target.embedded.stop()
        remove_runtime(settings)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3-compatible server on loopback with the bucket `tests.support.S3_BUCKET`; its endpoint."""
    with moto_server(tmp_path_factory.mktemp("moto") / "moto.log") as endpoint:
        yield endpoint


@pytest.fixture
def owner(database: SessionDatabase) -> Iterator[psycopg.Connection]:
    """A connection as the database owner (a superuser: bypasses RLS; for setting up data only)."""
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
