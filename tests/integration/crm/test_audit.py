"""The audit trail: every insert, update and delete of a lead, client or activity is recorded by the
database, whether it came through /api/v1, /rest/v1 or psql, and read back through /api/v1/audit."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.rows import dict_row

from gardenos.demo.generator import load_demo_data
from tests.live import Api, Member, agency_owner


@pytest.fixture(scope="module")
def alpha(api: Api) -> Member:
    return agency_owner(api, "Audit Alpha")


@pytest.fixture
def http(api: Api, alpha: Member) -> Iterator[httpx.Client]:
    with api.http(alpha.access_token) as client:
        yield client


def stored(owner_url: str, record_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(owner_url, row_factory=dict_row) as conn:
        return conn.execute(
            """SELECT agency_id::text, actor_id::text, actor_role, action, table_name, before, after
               FROM audit_log WHERE record_id = %s ORDER BY id""",
            (record_id,),
        ).fetchall()


def entries(http: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    response = http.get("/api/v1/audit", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_api_changes_are_audited_with_actor_before_and_after(
    api: Api, alpha: Member, http: httpx.Client
) -> None:
    lead = http.post("/api/v1/leads", json={"first_name": "Audited", "email": "a@audit.example"}).json()
    http.patch(f"/api/v1/leads/{lead['id']}", json={"status": "contacted", "score": 40})
    http.delete(f"/api/v1/leads/{lead['id']}")
    rows = stored(api.owner_url, lead["id"])
    assert [r["action"] for r in rows] == ["insert", "update", "delete"]
    assert {(r["agency_id"], r["actor_id"], r["actor_role"], r["table_name"]) for r in rows} == {
        (alpha.agency_id, alpha.user_id, "authenticated", "leads")
    }
    insert, update, delete = rows
    assert insert["before"] is None
    assert insert["after"]["first_name"] == "Audited"
    assert (update["before"]["status"], update["after"]["status"]) == ("new", "contacted")
    assert (update["before"]["score"], update["after"]["score"]) == (None, 40)
    assert delete["before"]["status"] == "contacted"
    assert delete["after"] is None
    # The generated search vector is not kept (it repeats the columns); the rest of the row is.
    assert all("search_vector" not in (r["before"] or {}) | (r["after"] or {}) for r in rows)
    assert insert["after"]["email_normalized"] == "a@audit.example"

    listed = entries(http, record_id=lead["id"])
    assert [e["action"] for e in listed] == ["delete", "update", "insert"]
    assert listed[1]["before"]["status"] == "new"
    assert listed[1]["actor_id"] == alpha.user_id


def test_rest_changes_are_audited_too(api: Api, alpha: Member, http: httpx.Client) -> None:
    lead = http.post("/api/v1/leads", json={"first_name": "Rest"}).json()
    rest = http.patch(
        "/rest/v1/leads",
        params={"id": f"eq.{lead['id']}"},
        json={"status": "proposal"},
        headers={"Prefer": "return=representation"},
    )
    assert rest.status_code == 200, rest.text
    assert rest.json()[0]["status"] == "proposal"
    update = entries(http, record_id=lead["id"], action="update")
    assert len(update) == 1
    assert (update[0]["before"]["status"], update[0]["after"]["status"]) == ("new", "proposal")
    assert (update[0]["actor_id"], update[0]["actor_role"]) == (alpha.user_id, "authenticated")


def test_changes_of_nothing_are_not_audited(api: Api, http: httpx.Client) -> None:
    lead = http.post("/api/v1/leads", json={"first_name": "Same", "tags": ["x"]}).json()
    # The same value again (updated_at still moves), an empty patch, a tag it already has.
    http.patch(
        "/rest/v1/leads", params={"id": f"eq.{lead['id']}"}, json={"first_name": "Same"}
    ).raise_for_status()
    http.patch(f"/api/v1/leads/{lead['id']}", json={"first_name": "Same"}).raise_for_status()
    http.patch(f"/api/v1/leads/{lead['id']}", json={}).raise_for_status()
    http.post(f"/api/v1/leads/{lead['id']}/tags", json={"tag": "x"}).raise_for_status()
    # An activity moves last_activity_at: the activity's own entry says what happened.
    activity = http.post("/api/v1/activities", json={"kind": "call", "lead_id": lead["id"]}).json()
    assert [r["action"] for r in stored(api.owner_url, lead["id"])] == ["insert"]
    assert [(r["action"], r["table_name"]) for r in stored(api.owner_url, activity["id"])] == [
        ("insert", "activities")
    ]


def test_clients_and_activities_and_cascades_are_audited(api: Api, http: httpx.Client) -> None:
    client = http.post("/api/v1/clients", json={"company": "Cascade Co"}).json()
    activity = http.post("/api/v1/activities", json={"kind": "note", "client_id": client["id"]}).json()
    http.patch(f"/api/v1/activities/{activity['id']}", json={"body": "more"}).raise_for_status()
    http.delete(f"/api/v1/clients/{client['id']}").raise_for_status()
    assert [r["action"] for r in stored(api.owner_url, client["id"])] == ["insert", "delete"]
    # The client's activities go with it, and that is recorded too.
    assert [r["action"] for r in stored(api.owner_url, activity["id"])] == ["insert", "update", "delete"]
    assert entries(http, table_name="activities", record_id=activity["id"])[0]["action"] == "delete"


def test_changes_from_psql_are_audited_without_an_actor(api: Api, alpha: Member) -> None:
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO leads (agency_id, company) VALUES (%s, 'Owner Co') RETURNING id::text",
            (alpha.agency_id,),
        ).fetchone()
    assert row is not None
    [entry] = stored(api.owner_url, row[0])
    assert (entry["action"], entry["actor_id"], entry["agency_id"]) == ("insert", None, alpha.agency_id)


def test_bulk_loads_turn_auditing_off(api: Api) -> None:
    owner = agency_owner(api, "Audit Bulk")
    # The switch itself, for a transaction that keeps its triggers (a loader that is not a superuser).
    with psycopg.connect(api.owner_url) as conn:
        conn.execute("SET LOCAL gardenos.audit = 'off'")
        conn.execute("INSERT INTO leads (agency_id, company) VALUES (%s, 'Quiet')", (owner.agency_id,))
    with psycopg.connect(api.owner_url) as conn:
        conn.execute("DELETE FROM leads WHERE agency_id = %s", (owner.agency_id,))
        assert conn.execute(
            "SELECT array_agg(action) FROM audit_log WHERE agency_id = %s AND table_name = 'leads'",
            (owner.agency_id,),
        ).fetchone() == (["delete"],)
        conn.execute("DELETE FROM audit_log WHERE agency_id = %s", (owner.agency_id,))
    with psycopg.connect(api.owner_url) as conn:
        load_demo_data(conn, agency_id=uuid.UUID(owner.agency_id), leads=30, clients=5, seed=7)
    with psycopg.connect(api.owner_url) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM leads WHERE agency_id = %(a)s),"
            " (SELECT count(*) FROM audit_log WHERE agency_id = %(a)s AND table_name <> 'memberships')",
            {"a": owner.agency_id},
        ).fetchone()
        # The setting was local to the load's transaction: later changes are audited again.
        conn.execute("UPDATE leads SET score = 1 WHERE agency_id = %s", (owner.agency_id,))
        audited = conn.execute(
            "SELECT count(*) FROM audit_log WHERE agency_id = %s AND action = 'update'", (owner.agency_id,)
        ).fetchone()
    assert counts == (30, 0)
    assert audited == (30,)


def test_the_audit_list_filters_and_pages(api: Api) -> None:
    owner = agency_owner(api, "Audit Pages")
    with api.http(owner.access_token) as http:
        leads = [http.post("/api/v1/leads", json={"first_name": f"L{i}"}).json() for i in range(5)]
        for lead in leads[:3]:
            http.patch(f"/api/v1/leads/{lead['id']}", json={"status": "lost"}).raise_for_status()
        everything = entries(http, limit=200)
        # The agency's creation and its owner's membership, then 5 inserts and 3 updates of leads.
        assert len(everything) == 10
        assert [e["table_name"] for e in everything[-2:]] == ["memberships", "agencies"]
        stamps = [(e["created_at"], e["id"]) for e in everything]
        assert stamps == sorted(stamps, reverse=True)
        assert len(entries(http, action="update")) == 3
        assert len(entries(http, action=["update", "insert"], table_name="leads")) == 8
        assert entries(http, table_name="clients") == []
        # The service made the agency and its owner's membership on the caller's behalf: those two entries
        # name no actor (the membership's row names its user).
        assert len(entries(http, actor_id=owner.user_id)) == 8
        assert len(entries(http, created_after=everything[3]["created_at"])) == 3

        seen, cursor = [], None
        while True:
            params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = http.get("/api/v1/audit", params=params).json()
            seen.extend(e["id"] for e in page["items"])
            if (cursor := page["next_cursor"]) is None:
                break
        assert seen == [e["id"] for e in everything]
        for params in [{"record_id": "x"}, {"action": "hack"}, {"table_name": "auth.users"}, {"cursor": "x"}]:
            response = http.get("/api/v1/audit", params=params)
            assert 400 <= response.status_code < 500, f"{params}: {response.text}"

    bravo = agency_owner(api, "Audit Bravo")
    with api.http(bravo.access_token) as other:
        assert other.get("/api/v1/audit", params={"record_id": leads[0]["id"]}).json()["items"] == []
        assert [e["table_name"] for e in other.get("/api/v1/audit").json()["items"]] == [
            "memberships",
            "agencies",
        ]
