"""The CRM's tables on channels, as the web app follows them with the official Python client: a pipeline
board subscribes to its agency's leads (`filter: agency_id=eq.…`), a timeline to its activities, the
clients list to clients. Work done through `/api/v1` reaches them live: a card's move carries its old
stage (`old_record`: leads, clients and activities are REPLICA IDENTITY FULL, migration 0022), a
conversion moves the lead and adds the client, a deleted card is told by its key. Another agency's
member who names this agency in a filter receives nothing."""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pytest

from tests.integration.realtime.conftest import eventually, realtime_client, subscribed
from tests.live import Api, agency_owner

pytestmark = pytest.mark.anyio

PUBLISHED = """
SELECT c.relname, c.relreplident FROM pg_publication_tables p
JOIN pg_class c ON c.relname = p.tablename
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = p.schemaname
WHERE p.pubname = 'gardenos_changes' AND p.schemaname = 'public' AND p.tablename = ANY(%s)
"""


def test_the_crm_tables_are_published_with_their_whole_old_rows(api: Api) -> None:
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        rows = conn.execute(PUBLISHED, (["leads", "clients", "activities"],)).fetchall()
    assert dict(rows) == {"leads": "f", "clients": "f", "activities": "f"}


async def test_a_pipeline_board_and_a_timeline_follow_their_agency_live(api: Api) -> None:
    owner = agency_owner(api, "Board Agency")
    other = agency_owner(api, "Other Board Agency")
    agency = owner.agency_id
    leads: list[dict[str, Any]] = []
    clients: list[dict[str, Any]] = []
    activities: list[dict[str, Any]] = []
    stolen: list[dict[str, Any]] = []

    def data(into: list[dict[str, Any]]) -> Any:
        return lambda payload: into.append(payload["data"])

    async with (
        realtime_client(api.url, api.anon_key, owner.access_token) as client,
        realtime_client(api.url, api.anon_key, other.access_token) as intruder,
    ):
        board = client.channel(f"board-{uuid.uuid4().hex[:8]}")
        board.on_postgres_changes("*", data(leads), table="leads", filter=f"agency_id=eq.{agency}")
        board.on_postgres_changes("*", data(clients), table="clients", filter=f"agency_id=eq.{agency}")
        assert (await subscribed(board))[0] == "SUBSCRIBED"
        timeline = client.channel(f"timeline-{uuid.uuid4().hex[:8]}")
        timeline.on_postgres_changes(
            "*", data(activities), table="activities", filter=f"agency_id=eq.{agency}"
        )
        assert (await subscribed(timeline))[0] == "SUBSCRIBED"
        spy = intruder.channel(f"board-{uuid.uuid4().hex[:8]}")
        for table in ("leads", "clients", "activities"):
            spy.on_postgres_changes("*", data(stolen), table=table, filter=f"agency_id=eq.{agency}")
        assert (await subscribed(spy))[0] == "SUBSCRIBED"

        with api.http(owner.access_token) as http:
            made = http.post("/api/v1/leads", json={"first_name": "Ada", "company": "Engines"})
            assert made.status_code == 201, made.text
            lead = made.json()["id"]
            moved = http.patch(f"/api/v1/leads/{lead}", json={"status": "qualified"})
            assert moved.status_code == 200, moved.text
            noted = http.post(
                "/api/v1/activities", json={"kind": "call", "lead_id": lead, "subject": "First call"}
            )
            assert noted.status_code == 201, noted.text
            converted = http.post(f"/api/v1/leads/{lead}/convert", json={})
            assert converted.status_code == 201, converted.text
            second = http.post("/api/v1/leads", json={"first_name": "Grace"})
            assert second.status_code == 201, second.text
            gone = http.delete(f"/api/v1/leads/{second.json()['id']}")
            assert gone.status_code == 204, gone.text

        await eventually(lambda: [c["type"] for c in leads][-1:] == ["DELETE"], "the deleted card")
        await eventually(lambda: clients, "the new client")
        await eventually(lambda: activities, "the call on the timeline")

    mine = [c for c in leads if (c.get("record") or c["old_record"]).get("id") == lead]
    assert mine[0]["type"] == "INSERT"
    assert mine[0]["record"]["status"] == "new"
    move = mine[1]
    assert move["type"] == "UPDATE"
    assert (move["old_record"]["status"], move["record"]["status"]) == ("new", "qualified")
    # The conversion moves the card to `converted`, with the stage it left.
    conversion = [c for c in mine if c["type"] == "UPDATE" and c["record"]["status"] == "converted"]
    assert conversion
    assert conversion[0]["old_record"]["status"] == "qualified"
    assert clients[0]["type"] == "INSERT"
    assert clients[0]["record"]["agency_id"] == agency
    assert any(a["type"] == "INSERT" and a["record"]["subject"] == "First call" for a in activities)
    deleted = leads[-1]
    # A row under RLS: its primary key alone, (agency_id, id).
    assert deleted["old_record"] == {"agency_id": agency, "id": second.json()["id"]}
    assert all(c["record" if c["type"] != "DELETE" else "old_record"].get("id") for c in leads)
    assert stolen == []
