"""The feed as the API runs it: `app.state.change_feed`, started and stopped with the app, checking each
change with the app's revocation cache too, so a signed-out session stops receiving at once."""

from __future__ import annotations

import asyncio
import uuid

import psycopg
import pytest

from gardenos.api.app import create_app
from gardenos.auth.principal import Principal
from gardenos.auth.tokens import TokenService, agency_claims
from gardenos.db.target import DatabaseTarget
from gardenos.realtime.changes.feed import DatabaseChangeFeed
from gardenos.realtime.contracts import ChangeSpec
from tests.integration.realtime.changes.conftest import WAIT_S, Sink
from tests.support import SessionDatabase

pytestmark = pytest.mark.anyio


async def test_the_app_runs_the_feed_and_a_signed_out_session_stops_receiving(
    database: SessionDatabase,
) -> None:
    slot = f"test_{uuid.uuid4().hex[:16]}"
    settings = database.settings.model_copy(
        update={"realtime_slot_name": slot, "realtime_poll_interval_s": 0.02}
    )
    app = create_app(DatabaseTarget(settings))
    feed = app.state.change_feed
    assert isinstance(feed, DatabaseChangeFeed)
    tokens = TokenService(settings, database.target.secrets.jwt_secret)
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        slug = f"rt-{uuid.uuid4().hex[:12]}"
        agency = conn.execute(
            "INSERT INTO agencies (name, slug) VALUES (%s, %s) RETURNING id", (slug, slug)
        ).fetchone()
        user = conn.execute(
            "INSERT INTO auth.users (email) VALUES (%s) RETURNING id", (f"{slug}@rt.example",)
        ).fetchone()
        assert agency is not None
        assert user is not None
        conn.execute(
            "INSERT INTO memberships (agency_id, user_id, role) VALUES (%s, %s, 'member')",
            (agency[0], user[0]),
        )
        session = conn.execute(
            "INSERT INTO auth.sessions (user_id) VALUES (%s) RETURNING id", (user[0],)
        ).fetchone()
        assert session is not None
    token, _ = tokens.access_token(
        agency_claims(agency[0], "member", user[0]) | {"session_id": str(session[0])}
    )
    principal = Principal(tokens.verify(token), token)
    try:
        async with app.router.lifespan_context(app):
            await asyncio.wait_for(feed.reading.wait(), WAIT_S)
            sink = Sink()
            await feed.subscribe(principal, ChangeSpec("INSERT", "public", "leads"), sink)
            with psycopg.connect(database.owner_url, autocommit=True) as conn:
                conn.execute(
                    "INSERT INTO leads (agency_id, first_name) VALUES (%s, 'signed in')", (agency[0],)
                )
                await sink.wait(1)
                conn.execute("DELETE FROM auth.sessions WHERE id = %s", (session[0],))  # signed out
                conn.execute(
                    "INSERT INTO leads (agency_id, first_name) VALUES (%s, 'signed out')", (agency[0],)
                )
            # A member's lead committed after it: once that is in, the one before has been decided.
            other = Sink()
            await feed.subscribe(
                _service(tokens), ChangeSpec("INSERT", "public", "leads", f"agency_id=eq.{agency[0]}"), other
            )
            with psycopg.connect(database.owner_url, autocommit=True) as conn:
                conn.execute("INSERT INTO leads (agency_id, first_name) VALUES (%s, 'marker')", (agency[0],))
            await other.wait(1)
            assert [e["record"]["first_name"] for e in sink.events] == ["signed in"]
        assert not feed.reading.is_set()
    finally:
        with psycopg.connect(database.owner_url, autocommit=True) as conn:
            conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))


def _service(tokens: TokenService) -> Principal:
    token = tokens.api_key("service_role")
    return Principal(tokens.verify(token), token)
