"""supabase-py's async realtime client (`realtime` 2.34: `vsn=1.0.0`, object frames) against a live API:
broadcast, presence, private channels under RLS, tokens, and broadcasts from HTTP and from SQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from gardenos.auth.tokens import TokenService
from tests.integration.realtime.conftest import (
    eventually,
    forge,
    raw_socket,
    realtime_client,
    resign,
    subscribed,
)
from tests.live import Api, Member, agency_owner
from tests.support import SessionDatabase

pytestmark = pytest.mark.anyio

PUBLIC = {"config": {"broadcast": {"self": True, "ack": True}, "private": False}}


@pytest.fixture(scope="module")
def owner(api: Api) -> Member:
    return agency_owner(api, "Realtime Agency")


@pytest.fixture(scope="module")
def tokens(database: SessionDatabase) -> TokenService:
    return TokenService(database.settings, database.target.secrets.jwt_secret)


@pytest.fixture(scope="module")
def open_topics(database: SessionDatabase) -> Iterator[None]:
    """Realtime Authorization as a project writes it: topics `open:*` may be read and written."""
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        conn.execute("DROP POLICY IF EXISTS open_read ON realtime.messages")
        conn.execute("DROP POLICY IF EXISTS open_write ON realtime.messages")
        conn.execute(
            "CREATE POLICY open_read ON realtime.messages FOR SELECT TO authenticated "
            "USING (realtime.topic() LIKE 'open:%')"
        )
        conn.execute(
            "CREATE POLICY open_write ON realtime.messages FOR INSERT TO authenticated "
            "WITH CHECK (realtime.topic() LIKE 'open:%' AND extension = 'broadcast')"
        )
    yield
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        conn.execute("DROP POLICY open_read ON realtime.messages")
        conn.execute("DROP POLICY open_write ON realtime.messages")


def _topic(prefix: str = "room") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def test_broadcast_reaches_the_others_and_self_when_asked(api: Api, owner: Member) -> None:
    got_a: list[dict[str, Any]] = []
    got_b: list[dict[str, Any]] = []
    topic = _topic()
    async with (
        realtime_client(api.url, api.anon_key, owner.access_token) as a,
        realtime_client(api.url, api.anon_key, owner.access_token) as b,
    ):
        ca = a.channel(topic, {"config": {"broadcast": {"self": True}, "private": False}})
        cb = b.channel(topic, {"config": {"broadcast": {"self": False}, "private": False}})
        ca.on_broadcast("*", got_a.append)
        cb.on_broadcast("ping", got_b.append)
        assert (await subscribed(ca))[0] == "SUBSCRIBED"
        assert (await subscribed(cb))[0] == "SUBSCRIBED"
        await ca.send_broadcast("ping", {"n": 1})
        await cb.send_broadcast("ping", {"n": 2})
        await eventually(lambda: len(got_a) == 2, "a hears its own message and b's")
        await eventually(lambda: got_b, "b hears a's message")
        assert sorted(m["payload"]["n"] for m in got_a) == [1, 2]
        # b sent `n: 2` without `self`: the first message it hears is a's, and a's alone.
        assert [m["payload"] for m in got_b] == [{"n": 1}]
        assert got_b[0]["event"] == "ping"


async def test_a_broadcast_with_ack_is_acknowledged(api: Api, owner: Member) -> None:
    topic = f"realtime:{_topic()}"
    async with raw_socket(api.url, api.anon_key) as ws:
        join = await ws.push(topic, "phx_join", PUBLIC | {"access_token": owner.access_token})
        assert (await ws.reply_to(join))["payload"] == {"status": "ok", "response": {"postgres_changes": []}}
        sent = await ws.push(topic, "broadcast", {"type": "broadcast", "event": "e", "payload": {"x": 1}})
        # The echo (through the database) and the ack may come in either order.
        frames = {}
        while not {"phx_reply", "broadcast"} <= set(frames):
            frame = await ws.receive()
            frames[frame["event"]] = frame
        assert frames["phx_reply"]["ref"] == sent
        assert frames["phx_reply"]["payload"] == {"status": "ok", "response": {}}
        assert frames["broadcast"]["payload"] == {"type": "broadcast", "event": "e", "payload": {"x": 1}}
        assert frames["broadcast"]["ref"] is None


async def test_presence_sync_join_and_leave(api: Api, owner: Member) -> None:
    topic = _topic()
    async with (
        realtime_client(api.url, api.anon_key, owner.access_token) as a,
        realtime_client(api.url, api.anon_key, owner.access_token) as b,
    ):
        config = {"config": {"presence": {"key": "alice", "enabled": True}, "private": False}}
        ca = a.channel(topic, config)
        joined: list[str] = []
        left: list[str] = []
        ca.on_presence_sync(lambda: None)
        ca.on_presence_join(lambda key, current, new: joined.append(key))
        ca.on_presence_leave(lambda key, current, gone: left.append(key))
        assert (await subscribed(ca))[0] == "SUBSCRIBED"
        await ca.track({"status": "online"})
        await eventually(lambda: "alice" in ca.presence_state(), "a sees itself")

        cb = b.channel(topic, {"config": {"presence": {"key": "bob", "enabled": True}, "private": False}})
        cb.on_presence_sync(lambda: None)
        assert (await subscribed(cb))[0] == "SUBSCRIBED"
        # The state b received on join holds a, tracked before b came.
        await eventually(lambda: "alice" in cb.presence_state(), "b's state holds alice")
        assert cb.presence_state()["alice"][0]["status"] == "online"
        await cb.track({"status": "busy"})
        await eventually(lambda: "bob" in joined, "a gets bob's join")
        await eventually(lambda: set(cb.presence_state()) == {"alice", "bob"}, "b sees both")
        await cb.untrack()
        await eventually(lambda: "bob" in left, "a gets bob's leave")
        assert set(ca.presence_state()) == {"alice"}
        await b.remove_channel(cb)
        await ca.untrack()
        await eventually(lambda: ca.presence_state() == {}, "alice left")


async def test_private_channels_follow_the_policies_on_realtime_messages(
    api: Api, owner: Member, open_topics: None
) -> None:
    got: list[dict[str, Any]] = []
    async with realtime_client(api.url, api.anon_key, owner.access_token) as client:
        allowed = client.channel(
            f"open:{_topic()}", {"config": {"broadcast": {"self": True}, "private": True}}
        )
        allowed.on_broadcast("*", got.append)
        assert (await subscribed(allowed))[0] == "SUBSCRIBED"
        await allowed.send_broadcast("hello", {"ok": True})
        await eventually(lambda: got, "the private broadcast came back")

        refused = client.channel(f"closed:{_topic()}", {"config": {"private": True}})
        state, error = await subscribed(refused)
        assert state == "CHANNEL_ERROR"
        assert "Unauthorized: You do not have permissions to read from this Channel topic" in str(error)

    # A public channel of the same name does not hear the private one, nor the private the public.
    topic = f"realtime:open:{_topic()}"
    async with raw_socket(api.url, api.anon_key) as public, raw_socket(api.url, api.anon_key) as private:
        config = {"config": {"broadcast": {"self": True, "ack": True}, "private": True}}
        for ws, join_config in ((public, PUBLIC), (private, config)):
            join = await ws.push(topic, "phx_join", join_config | {"access_token": owner.access_token})
            assert (await ws.reply_to(join))["payload"]["status"] == "ok"
        await private.push(topic, "broadcast", {"type": "broadcast", "event": "secret", "payload": {}})
        assert (await private.until("broadcast"))["payload"]["event"] == "secret"
        await public.push(topic, "broadcast", {"type": "broadcast", "event": "open", "payload": {}})
        assert (await public.until("broadcast"))["payload"]["event"] == "open"


async def test_presence_is_refused_where_the_policies_allow_broadcast_only(
    api: Api, owner: Member, open_topics: None
) -> None:
    topic = f"realtime:open:{_topic()}"
    async with raw_socket(api.url, api.anon_key) as ws:
        config = {"config": {"private": True, "presence": {"key": "k", "enabled": True}}}
        join = await ws.push(topic, "phx_join", config | {"access_token": owner.access_token})
        assert (await ws.reply_to(join))["payload"]["status"] == "ok"
        track = await ws.push(topic, "presence", {"type": "presence", "event": "track", "payload": {}})
        reply = (await ws.reply_to(track))["payload"]
        assert reply["status"] == "error"
        assert reply["response"]["reason"].startswith("Unauthorized")


async def test_two_agencies_on_one_topic_share_nothing(api: Api) -> None:
    a_owner, b_owner = agency_owner(api, "Topic Agency A"), agency_owner(api, "Topic Agency B")
    topic = _topic("shared")
    got_a: list[dict[str, Any]] = []
    got_b: list[dict[str, Any]] = []
    async with (
        realtime_client(api.url, api.anon_key, a_owner.access_token) as a,
        realtime_client(api.url, api.anon_key, b_owner.access_token) as b,
    ):
        config = {"config": {"broadcast": {"self": True}, "presence": {"key": "same", "enabled": True}}}
        ca, cb = a.channel(topic, config | {"private": False}), b.channel(topic, config)
        ca.on_broadcast("*", got_a.append)
        cb.on_broadcast("*", got_b.append)
        for channel in (ca, cb):
            channel.on_presence_sync(lambda: None)
            assert (await subscribed(channel))[0] == "SUBSCRIBED"
        await ca.track({"agency": "a"})
        await ca.send_broadcast("m", {"from": "a"})
        # b's own message comes after a's on the one bus: once b hears itself, a's would have come.
        await cb.send_broadcast("m", {"from": "b"})
        await eventually(lambda: got_b, "b hears itself")
        await eventually(lambda: len(got_a) == 1, "a hears itself")
        assert [m["payload"] for m in got_b] == [{"from": "b"}]
        assert [m["payload"] for m in got_a] == [{"from": "a"}]
        await cb.track({"agency": "b"})
        await eventually(lambda: cb.presence_state(), "b sees its own presence")
        assert [p["agency"] for p in cb.presence_state()["same"]] == ["b"]
        assert [p["agency"] for p in ca.presence_state()["same"]] == ["a"]


async def test_expired_and_forged_tokens_are_refused_at_join(
    api: Api, owner: Member, tokens: TokenService
) -> None:
    expired = resign(tokens, owner.access_token, exp=1)
    for token, reason in (
        (expired, "JWT expired"),
        (forge(owner.access_token), "JWT signature does not match"),
    ):
        async with realtime_client(api.url, api.anon_key, token) as client:
            state, error = await subscribed(client.channel(_topic()))
            assert state == "CHANNEL_ERROR"
            assert f"InvalidJWTToken: {reason}" in str(error)


async def test_a_refreshed_token_is_checked_and_a_bad_one_closes_the_channel(
    api: Api, owner: Member, tokens: TokenService
) -> None:
    topic = f"realtime:{_topic()}"
    async with raw_socket(api.url, api.anon_key) as ws:
        join = await ws.push(topic, "phx_join", PUBLIC | {"access_token": owner.access_token})
        assert (await ws.reply_to(join))["payload"]["status"] == "ok"
        fresh = resign(tokens, owner.access_token, iat=owner_iat(owner) + 1)
        await ws.push(topic, "access_token", {"access_token": fresh})
        still = await ws.push(topic, "broadcast", {"type": "broadcast", "event": "e", "payload": {}})
        assert (await ws.reply_to(still))["payload"]["status"] == "ok"

        await ws.push(topic, "access_token", {"access_token": forge(owner.access_token)})
        system = await ws.until("system")
        assert system["payload"]["status"] == "error"
        assert system["payload"]["extension"] == "system"
        assert "InvalidJWTToken: JWT signature does not match" in system["payload"]["message"]
        assert (await ws.until("phx_close"))["topic"] == topic
        gone = await ws.push(topic, "broadcast", {"type": "broadcast", "event": "e", "payload": {}})
        assert (await ws.reply_to(gone))["payload"]["response"]["reason"].startswith("unmatched topic")

    async with realtime_client(api.url, api.anon_key, owner.access_token) as client:
        errors: list[str] = []
        channel = client.channel(_topic())
        assert (await subscribed(channel))[0] == "SUBSCRIBED"
        channel.on_system(lambda payload: errors.append(payload.message))
        closed: list[str] = []
        channel.subscribe_callback = lambda state, error: closed.append(str(state.value))
        await client.set_auth(resign(tokens, owner.access_token, exp=1))
        await eventually(lambda: "CLOSED" in closed, "the client saw its channel closed")


def owner_iat(member: Member) -> int:
    import jwt

    iat: int = jwt.decode(member.access_token, options={"verify_signature": False})["iat"]
    return iat


async def test_a_token_that_expires_while_joined_closes_the_channel(
    api: Api, owner: Member, tokens: TokenService
) -> None:
    import time

    topic = f"realtime:{_topic()}"
    soon = resign(tokens, owner.access_token, exp=int(time.time()) + 2)
    async with raw_socket(api.url, api.anon_key) as ws:
        join = await ws.push(topic, "phx_join", PUBLIC | {"access_token": soon})
        assert (await ws.reply_to(join))["payload"]["status"] == "ok"
        system = await ws.until("system")
        assert system["payload"]["message"] == "InvalidJWTToken: Token has expired"
        assert (await ws.until("phx_close"))["topic"] == topic


async def test_broadcast_over_http_and_from_sql(api: Api, owner: Member) -> None:
    topic = _topic()
    got: list[dict[str, Any]] = []
    async with realtime_client(api.url, api.anon_key, owner.access_token) as client:
        public = client.channel(topic, {"config": {"private": False}})
        public.on_broadcast("*", got.append)
        assert (await subscribed(public))[0] == "SUBSCRIBED"
        with api.http(owner.access_token) as http:
            sent = http.post(
                "/realtime/v1/api/broadcast",
                json={"messages": [{"topic": topic, "event": "from-http", "payload": {"n": 1}}]},
            )
            assert sent.status_code == 202, sent.text
            single = http.post(f"/realtime/v1/api/broadcast/{topic}/events/one", json={"n": 2})
            assert single.status_code == 202, single.text
            bad = http.post("/realtime/v1/api/broadcast", json={"messages": [{"topic": "", "event": "e"}]})
            assert bad.status_code == 422
            naming = {"messages": [{"topic": topic, "event": "e", "agency_id": owner.agency_id}]}
            assert http.post("/realtime/v1/api/broadcast", json=naming).status_code == 403
        with api.http() as http:
            # The service role names the agency whose topic it sends to.
            service = {"apikey": api.service_key, "Authorization": f"Bearer {api.service_key}"}
            message = {"topic": topic, "event": "from-service", "payload": {}, "agency_id": owner.agency_id}
            sent = http.post("/realtime/v1/api/broadcast", json={"messages": [message]}, headers=service)
            assert sent.status_code == 202, sent.text
        await eventually(lambda: len(got) == 3, "the three HTTP broadcasts arrive")
        assert [(m["event"], m["payload"]) for m in got] == [
            ("from-http", {"n": 1}),
            ("one", {"n": 2}),
            ("from-service", {}),
        ]

        big = "x" * 20_000  # past NOTIFY's 8000 bytes: travels by id through realtime.messages
        claims = psycopg.types.json.Jsonb(
            {"role": "authenticated", "sub": owner.user_id, "app_metadata": {"agency_id": owner.agency_id}}
        )
        with psycopg.connect(api.owner_url, autocommit=True) as conn, conn.transaction():
            conn.execute("SELECT set_config('request.jwt.claims', %s::text, true)", (claims,))
            conn.execute(
                "SELECT realtime.send(%s, 'from-sql', %s, false)", (psycopg.types.json.Jsonb({"n": 3}), topic)
            )
            conn.execute(
                "SELECT realtime.send(%s, 'big', %s, false)", (psycopg.types.json.Jsonb({"big": big}), topic)
            )
        await eventually(lambda: len(got) == 5, "both SQL broadcasts arrive")
        assert got[3]["event"] == "from-sql"
        assert got[4]["payload"] == {"big": big}


async def test_broadcast_changes_sends_a_row_to_its_agencys_private_topic(
    api: Api, owner: Member, open_topics: None
) -> None:
    topic = f"open:{_topic('leads')}"
    got: list[dict[str, Any]] = []
    async with realtime_client(api.url, api.anon_key, owner.access_token) as client:
        channel = client.channel(topic, {"config": {"private": True}})
        channel.on_broadcast("INSERT", got.append)
        assert (await subscribed(channel))[0] == "SUBSCRIBED"
        with psycopg.connect(api.owner_url, autocommit=True) as conn:
            # As a trigger calls it; with no claims (a job, the service role) the row's agency scopes it.
            conn.execute(
                """
                WITH lead AS (INSERT INTO leads (agency_id, first_name) VALUES (%s, 'Ada') RETURNING *)
                SELECT realtime.broadcast_changes(%s, 'INSERT', 'INSERT', 'leads', 'public', lead, NULL)
                FROM lead
                """,
                (owner.agency_id, topic),
            )
        await eventually(lambda: got, "the row's broadcast")
        payload = got[0]["payload"]
        assert (payload["schema"], payload["table"], payload["operation"]) == ("public", "leads", "INSERT")
        assert payload["record"]["first_name"] == "Ada"
        assert payload["old_record"] is None
