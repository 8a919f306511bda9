"""Two API processes over one database (the session's API and a `gardenos up` beside it): broadcasts and
presence reach clients of either, PostgreSQL being the bus; a process that stops takes its presences
with it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.realtime.conftest import eventually, realtime_client, subscribed
from tests.live import Api, UpProcess, agency_owner
from tests.support import SessionDatabase

pytestmark = [pytest.mark.anyio, pytest.mark.slow]


@pytest.fixture
def second(database: SessionDatabase, tmp_path: Path) -> Iterator[UpProcess]:
    process = UpProcess(database, tmp_path / "up.log", GARDENOS_AI_WORKERS="false")
    try:
        yield process
    finally:
        if process.proc.poll() is None:
            process.interrupt()


async def test_broadcast_and_presence_cross_processes(api: Api, second: UpProcess) -> None:
    owner = agency_owner(api, "Two Process Agency")
    topic = f"shared-{uuid.uuid4().hex[:8]}"
    config = {"config": {"broadcast": {"self": False}, "presence": {"key": "", "enabled": True}}}
    heard_here: list[dict[str, Any]] = []
    heard_there: list[dict[str, Any]] = []
    left: list[str] = []
    async with (
        realtime_client(api.url, api.anon_key, owner.access_token) as here,
        realtime_client(second.url, second.anon_key, owner.access_token) as there,
    ):
        config_here = {"config": config["config"] | {"presence": {"key": "here", "enabled": True}}}
        config_there = {"config": config["config"] | {"presence": {"key": "there", "enabled": True}}}
        channel_here = here.channel(topic, config_here)
        channel_here.on_broadcast("*", heard_here.append)
        channel_here.on_presence_sync(lambda: None)
        channel_here.on_presence_leave(lambda key, current, gone: left.append(key))
        assert (await subscribed(channel_here))[0] == "SUBSCRIBED"
        await channel_here.track({"process": "first"})

        channel_there = there.channel(topic, config_there)
        channel_there.on_broadcast("*", heard_there.append)
        channel_there.on_presence_sync(lambda: None)
        assert (await subscribed(channel_there))[0] == "SUBSCRIBED"
        # Joined on the second process, it was handed the presence tracked on the first.
        await eventually(
            lambda: "here" in channel_there.presence_state(), "the second process sees the first's"
        )
        await channel_there.track({"process": "second"})
        await eventually(
            lambda: "there" in channel_here.presence_state(), "the first process sees the second's"
        )

        await channel_here.send_broadcast("hello", {"from": "first"})
        await channel_there.send_broadcast("hello", {"from": "second"})
        await eventually(lambda: heard_there, "the first's broadcast reached the second process")
        await eventually(lambda: heard_here, "the second's broadcast reached the first process")
        assert [m["payload"] for m in heard_there] == [{"from": "first"}]
        assert [m["payload"] for m in heard_here] == [{"from": "second"}]

        with second.http(owner.access_token) as http:
            sent = http.post(
                "/realtime/v1/api/broadcast",
                json={"messages": [{"topic": topic, "event": "over-http", "payload": {"n": 1}}]},
            )
            assert sent.status_code == 202, sent.text
        await eventually(
            lambda: len(heard_here) == 2, "an HTTP broadcast on the second process reached the first"
        )

        # The second process stops: its client's presence leaves everyone else's state.
        second.interrupt()
        await eventually(lambda: "there" in left, "the stopped process's presence left")
        assert set(channel_here.presence_state()) == {"here"}
