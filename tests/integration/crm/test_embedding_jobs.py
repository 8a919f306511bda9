"""A lead created by any door queues its embedding in the transaction that creates it (one mechanism),
not a minute later by a sweep."""

from __future__ import annotations

import psycopg

from tests.live import Api, agency_owner


def _embed_tasks(api: Api, agency_id: str, subject: str = "lead") -> list[list[str]]:
    with psycopg.connect(api.owner_url) as conn:
        rows = conn.execute(
            "SELECT payload -> 'ids' FROM agent_tasks WHERE agency_id = %s AND agent_type = 'embed' "
            "AND payload ->> 'subject' = %s ORDER BY created_at",
            (agency_id, subject),
        ).fetchall()
    return [r[0] for r in rows]


def test_leads_created_through_the_api_and_rest_queue_their_embedding(api: Api) -> None:
    owner = agency_owner(api, "Embedding Agency")
    with api.http(owner.access_token) as http:
        created = http.post("/api/v1/leads", json={"first_name": "Ann", "email": "ann@example.com"})
        assert created.status_code == 201, created.text
        assert _embed_tasks(api, owner.agency_id) == [[created.json()["id"]]]
        rest = http.post(
            "/rest/v1/leads",
            json=[{"first_name": "Bob"}, {"first_name": "Cy"}],
            headers={"Prefer": "return=representation"},
        )
        assert rest.status_code == 201, rest.text
    ids = sorted(lead["id"] for lead in rest.json())
    assert _embed_tasks(api, owner.agency_id)[1] == ids  # one task for the statement's leads


def test_clients_created_directly_or_by_a_conversion_queue_their_embedding(api: Api) -> None:
    owner = agency_owner(api, "Client Embedding Agency")
    with api.http(owner.access_token) as http:
        client = http.post("/api/v1/clients", json={"company": "Acme"})
        assert client.status_code == 201, client.text
        assert _embed_tasks(api, owner.agency_id, "client") == [[client.json()["id"]]]
        lead = http.post("/api/v1/leads", json={"first_name": "Dee"})
        assert lead.status_code == 201, lead.text
        converted = http.post(f"/api/v1/leads/{lead.json()['id']}/convert")
        assert converted.status_code in (200, 201), converted.text
    assert _embed_tasks(api, owner.agency_id, "client")[1] == [converted.json()["client"]["id"]]
