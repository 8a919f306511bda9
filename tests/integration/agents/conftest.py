"""Fixtures for the agents' tests: a pool over the session database as the API's login, agencies made by
the owner, settings with short leases and retries, and agent types unique to a test (the queue is shared
by the whole session: a test's orchestrator must not pick up another test's tasks)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import psycopg
import pytest

from gardenos.agents.base import BaseAIAgent
from gardenos.db.pool import Database
from gardenos.settings import Settings
from tests.support import SessionDatabase


def agent_settings(database: SessionDatabase, **overrides: Any) -> Settings:
    return database.settings.model_copy(
        update={
            "ai_lease_s": 3.0,
            "ai_poll_interval_s": 0.2,
            "ai_retry_base_s": 0.01,
            "ai_retry_max_s": 0.05,
            "ai_embedder": "hashing",
            "ai_embed_sweep_s": 0,
            "ai_autoscale": False,
            "ai_pool_min": 0,
            **overrides,
        }
    )


def unique_type(base: type[BaseAIAgent], **attributes: Any) -> type[BaseAIAgent]:
    name = f"{base.agent_type}_{uuid.uuid4().hex[:10]}"
    return type(f"{base.__name__}_{name}", (base,), {"agent_type": name, **attributes})


def make_agency(owner_url: str, name: str = "Agents") -> uuid.UUID:
    with psycopg.connect(owner_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO agencies (name, slug) VALUES (%s, %s) RETURNING id",
            (name, f"{name.lower()}-{uuid.uuid4().hex[:12]}"),
        ).fetchone()
    assert row is not None
    return uuid.UUID(str(row[0]))


@pytest.fixture
def agency(database: SessionDatabase) -> uuid.UUID:
    return make_agency(database.owner_url)


@pytest.fixture
def other_agency(database: SessionDatabase) -> uuid.UUID:
    return make_agency(database.owner_url, "Other")


@pytest.fixture
async def db(database: SessionDatabase) -> AsyncIterator[Database]:
    pool = Database(database.api_url, min_size=1, max_size=12, timeout=10.0)
    await pool.open()
    await pool.pool.wait()
    yield pool
    await pool.close()


@pytest.fixture
def owner_conn(database: SessionDatabase) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        yield conn
