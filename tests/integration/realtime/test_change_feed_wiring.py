"""How a channel uses the database-change feed (realtime/contracts.py): a join's `postgres_changes`
entries become subscriptions, the reply carries their ids as Supabase's does, and what the feed hands
the sink reaches the client as `postgres_changes` (or a `system` message for a gap). The feed here is a
stand-in that records what it is asked (the real one is `realtime/changes/`, tested on its own)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from gardenos.auth.principal import Principal
from gardenos.auth.tokens import TokenService
from gardenos.db.target import DatabaseTarget
from gardenos.embedded.postgres import free_port
from gardenos.realtime.contracts import ChangeMessage, ChangeSink, ChangeSpec, InvalidChangeSpec
from tests.integration.realtime.conftest import eventually, realtime_client, resign, subscribed
from tests.live import Api, Member, ServerThread, agency_owner
from tests.support import SessionDatabase

pytestmark = pytest.mark.anyio

CHANGE = {
    "schema": "public",
    "table": "leads",
    "commit_timestamp": "2026-01-01T00:00:00Z",
    "type": "INSERT",
    "columns": [{"name": "id", "type": "uuid"}],
    "record": {"id": "x"},
    "old_record": {},
    "errors": None,
}


@dataclass
class Subscription:
    principal: Principal
    spec: ChangeSpec
    sink: ChangeSink
    loop: asyncio.AbstractEventLoop
    principals: list[Principal] = field(default_factory=list)
    closed: bool = False

    def set_principal(self, principal: Principal) -> None:
        self.principals.append(principal)

    async def close(self) -> None:
        self.closed = True

    def run(self, call: Any) -> None:
        """Call the sink in the server's own loop, as the feed does."""
        asyncio.run_coroutine_threadsafe(call, self.loop).result(timeout=10)


@dataclass
class RecordingFeed:
    subscriptions: list[Subscription] = field(default_factory=list)

    async def subscribe(self, principal: Principal, spec: ChangeSpec, sink: ChangeSink) -> Subscription:
        if spec.table == "nope":
            raise InvalidChangeSpec("table public.nope is not exposed")
        subscription = Subscription(principal, spec, sink, asyncio.get_running_loop())
        self.subscriptions.append(subscription)
        return subscription


@pytest.fixture(scope="module")
def fed(database: SessionDatabase) -> Iterator[tuple[str, str, RecordingFeed]]:
    target = DatabaseTarget(database.settings)
    feed = RecordingFeed()
    server = ServerThread(target, free_port())
    server.server.config.app.state.change_feed = feed
    with server as url:
        yield url, TokenService(database.settings, target.secrets.jwt_secret).api_key("anon"), feed


@pytest.fixture(scope="module")
def owner(api: Api) -> Member:
    return agency_owner(api, "Changes Agency")


async def test_postgres_changes_subscribe_deliver_gap_refresh_and_leave(
    fed: tuple[str, str, RecordingFeed], owner: Member, database: SessionDatabase
) -> None:
    url, anon, feed = fed
    got: list[dict[str, Any]] = []
    notes: list[str] = []
    async with realtime_client(url, anon, owner.access_token) as client:
        channel = client.channel(f"changes-{uuid.uuid4().hex[:6]}")
        channel.on_postgres_changes("INSERT", got.append, table="leads", filter="score=gt.5")
        channel.on_postgres_changes("*", got.append, schema="public", table="clients")
        channel.on_system(lambda payload: notes.append(payload.message))
        assert (await subscribed(channel))[0] == "SUBSCRIBED"
        first, second = feed.subscriptions[-2:]
        assert first.spec == ChangeSpec("INSERT", "public", "leads", "score=gt.5")
        assert second.spec == ChangeSpec("*", "public", "clients", None)
        assert str(first.principal.user_id) == owner.user_id
        await eventually(lambda: "Subscribed to PostgreSQL" in notes, "the subscribed notice")

        first.run(first.sink.deliver(ChangeMessage(CHANGE)))
        await eventually(lambda: got, "the change reached the first binding")
        assert got[0]["data"] == CHANGE
        assert len(got[0]["ids"]) == 1
        first.run(first.sink.gap("the database failed over: changes may have been missed"))
        await eventually(lambda: any("failed over" in note for note in notes), "the gap notice")

        tokens = TokenService(database.settings, database.target.secrets.jwt_secret)
        await client.set_auth(resign(tokens, owner.access_token, iat=1))
        await eventually(
            lambda: first.principals and second.principals, "the refreshed caller reached the feed"
        )
        await client.remove_channel(channel)
        await eventually(lambda: first.closed and second.closed, "leaving closed the subscriptions")


async def test_a_spec_the_feed_refuses_fails_the_join_with_its_message(
    fed: tuple[str, str, RecordingFeed], owner: Member, api: Api
) -> None:
    url, anon, _ = fed
    async with realtime_client(url, anon, owner.access_token) as client:
        channel = client.channel("changes-refused")
        channel.on_postgres_changes("INSERT", lambda change: None, table="nope")
        state, error = await subscribed(channel)
        assert state == "CHANNEL_ERROR"
        assert "table public.nope is not exposed" in str(error)
    # The server's own feed (realtime/changes/) refuses a table it does not expose the same way.
    async with realtime_client(api.url, api.anon_key, owner.access_token) as client:
        channel = client.channel("changes-unknown")
        channel.on_postgres_changes("INSERT", lambda change: None, table="no_such_table")
        state, error = await subscribed(channel)
        assert state == "CHANNEL_ERROR"
        assert "no_such_table" in str(error)
