"""Finding duplicate leads and merging them through the API, as someone cleaning up after an import would."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from tests.integration.crm.pipeline_support import (
    audit_rows,
    cut_connection_while_blocked,
    insert,
    insert_activities,
    rows,
)
from tests.live import Api, Member, agency_owner


@pytest.fixture
def alpha(api: Api) -> Member:
    """A fresh agency per test: duplicates are about everything an agency holds."""
    return agency_owner(api, "Dupes Alpha")


@pytest.fixture(scope="module")
def bravo(api: Api) -> Member:
    return agency_owner(api, "Dupes Bravo")


def lead(api: Api, member: Member, **fields: Any) -> str:
    return insert(api.owner_url, "leads", member.agency_id, **fields)


def duplicates(api: Api, member: Member, lead_id: str, **params: Any) -> list[dict[str, Any]]:
    with api.http(member.access_token) as http:
        response = http.get(f"/api/v1/leads/{lead_id}/duplicates", params=params)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def test_duplicates_by_email_phone_and_similar_name(api: Api, alpha: Member, bravo: Member) -> None:
    target = lead(
        api,
        alpha,
        first_name="Jonathan",
        last_name="Smithers",
        email="  Jon.Smithers@Acme.example ",
        phone="+44 20 7946 0958",
        company="Acme Robotics",
    )
    same_email = lead(api, alpha, first_name="J.", last_name="Smithers", email="jon.smithers@acme.example")
    client = insert(
        api.owner_url,
        "clients",
        alpha.agency_id,
        first_name="Jonathan",
        last_name="Smithers",
        email="JON.SMITHERS@ACME.EXAMPLE",
        company="Acme Robotics",
    )
    same_phone = lead(api, alpha, first_name="Pat", last_name="Other", phone="+44-20-7946-0958")
    # Normalising keeps digits and '+': the national form is another number to it.
    lead(api, alpha, first_name="Quentin", last_name="Zed", phone="020 7946 0958")
    similar_name = lead(api, alpha, first_name="Jonathon", last_name="Smithers", company="ACME Robotics Ltd")
    lead(api, alpha, first_name="Zara", last_name="Quill", company="Other Co")
    lead(api, alpha, first_name="Maria", last_name="Garcia", company="Acme Robotics")  # a colleague
    lead(api, bravo, first_name="Jonathan", last_name="Smithers", email="jon.smithers@acme.example")

    found = duplicates(api, alpha, target)
    by_id = {d["id"]: d for d in found}
    assert set(by_id) == {same_email, client, same_phone, similar_name}
    assert [d["score"] for d in found] == sorted((d["score"] for d in found), reverse=True)

    assert by_id[same_email]["kind"] == "lead"
    assert by_id[same_email]["score"] == 1.0
    assert by_id[same_email]["reasons"][0] == "same email"
    assert by_id[client]["kind"] == "client"
    assert by_id[client]["score"] == 1.0
    assert by_id[client]["reasons"] == ["same email", "same name", "same company"]
    # Stored as every door stores it (the database lower-cases the domain, migration 0024).
    assert by_id[client]["record"]["email"] == "JON.SMITHERS@acme.example"
    assert by_id[same_phone]["score"] == 0.9
    assert by_id[same_phone]["reasons"] == ["same phone"]
    close = by_id[similar_name]
    assert 0.45 <= close["score"] < 0.9
    assert close["reasons"][0].startswith("similar name 0.")
    assert close["reasons"][1].startswith("similar company 0.")

    # A stricter threshold keeps only the exact matches; limit keeps the best.
    assert {d["id"] for d in duplicates(api, alpha, target, threshold=0.95)} == {same_email, client}
    assert len(duplicates(api, alpha, target, limit=1)) == 1


def test_phones_typed_in_national_and_international_form_are_one_number(api: Api, alpha: Member) -> None:
    with psycopg.connect(api.owner_url, autocommit=True) as owner:
        owner.execute(
            'UPDATE agencies SET settings = settings || \'{"phone_region": "gb"}\' WHERE id = %s',
            (alpha.agency_id,),
        )
    with api.http(alpha.access_token) as http:
        made = [
            http.post("/api/v1/leads", json={"first_name": name, "phone": phone})
            for name, phone in (
                ("Intl", "+44 20 7946 0958"),
                ("National", "020 7946 0958"),
                ("Us", "+1 (202) 555-0199"),
            )
        ]
        assert [m.status_code for m in made] == [201, 201, 201], [m.text for m in made]
        assert [m.json()["phone"] for m in made] == ["+442079460958", "+442079460958", "+12025550199"]
        changed = http.patch(f"/api/v1/leads/{made[2].json()['id']}", json={"phone": "07700 900123"})
        assert changed.json()["phone"] == "+447700900123"

    found = duplicates(api, alpha, made[0].json()["id"])
    assert [(d["id"], d["reasons"]) for d in found] == [(made[1].json()["id"], ["same phone"])]


def test_a_lead_without_a_name_is_matched_on_its_company(api: Api, alpha: Member) -> None:
    target = lead(api, alpha, company="Globex Corporation")
    twin = lead(api, alpha, company="globex corporation ")
    lead(api, alpha, first_name="Homer", last_name="Simpson", company="Globex Corporation")
    found = duplicates(api, alpha, target)
    assert [(d["id"], d["reasons"]) for d in found] == [(twin, ["same company"])]


def test_the_client_a_lead_became_is_not_its_duplicate(api: Api, alpha: Member) -> None:
    target = lead(api, alpha, first_name="Once", last_name="Converted", email="once@converted.example")
    with api.http(alpha.access_token) as http:
        assert http.post(f"/api/v1/leads/{target}/convert").status_code == 201
    assert duplicates(api, alpha, target) == []


def test_duplicate_queries_are_checked(api: Api, alpha: Member, bravo: Member) -> None:
    target = lead(api, alpha, first_name="Checked")
    with api.http(alpha.access_token) as http:
        assert http.get(f"/api/v1/leads/{target}/duplicates", params={"threshold": 0.05}).status_code == 422
        assert http.get(f"/api/v1/leads/{target}/duplicates", params={"limit": 0}).status_code == 422
        assert http.get("/api/v1/leads/not-a-uuid/duplicates").status_code == 422
        other = http.get(f"/api/v1/leads/{lead(api, bravo, first_name='Checked')}/duplicates")
    assert other.status_code == 404


def test_agency_wide_duplicates_are_pairs_sharing_email_or_phone(
    api: Api, alpha: Member, bravo: Member
) -> None:
    first = lead(api, alpha, first_name="Eve", email="eve@example.org", phone="+1 555 010 0001")
    second = lead(api, alpha, first_name="Eve", last_name="A.", email="EVE@example.org")
    third = lead(api, alpha, first_name="E.", email=" eve@example.org")
    caller = lead(api, alpha, first_name="Carl", phone="+1 (555) 010-0199")
    again = lead(api, alpha, first_name="Carl", last_name="B.", phone="+1 555 010 0199")
    lead(api, alpha, first_name="Unique", email="unique@example.org", phone="+1 555 010 0002")
    lead(api, bravo, first_name="Eve", email="eve@example.org", phone="+1 (555) 010-0199")

    with api.http(alpha.access_token) as http:
        response = http.get("/api/v1/duplicates")
        limited = http.get("/api/v1/duplicates", params={"limit": 1})
    assert response.status_code == 200, response.text
    pairs = [([lead["id"] for lead in p["leads"]], p["reasons"], p["score"]) for p in response.json()]
    email_pairs = sorted(pairs[:2])
    assert email_pairs == sorted(
        [([first, second], ["same email"], 1.0), ([first, third], ["same email"], 1.0)]
    )
    assert pairs[2:] == [([caller, again], ["same phone"], 0.9)]
    assert len(limited.json()) == 1


@pytest.fixture
def to_merge(api: Api, alpha: Member) -> dict[str, str]:
    survivor = lead(
        api,
        alpha,
        first_name="Ann",
        last_name="Lee",
        phone="+1 555 0100",
        tags=["a"],
        custom_fields={"x": 1, "y": 1},
    )
    first = lead(
        api,
        alpha,
        first_name="Anne",
        last_name="Lee",
        email="ann@lee.example",
        phone="+1 555 0199",
        job_title="CEO",
        status="qualified",
        score=70,
        tags=["b"],
        custom_fields={"y": 2, "z": 2},
    )
    second = lead(
        api,
        alpha,
        first_name="Ann",
        email="ann2@lee.example",
        job_title="CTO",
        city="Paris",
        score=20,
        tags=["a", "c"],
        custom_fields={"w": 3, "z": 3},
    )
    return {"survivor": survivor, "first": first, "second": second}


def test_merge_keeps_every_activity_and_records_who_merged_what(
    api: Api, alpha: Member, to_merge: dict[str, str]
) -> None:
    survivor, first, second = to_merge["survivor"], to_merge["first"], to_merge["second"]
    activities = [
        *insert_activities(api.owner_url, alpha.agency_id, 1, lead_id=survivor),
        *insert_activities(api.owner_url, alpha.agency_id, 2, lead_id=first),
        *insert_activities(api.owner_url, alpha.agency_id, 1, lead_id=second),
    ]
    memory = insert(
        api.owner_url, "agent_memory", alpha.agency_id, subject_type="lead", subject_id=first, content="golf"
    )

    with api.http(alpha.access_token) as http:
        response = http.post(
            f"/api/v1/leads/{survivor}/merge",
            json={
                "duplicate_ids": [first, second, first],
                "prefer": {"phone": first, "status": first, "first_name": survivor},
            },
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["merged_ids"] == [first, second]
    assert (body["leads_merged"], body["activities_moved"], body["memories_moved"]) == (2, 3, 1)
    merged = body["lead"]
    assert merged["id"] == survivor
    assert {k: merged[k] for k in ("first_name", "last_name", "email", "phone", "job_title", "city")} == {
        "first_name": "Ann",  # preferred: the survivor's
        "last_name": "Lee",  # the survivor's own
        "email": "ann@lee.example",  # empty on the survivor: the first duplicate's, in the given order
        "phone": "+1 555 0199",  # preferred: the first duplicate's
        "job_title": "CEO",
        "city": "Paris",
    }
    assert (merged["status"], merged["score"]) == ("qualified", 70)
    assert merged["tags"] == ["a", "b", "c"]
    assert merged["custom_fields"] == {"x": 1, "y": 1, "z": 2, "w": 3}

    stored = rows(
        api.owner_url, "SELECT lead_id::text FROM activities WHERE id = ANY(%s::uuid[])", (activities,)
    )
    assert [row["lead_id"] for row in stored] == [survivor] * 4
    assert rows(api.owner_url, "SELECT subject_id::text FROM agent_memory WHERE id = %s", (memory,)) == [
        {"subject_id": survivor}
    ]
    assert rows(api.owner_url, "SELECT id FROM leads WHERE id IN (%s, %s)", (first, second)) == []
    [stored_survivor] = rows(api.owner_url, "SELECT email, status FROM leads WHERE id = %s", (survivor,))
    assert stored_survivor == {"email": "ann@lee.example", "status": "qualified"}

    for duplicate, email in ((first, "ann@lee.example"), (second, "ann2@lee.example")):
        [entry] = audit_rows(api.owner_url, "merge", duplicate)
        assert entry["actor_id"] == alpha.user_id
        assert entry["agency_id"] == alpha.agency_id
        assert entry["before"]["id"] == duplicate
        assert entry["before"]["email"] == email
        assert entry["after"] == {"merged_into": survivor}
    [entry] = audit_rows(api.owner_url, "merge", survivor)
    assert entry["actor_id"] == alpha.user_id
    assert entry["before"]["email"] is None
    assert entry["after"]["email"] == "ann@lee.example"
    assert entry["context"]["merged"] == [first, second]


def test_merge_into_a_converted_lead_gives_its_client_the_activities(api: Api, alpha: Member) -> None:
    survivor = lead(api, alpha, first_name="Won", email="won@example.org")
    duplicate = lead(api, alpha, first_name="Won", email="WON@example.org")
    [activity] = insert_activities(api.owner_url, alpha.agency_id, 1, lead_id=duplicate)
    with api.http(alpha.access_token) as http:
        client = http.post(f"/api/v1/leads/{survivor}/convert").json()["client"]
        reopen = http.post(
            f"/api/v1/leads/{survivor}/merge",
            json={"duplicate_ids": [duplicate], "prefer": {"status": duplicate}},
        )
        assert reopen.status_code == 400
        assert "its status stays as it is" in reopen.json()["message"]
        response = http.post(f"/api/v1/leads/{survivor}/merge", json={"duplicate_ids": [duplicate]})
    assert response.status_code == 200, response.text
    assert rows(
        api.owner_url, "SELECT lead_id::text, client_id::text FROM activities WHERE id = %s", (activity,)
    ) == [{"lead_id": survivor, "client_id": client["id"]}]


def test_merge_refusals_say_why_and_change_nothing(
    api: Api, alpha: Member, bravo: Member, to_merge: dict[str, str]
) -> None:
    survivor, first = to_merge["survivor"], to_merge["first"]
    foreign = lead(api, bravo, first_name="Not", last_name="Yours")
    converted = lead(api, alpha, first_name="Already", last_name="Client")
    unknown = "00000000-0000-7000-8000-000000000000"

    def merge(body: dict[str, Any], into: str = survivor) -> httpx.Response:
        with api.http(alpha.access_token) as http:
            return http.post(f"/api/v1/leads/{into}/merge", json=body)

    with api.http(alpha.access_token) as http:
        assert http.post(f"/api/v1/leads/{converted}/convert").status_code == 201

    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"duplicate_ids": []}, 400, "duplicate_ids is empty"),
        ({"duplicate_ids": [survivor]}, 400, "cannot be merged into itself"),
        (
            {"duplicate_ids": [first], "prefer": {"tags": first}},
            400,
            "prefer names fields a merge cannot choose",
        ),
        ({"duplicate_ids": [first], "prefer": {"email": unknown}}, 400, "not part of this merge"),
        ({"duplicate_ids": [first, unknown]}, 404, f"lead(s) not found: {unknown}"),
        ({"duplicate_ids": [first, foreign]}, 404, f"lead(s) not found: {foreign}"),
        ({"duplicate_ids": [first, converted]}, 409, "merging converted leads is not supported"),
        ({"duplicate_ids": [first], "extra": 1}, 422, "extra"),
        ({}, 422, "duplicate_ids"),
    ]
    for body, status, message in cases:
        response = merge(body)
        assert response.status_code == status, (body, response.text)
        assert message in response.json()["message"], (body, response.text)
    assert merge({"duplicate_ids": [first]}, into=foreign).status_code == 404

    ids = [survivor, first, foreign, converted]
    assert len(rows(api.owner_url, "SELECT 1 FROM leads WHERE id = ANY(%s::uuid[])", (ids,))) == 4
    assert (
        rows(
            api.owner_url,
            "SELECT 1 FROM audit_log WHERE action = 'merge' AND record_id = ANY(%s::uuid[])",
            (ids,),
        )
        == []
    )


def test_a_connection_lost_mid_merge_leaves_nothing_behind(
    api: Api, alpha: Member, to_merge: dict[str, str]
) -> None:
    survivor, first, second = to_merge["survivor"], to_merge["first"], to_merge["second"]
    own = insert_activities(api.owner_url, alpha.agency_id, 1, lead_id=survivor)
    of_first = insert_activities(api.owner_url, alpha.agency_id, 2, lead_id=first)
    of_second = insert_activities(api.owner_url, alpha.agency_id, 2, lead_id=second)
    snapshot = (
        "SELECT to_jsonb(l) - 'search_vector' AS row FROM leads l WHERE id = ANY(%s::uuid[]) ORDER BY id"
    )
    leads_before = rows(api.owner_url, snapshot, ([survivor, first, second],))
    placement = "SELECT id::text, lead_id::text FROM activities WHERE id = ANY(%s::uuid[]) ORDER BY id"
    activities_before = rows(api.owner_url, placement, (own + of_first + of_second,))

    def merge() -> httpx.Response:
        with api.http(alpha.access_token) as http:
            return http.post(
                f"/api/v1/leads/{survivor}/merge",
                json={"duplicate_ids": [first, second], "prefer": {"status": first}},
            )

    # By the time the merge moves activities it has locked every lead and rewritten the survivor; it
    # waits there for the activity we hold, and its connection is cut.
    response, waiting = cut_connection_while_blocked(
        api.owner_url, "SELECT id FROM activities WHERE id = %s FOR UPDATE", (of_second[-1],), merge
    )
    assert "UPDATE public.activities" in waiting
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "GARDEN503"

    assert rows(api.owner_url, snapshot, ([survivor, first, second],)) == leads_before
    assert rows(api.owner_url, placement, (own + of_first + of_second,)) == activities_before
    for lead_id in (survivor, first, second):
        assert audit_rows(api.owner_url, "merge", lead_id) == []

    # Nothing is stuck: the same merge succeeds on the next try.
    retried = merge()
    assert retried.status_code == 200, retried.text
    assert retried.json()["activities_moved"] == 4


def test_crossed_merges_do_not_deadlock(api: Api, alpha: Member) -> None:
    """Two people merge the same pair in opposite directions at once: leads are locked in id order, so one
    merge waits for the other and then finds its duplicate gone."""
    for _ in range(3):
        one, two = lead(api, alpha, first_name="One"), lead(api, alpha, first_name="Two")

        def merge(into: str, duplicate: str) -> int:
            with api.http(alpha.access_token) as http:
                return http.post(
                    f"/api/v1/leads/{into}/merge", json={"duplicate_ids": [duplicate]}
                ).status_code

        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = sorted(pool.map(merge, (one, two), (two, one)))
        assert statuses == [200, 404]


def test_the_duplicate_rule_decides_who_is_the_same_person(api: Api) -> None:
    owner = agency_owner(api, "Switchboard Ltd")
    ann = lead(api, owner, first_name="Ann", email="ann@acme.example", phone="+49 30 1234567")
    bob = lead(api, owner, first_name="Bob", email="bob@acme.example", phone="+49 30 1234567")
    desk = lead(api, owner, first_name="Desk", phone="+49 30 1234567")
    by_email = {d["id"]: d["same_person"] for d in duplicates(api, owner, ann)}
    assert by_email == {bob: False, desk: False}  # the agency's default: email
    by_phone = {d["id"]: d["same_person"] for d in duplicates(api, owner, ann, rule="email_or_phone")}
    assert by_phone == {bob: False, desk: True}  # two different emails stay two people
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        conn.execute(
            'UPDATE agencies SET settings = settings || \'{"duplicate_rule": "phone"}\' WHERE id = %s',
            (owner.agency_id,),
        )
    assert {d["id"]: d["same_person"] for d in duplicates(api, owner, ann)} == {bob: False, desk: True}
    with api.http(owner.access_token) as http:
        refused = http.get(f"/api/v1/leads/{ann}/duplicates", params={"rule": "fuzzy"})
    assert refused.status_code == 422, refused.text
