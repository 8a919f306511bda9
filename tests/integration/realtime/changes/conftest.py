"""A change feed of its own (its own replication slot) over the session's database, agencies and members
made as the owner, and sinks that collect what reaches them."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from gardenos.auth.principal import Principal
from gardenos.auth.tokens import TokenService, agency_claims
from gardenos.db.pool import Database
from gardenos.realtime.changes.feed import DatabaseChangeFeed
from gardenos.realtime.contracts import ChangeMessage
from tests.support import SessionDatabase

# Long enough for a loaded machine; only a bound on a wait that should end far sooner, never a measure.
WAIT_S = 60.0


@dataclass
class Sink:
    events: list[dict[str, Any]] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def deliver(self, change: ChangeMessage) -> None:
        async with self.arrived:
            self.events.append(json.loads(change.json))
            self.arrived.notify_all()

    async def gap(self, reason: str) -> None:
        async with self.arrived:
            self.gaps.append(reason)
            self.arrived.notify_all()

    async def wait_for(self, done: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]]:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: done(self.events)), WAIT_S)
        return self.events

    async def wait_gap(self) -> list[str]:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: bool(self.gaps)), WAIT_S)
        return self.gaps

    async def wait(self, count: int) -> list[dict[str, Any]]:
        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(lambda: len(self.events) >= count), WAIT_S)
        return self.events


@dataclass(frozen=True)
class Member:
    agency_id: str
    user_id: str
    principal: Principal


@dataclass
class World:
    database: SessionDatabase
    feed: DatabaseChangeFeed
    tokens: TokenService

    def owner(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.database.owner_url, autocommit=True)

    def agency(self) -> str:
        with self.owner() as conn:
            slug = f"rt-{uuid.uuid4().hex[:12]}"
            row = conn.execute(
                "INSERT INTO agencies (name, slug) VALUES (%s, %s) RETURNING id::text", (slug, slug)
            ).fetchone()
        assert row is not None
        return str(row[0])

    def member(self, agency_id: str, role: str = "member") -> Member:
        with self.owner() as conn:
            row = conn.execute(
                "INSERT INTO auth.users (email) VALUES (%s) RETURNING id::text",
                (f"{uuid.uuid4().hex[:12]}@rt.example",),
            ).fetchone()
            assert row is not None
            conn.execute(
                "INSERT INTO memberships (agency_id, user_id, role) VALUES (%s, %s, %s)",
                (agency_id, row[0], role),
            )
        return Member(agency_id, str(row[0]), self.principal(agency_claims(agency_id, role, row[0])))

    def principal(self, claims: dict[str, Any]) -> Principal:
        token, _ = self.tokens.access_token(claims)
        return Principal(self.tokens.verify(token), token)

    def service(self) -> Principal:
        token = self.tokens.api_key("service_role")
        return Principal(self.tokens.verify(token), token)


@pytest.fixture
async def world(database: SessionDatabase) -> AsyncIterator[World]:
    pool = Database(database.api_url, min_size=1, max_size=8)
    await pool.open()
    slot = f"test_{uuid.uuid4().hex[:16]}"
    feed = DatabaseChangeFeed(pool, database.owner_url, slot_name=slot, poll_interval_s=0.02)
    await feed.start()
    try:
        await asyncio.wait_for(feed.reading.wait(), WAIT_S)
        yield World(database, feed, TokenService(database.settings, database.target.secrets.jwt_secret))
    finally:
        await feed.stop()
        await pool.close()
        with psycopg.connect(database.owner_url, autocommit=True) as conn:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
