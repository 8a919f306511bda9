"""`gardenos realtime status`: what the API processes last reported (connections, channels, presences)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from tests.integration.cli.test_db_commands import gardenos
from tests.integration.realtime.conftest import raw_socket
from tests.live import Api, agency_owner
from tests.support import SessionDatabase

pytestmark = pytest.mark.anyio


async def test_status_counts_connections_channels_and_presences(api: Api, database: SessionDatabase) -> None:
    owner = agency_owner(api, "Status Agency")
    auth = {"access_token": owner.access_token, "config": {"presence": {"key": "me"}}}
    async with raw_socket(api.url, api.anon_key) as ws:
        for topic in ("realtime:status-a", "realtime:status-b"):
            assert (await ws.reply_to(await ws.push(topic, "phx_join", auth)))["payload"]["status"] == "ok"
        track = await ws.push("realtime:status-a", "presence", {"event": "track", "payload": {}})
        await ws.reply_to(track)

        def busiest() -> dict[str, Any]:
            done = gardenos(database, "realtime", "status", "--json")
            assert done.returncode == 0, done.stderr
            processes: list[dict[str, Any]] = json.loads(done.stdout)["processes"]
            return max(processes, key=lambda p: (p["channels"], p["presences"]), default={})

        # Processes report every few seconds: ask until this connection is in a report.
        for _ in range(30):
            node = await asyncio.to_thread(busiest)
            if node.get("channels", 0) >= 2 and node.get("presences", 0) >= 1:
                break
            await asyncio.sleep(1)
        assert node["connections"] >= 1
        assert node["channels"] >= 2
        assert node["presences"] >= 1
        table = await asyncio.to_thread(gardenos, database, "realtime", "status")
        assert "connections" in table.stdout
