"""Converting a lead into a client through the API, as a salesperson would after a deal is won."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.crm.pipeline_support import (
    audit_rows,
    cut_connection_while_blocked,
    insert,
    insert_activities,
    rows,
)
from tests.live import Api, Member, agency_owner


@pytest.fixture(scope="module")
def alpha(api: Api) -> Member:
    return agency_owner(api, "Conversion Alpha")


@pytest.fixture(scope="module")
def bravo(api: Api) -> Member:
    return agency_owner(api, "Conversion Bravo")


def test_conversion_copies_the_lead_and_keeps_every_activity(api: Api, alpha: Member) -> None:
    lead_id = insert(
        api.owner_url,
        "leads",
        alpha.agency_id,
        first_name="Maya",
        last_name="Lindqvist",
        email="maya@lindqvist.example",
        phone="+46 8 123 456",
        company="Lindqvist AB",
        city="Stockholm",
        status="negotiation",
        owner_id=alpha.user_id,
        estimated_value=9000,
        tags=["inbound", "enterprise"],
        custom_fields={"industry": "retail", "employees": 40},
    )
    activity_ids = insert_activities(api.owner_url, alpha.agency_id, 4, lead_id=lead_id)

    with api.http(alpha.access_token) as http:
        response = http.post(
            f"/api/v1/leads/{lead_id}/convert", json={"lifetime_value": "1200.50", "tags": ["won"]}
        )
    assert response.status_code == 201, response.text
    body = response.json()
    client, lead = body["client"], body["lead"]
    assert body["activities_moved"] == 4
    assert client["lead_id"] == lead_id
    assert client["converted_at"] is not None
    assert client["agency_id"] == alpha.agency_id
    assert (
        client["first_name"],
        client["last_name"],
        client["email"],
        client["company"],
        client["city"],
    ) == (
        "Maya",
        "Lindqvist",
        "maya@lindqvist.example",
        "Lindqvist AB",
        "Stockholm",
    )
    assert client["owner_id"] == alpha.user_id
    assert client["custom_fields"] == {"industry": "retail", "employees": 40}
    assert client["tags"] == ["won"]  # overridden
    assert client["lifetime_value"] == 1200.5
    assert client["status"] == "active"
    assert lead["status"] == "converted"
    assert lead["converted_at"] is not None

    # Every activity is reachable from the client and still from the lead.
    stored = rows(
        api.owner_url,
        "SELECT id::text, lead_id::text, client_id::text FROM activities WHERE id = ANY(%s::uuid[])",
        (activity_ids,),
    )
    assert len(stored) == 4
    assert all(row["client_id"] == client["id"] and row["lead_id"] == lead_id for row in stored)
    [stored_lead] = rows(api.owner_url, "SELECT status, converted_at FROM leads WHERE id = %s", (lead_id,))
    assert stored_lead["status"] == "converted"

    # The trail says who converted what, from which state.
    [entry] = audit_rows(api.owner_url, "convert", lead_id)
    assert entry["actor_id"] == alpha.user_id
    assert entry["agency_id"] == alpha.agency_id
    assert entry["table_name"] == "leads"
    assert entry["before"]["status"] == "negotiation"
    assert entry["after"]["status"] == "converted"
    assert entry["context"] == {
        "client_id": client["id"],
        "activities_moved": 4,
        "attachments_moved": 0,
    }


def test_converting_twice_is_a_conflict_naming_the_client(api: Api, alpha: Member) -> None:
    lead_id = insert(api.owner_url, "leads", alpha.agency_id, company="Twice Ltd")
    with api.http(alpha.access_token) as http:
        first = http.post(f"/api/v1/leads/{lead_id}/convert")
        assert first.status_code == 201, first.text
        again = http.post(f"/api/v1/leads/{lead_id}/convert", json={})
    assert again.status_code == 409
    assert (
        again.json()["message"]
        == f"lead {lead_id} was already converted to client {first.json()['client']['id']}"
    )
    assert len(rows(api.owner_url, "SELECT 1 FROM clients WHERE lead_id = %s", (lead_id,))) == 1
    assert len(audit_rows(api.owner_url, "convert", lead_id)) == 1


def test_a_lost_lead_can_be_won_back(api: Api, alpha: Member) -> None:
    lead_id = insert(api.owner_url, "leads", alpha.agency_id, first_name="Lost", status="lost")
    with api.http(alpha.access_token) as http:
        response = http.post(f"/api/v1/leads/{lead_id}/convert")
    assert response.status_code == 201, response.text
    assert response.json()["activities_moved"] == 0
    [entry] = audit_rows(api.owner_url, "convert", lead_id)
    assert entry["before"]["status"] == "lost"


def test_an_invalid_override_is_refused_and_nothing_is_converted(
    api: Api, alpha: Member, bravo: Member
) -> None:
    lead_id = insert(api.owner_url, "leads", alpha.agency_id, first_name="Careful")
    with api.http(alpha.access_token) as http:
        response = http.post(f"/api/v1/leads/{lead_id}/convert", json={"status": "converted"})
        assert response.status_code == 422
        assert "status" in response.json()["message"]
        response = http.post(f"/api/v1/leads/{lead_id}/convert", json={"owner_id": bravo.user_id})
        assert response.status_code == 400
        assert response.json()["message"] == f"owner_id {bravo.user_id} is not a member of this agency"
    assert rows(api.owner_url, "SELECT status FROM leads WHERE id = %s", (lead_id,)) == [{"status": "new"}]


def test_another_agencys_lead_is_not_found(api: Api, alpha: Member, bravo: Member) -> None:
    lead_id = insert(api.owner_url, "leads", bravo.agency_id, first_name="Private")
    insert_activities(api.owner_url, bravo.agency_id, 2, lead_id=lead_id)
    with api.http(alpha.access_token) as http:
        response = http.post(f"/api/v1/leads/{lead_id}/convert")
    assert response.status_code == 404
    assert rows(api.owner_url, "SELECT status FROM leads WHERE id = %s", (lead_id,)) == [{"status": "new"}]
    assert rows(api.owner_url, "SELECT 1 FROM clients WHERE lead_id = %s", (lead_id,)) == []
    assert (
        rows(
            api.owner_url, "SELECT 1 FROM activities WHERE lead_id = %s AND client_id IS NOT NULL", (lead_id,)
        )
        == []
    )


def test_a_user_without_an_agency_is_told_how_to_get_one(api: Api) -> None:
    email, password = api.confirmed_user()
    with api.http() as http:
        token = http.post(
            "/auth/v1/token", params={"grant_type": "password"}, json={"email": email, "password": password}
        ).json()["access_token"]
    with api.http(token) as http:
        response = http.post("/api/v1/leads/00000000-0000-7000-8000-000000000000/convert")
    assert response.status_code == 403
    assert response.json()["message"].startswith("no active agency: create one with POST /api/v1/agencies")


def test_the_anon_key_alone_is_refused(api: Api) -> None:
    with api.http() as http:
        response = http.post("/api/v1/leads/00000000-0000-7000-8000-000000000000/convert")
    assert response.status_code == 401


def test_a_connection_lost_mid_conversion_leaves_nothing_behind(api: Api, alpha: Member) -> None:
    lead_id = insert(api.owner_url, "leads", alpha.agency_id, first_name="Fragile", status="qualified")
    activity_ids = insert_activities(api.owner_url, alpha.agency_id, 3, lead_id=lead_id)

    def convert() -> httpx.Response:
        with api.http(alpha.access_token) as http:
            return http.post(f"/api/v1/leads/{lead_id}/convert")

    # The conversion has created the client and marked the lead when it reaches the activities: it waits
    # for the one we hold, and its connection is cut there.
    response, waiting = cut_connection_while_blocked(
        api.owner_url, "SELECT id FROM activities WHERE id = %s FOR UPDATE", (activity_ids[-1],), convert
    )
    assert "UPDATE public.activities" in waiting
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"]
    assert response.json()["code"] == "GARDEN503"

    assert rows(api.owner_url, "SELECT status, converted_at FROM leads WHERE id = %s", (lead_id,)) == [
        {"status": "qualified", "converted_at": None}
    ]
    assert rows(api.owner_url, "SELECT 1 FROM clients WHERE lead_id = %s", (lead_id,)) == []
    assert rows(
        api.owner_url,
        "SELECT count(*) AS n FROM activities WHERE lead_id = %s AND client_id IS NULL",
        (lead_id,),
    ) == [{"n": 3}]
    assert audit_rows(api.owner_url, "convert", lead_id) == []

    # The API recovers: the same conversion goes through on the next try.
    with api.http(alpha.access_token) as http:
        retried = http.post(f"/api/v1/leads/{lead_id}/convert")
    assert retried.status_code == 201, retried.text
    assert retried.json()["activities_moved"] == 3
