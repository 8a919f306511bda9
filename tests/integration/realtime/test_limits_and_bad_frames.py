"""What the realtime door does with frames no client should send and with callers past their limits:
an error on the channel with a reason, or a close with a reason; the server never falls over."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator

import pytest

from tests.integration.realtime.conftest import Closed, Raw, Refused, raw_socket
from tests.live import Api, Mailbox, agency_owner, serve
from tests.support import SessionDatabase

pytestmark = pytest.mark.anyio

TOPIC = "realtime:frames"
BROADCAST = {"type": "broadcast", "event": "e", "payload": {}}


@pytest.fixture(scope="module")
def tight(database: SessionDatabase, mailbox: tuple[Mailbox, int]) -> Iterator[Api]:
    """A server with tiny caps: one channel and one connection per agency, a join and an event per ~5 s."""
    yield from serve(
        database,
        mailbox,
        realtime_max_channels_per_connection=1,
        realtime_max_connections_per_agency=1,
        realtime_max_joins_per_s=0.2,
        realtime_max_events_per_s=0.2,
    )


async def _error(ws: Raw, ref: str) -> str:
    payload = (await ws.reply_to(ref))["payload"]
    assert payload["status"] == "error", payload
    reason: str = payload["response"]["reason"]
    return reason


async def _phoenix_error(ws: Raw) -> str:
    frame = await ws.receive()
    assert frame["topic"] == "phoenix", frame
    assert frame["payload"]["status"] == "error", frame
    reason: str = frame["payload"]["response"]["reason"]
    return reason


async def test_bad_frames_get_an_error_and_the_connection_stays_usable(api: Api) -> None:
    async with raw_socket(api.url, api.anon_key) as ws:
        await ws.send("{not json")
        assert (await _phoenix_error(ws)).startswith("malformed frame: not JSON")
        await ws.send("[1, 2]")
        assert "expected [join_ref, ref, topic, event, payload]" in await _phoenix_error(ws)
        await ws.send(json.dumps({"topic": 1, "event": "x", "payload": {}}))
        assert "must be strings" in await _phoenix_error(ws)
        await ws.send("[" * 100_000)
        assert (await _phoenix_error(ws)).startswith("malformed frame")
        await ws.send(b"\x07garbage")
        assert "binary frame" in await _phoenix_error(ws)
        await ws.send(bytes([3, 200, 0, 0, 0, 0, 1]) + b"short")
        assert (await _phoenix_error(ws)).startswith("malformed frame")

        assert "unknown event" in await _error(ws, await ws.push("phoenix", "nonsense", {}))
        assert "unmatched topic" in await _error(ws, await ws.push(TOPIC, "broadcast", BROADCAST))
        join = await ws.push(TOPIC, "phx_join", {"config": {"broadcast": {"ack": True}}})
        assert (await ws.reply_to(join))["payload"]["status"] == "ok"
        assert "unknown event" in await _error(ws, await ws.push(TOPIC, "dance", {}))
        assert "`event`" in await _error(ws, await ws.push(TOPIC, "broadcast", {"type": "broadcast"}))
        bad_config = await ws.push("realtime:other", "phx_join", {"config": {"postgres_changes": "all"}})
        assert "must be a list" in await _error(ws, bad_config)
        big = {"type": "broadcast", "event": "e", "payload": {"x": "y" * 300_000}}
        assert (await _error(ws, await ws.push(TOPIC, "broadcast", big))).startswith("PayloadTooLarge")

        heartbeat = await ws.push("phoenix", "heartbeat", {})
        assert (await ws.reply_to(heartbeat))["payload"] == {"status": "ok", "response": {}}
        sent = await ws.push(TOPIC, "broadcast", BROADCAST)
        assert (await ws.reply_to(sent))["payload"]["status"] == "ok"

        # Past the websocket's own frame limit the connection is closed, with the reason in the close.
        await ws.send(json.dumps({"topic": TOPIC, "event": "broadcast", "payload": {"x": "y" * 2_000_000}}))
        with pytest.raises(Closed) as closed:
            await ws.receive()
        assert closed.value.code == 1009


async def test_a_refused_key_is_refused_before_the_upgrade(api: Api) -> None:
    with pytest.raises(Refused) as refused:
        async with raw_socket(api.url, "not-a-key"):
            pass
    assert refused.value.status == 403
    with pytest.raises(Refused):
        async with raw_socket(api.url, api.anon_key, vsn="9.9.9"):
            pass


async def test_channel_join_connection_and_event_limits_answer_with_a_reason(tight: Api) -> None:
    owner = agency_owner(tight, "Tight Agency")
    auth = {"access_token": owner.access_token}
    async with raw_socket(tight.url, tight.anon_key) as ws, raw_socket(tight.url, tight.anon_key) as other:
        assert (await ws.reply_to(await ws.push(TOPIC, "phx_join", auth)))["payload"]["status"] == "ok"
        second = await ws.push("realtime:second", "phx_join", auth)
        assert (await _error(ws, second)).startswith("ChannelRateLimitReached: at most 1 channels")
        # Another connection of the same agency is one too many.
        assert (await _error(other, await other.push(TOPIC, "phx_join", auth))).startswith(
            "ConnectionRateLimitReached"
        )

        first = await ws.push(TOPIC, "broadcast", BROADCAST)
        await ws.push(TOPIC, "broadcast", BROADCAST)
        # Without ack no reply is due for the first; the second is over the agency's events per second.
        reason = (await ws.until("phx_reply"))["payload"]["response"]["reason"]
        assert reason.startswith("TooManyEvents"), first

        assert (await ws.reply_to(await ws.push(TOPIC, "phx_leave", {})))["payload"]["status"] == "ok"
        assert (await _error(ws, await ws.push(TOPIC, "phx_join", auth))).startswith(
            "ClientJoinRateLimitReached"
        )


async def test_connections_per_agency_hold_across_processes(
    api: Api, database: SessionDatabase, mailbox: tuple[Mailbox, int]
) -> None:
    """Two API processes with one connection per agency between them: a connection on the second is
    refused while the first holds the place, and taken once the first leaves; a join the cap refused
    holds no place."""
    owner = agency_owner(api, "Tight Across Agency")
    auth = {"access_token": owner.access_token}
    one = contextlib.contextmanager(serve)
    with (
        one(database, mailbox, realtime_max_connections_per_agency=1) as tight,
        one(database, mailbox, realtime_max_connections_per_agency=1) as beside,
    ):
        async with (
            raw_socket(tight.url, tight.anon_key) as here,
            raw_socket(beside.url, beside.anon_key) as there,
        ):
            joined = await here.reply_to(await here.push(TOPIC, "phx_join", auth))
            assert joined["payload"]["status"] == "ok"
            refused = await _error(there, await there.push(TOPIC, "phx_join", auth))
            assert refused.startswith("ConnectionRateLimitReached: at most 1 connections per agency")

            left = await here.reply_to(await here.push(TOPIC, "phx_leave", {}))
            assert left["payload"]["status"] == "ok"
            joined = await there.reply_to(await there.push(TOPIC, "phx_join", auth))
            assert joined["payload"]["status"] == "ok"
            # Now the first process's connection is the one too many.
            refused = await _error(here, await here.push("realtime:again", "phx_join", auth))
            assert refused.startswith("ConnectionRateLimitReached")
        # The second's connection closed: its place is free again for the first process.
        async with raw_socket(tight.url, tight.anon_key) as later:
            for _ in range(100):
                reply = await later.reply_to(await later.push(TOPIC, "phx_join", auth))
                if reply["payload"]["status"] == "ok":
                    break
                # The closing connection gives its place back just after the socket closes.
                assert reply["payload"]["response"]["reason"].startswith("ConnectionRateLimitReached")
                await asyncio.sleep(0.1)
            assert reply["payload"]["status"] == "ok"
