"""The test session's own PostgreSQL: the embedded server, started in a temporary folder on a free port.

It is the same launcher `gardenos up` uses. As root (CI), the server runs as the `gardenos` system
user and the temporary folder (0700) is out of its reach, so the launcher's relocation runs too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from gardenos.db.target import DatabaseTarget
from tests.support import SessionDatabase, make_settings, moto_server, remove_runtime

CLUSTER_TESTS = "tests/cluster/"


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`make test` runs the suite on two xdist workers (`-n 2 --dist loadgroup`): every test of
    tests/cluster/ goes to one of them, in order, as they share one cluster and `test_down.py` (last) brings
    it down; the rest are shared out one by one. xdist's own `xdist_group` marks do not do it with pytest 9
    (xdist 3.8 renames `item._nodeid`, which pytest 9 no longer reads): the grouping is this scheduler's."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ClusterTogether(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return "tests/cluster" if nodeid.startswith(CLUSTER_TESTS) else nodeid

    return ClusterTogether(config, log)


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
