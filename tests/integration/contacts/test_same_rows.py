"""The same person through every door ends in the same row: POST /api/v1/leads, POST /rest/v1/leads (the
official client, as a member), an agent's write on the lead, and conversion to a client. The CSV doors
(the CLI and POST /api/v1/imports) are tests/integration/importer/test_same_rows.py, against the same
expectation (tests/integration/contacts/person.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.agents.test_api import AI
from tests.integration.contacts.person import CLIENT, LEAD, TYPED, set_rules, stored
from tests.live import Api, Mailbox, Member, agency_owner, serve
from tests.support import SessionDatabase


@pytest.fixture(scope="module")
def server(database: SessionDatabase, mailbox: tuple[Mailbox, int]) -> Iterator[Api]:
    # Agents run in the server (the offline provider), as `gardenos up` runs them.
    yield from serve(database, mailbox, **AI)


def _agency(api: Api) -> Member:
    member = agency_owner(api, f"Same rows {uuid.uuid4().hex[:6]}")
    set_rules(api.owner_url, member.agency_id)
    return member


def _create(api: Api, member: Member) -> str:
    with api.http(member.access_token) as http:
        created = http.post("/api/v1/leads", json=TYPED)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_api_v1_stores_the_expected_lead(server: Api) -> None:
    member = _agency(server)
    _create(server, member)
    assert stored(server.owner_url, "leads", member.agency_id) == [LEAD]


def test_rest_v1_stores_the_expected_lead(server: Api) -> None:
    member = _agency(server)
    client = server.client()
    client.auth.sign_in_with_password({"email": member.email, "password": member.password})
    client.table("leads").insert(TYPED).execute()
    assert stored(server.owner_url, "leads", member.agency_id) == [LEAD]


def test_rest_v1_normalises_a_patched_phone_and_refuses_one_that_is_not_a_number(server: Api) -> None:
    member = _agency(server)
    lead_id = _create(server, member)
    with server.http(member.access_token) as http:
        patched = http.patch(f"/rest/v1/leads?id=eq.{lead_id}", json={"phone": TYPED["phone"]})
        assert patched.status_code == 204, patched.text
        refused = http.post("/rest/v1/leads", json={"first_name": "No", "phone": "call me maybe"})
        assert refused.status_code == 400, refused.text
        assert refused.json()["message"].startswith("phone:")
        assert "international form" in refused.json()["hint"]
    assert stored(server.owner_url, "leads", member.agency_id) == [LEAD]


@pytest.mark.parametrize(
    ("write", "message"),
    [
        ({"email": "ada(at)example.com"}, "email: 'ada(at)example.com' has no @"),
        ({"custom_fields": {"shoe_size": 42}}, "custom field 'shoe_size' is not defined for leads"),
        ({"custom_fields": "K-1"}, "custom_fields must be an object"),
    ],
    ids=["email", "undefined-field", "not-an-object"],
)
def test_rest_v1_refuses_what_api_v1_refuses(server: Api, write: dict[str, Any], message: str) -> None:
    """An email that is no address and custom fields the agency has not defined: refused at /rest/v1 (400,
    PostgREST's shape, with a hint) as at /api/v1 (422), on insert and on update, and nothing is stored."""
    member = _agency(server)
    lead_id = _create(server, member)
    with server.http(member.access_token) as http:
        api = http.post("/api/v1/leads", json={"first_name": "No"} | write)
        assert api.status_code == 422, api.text
        inserted = http.post("/rest/v1/leads", json={"first_name": "No"} | write)
        patched = http.patch(f"/rest/v1/leads?id=eq.{lead_id}", json=write)
        for refused in (inserted, patched):
            assert refused.status_code == 400, refused.text
            assert refused.json()["message"].startswith(message), refused.json()
            assert refused.json()["hint"]
    assert stored(server.owner_url, "leads", member.agency_id) == [LEAD]


def test_an_agent_that_writes_the_lead_keeps_the_expected_lead(server: Api) -> None:
    member = _agency(server)
    lead_id = _create(server, member)
    with server.http(member.access_token) as http:
        answer = http.post(f"/ai/leads/{lead_id}/analyze", params={"wait": "true"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "succeeded"
    score = answer.json()["result"]["quality_score"]
    # The agent writes its score; nothing else of the person changes.
    assert stored(server.owner_url, "leads", member.agency_id) == [LEAD | {"score": score}]


def test_conversion_stores_the_expected_client(server: Api) -> None:
    member = _agency(server)
    lead_id = _create(server, member)
    with server.http(member.access_token) as http:
        converted = http.post(f"/api/v1/leads/{lead_id}/convert")
    assert converted.status_code == 201, converted.text
    assert stored(server.owner_url, "clients", member.agency_id) == [CLIENT]


def test_conversion_with_the_person_typed_again_stores_the_expected_client(server: Api) -> None:
    # The conversion form lets a person type the client's fields again: the same rules apply to them.
    member = _agency(server)
    lead_id = _create(server, member)
    with server.http(member.access_token) as http:
        converted = http.post(
            f"/api/v1/leads/{lead_id}/convert", json={k: v for k, v in TYPED.items() if k != "source"}
        )
    assert converted.status_code == 201, converted.text
    assert stored(server.owner_url, "clients", member.agency_id) == [CLIENT]
