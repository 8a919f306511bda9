"""Fixtures for tests that need the API running: a real server and a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from aiosmtpd.controller import Controller

from gardenos.embedded.postgres import free_port
from tests.live import Api, Mailbox, serve
from tests.support import SessionDatabase


@pytest.fixture(scope="session")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture(scope="session")
def api(database: SessionDatabase, mailbox: tuple[Mailbox, int]) -> Iterator[Api]:
    yield from serve(database, mailbox)


@pytest.fixture
def clear_rate_limits(database: SessionDatabase) -> Iterator[None]:
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        conn.execute("TRUNCATE auth.rate_limits")
    yield
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        conn.execute("TRUNCATE auth.rate_limits")
