"""Leads through /api/v1, as an agency's staff would use them: CRUD, filters, search, sorting, pagination,
tags, owners, custom fields, the pipeline summary, and another agency that never gets at them."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.live import Api, Member, agency_owner


@pytest.fixture(scope="module")
def alpha(api: Api) -> Member:
    return agency_owner(api, "Leads Alpha")


@pytest.fixture
def http(api: Api, alpha: Member) -> Iterator[httpx.Client]:
    with api.http(alpha.access_token) as client:
        yield client


def tag() -> str:
    """A tag of its own, so a test lists only the leads it made."""
    return f"t-{uuid.uuid4().hex[:8]}"


def create(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = http.post("/api/v1/leads", json=fields)
    assert response.status_code == 201, response.text
    lead: dict[str, Any] = response.json()
    return lead


def listed(http: httpx.Client, **params: Any) -> dict[str, Any]:
    response = http.get("/api/v1/leads", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def names(page: dict[str, Any]) -> list[str]:
    return [lead["first_name"] for lead in page["items"]]


def walk(http: httpx.Client, between: Any = None, **params: Any) -> list[dict[str, Any]]:
    """Every page of a list, calling `between()` after each page."""
    items, cursor = [], None
    while True:
        page = listed(http, **params, **({"cursor": cursor} if cursor else {}))
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        if between is not None:
            between()


def join(api: Api, owner: Member, role: str) -> tuple[str, str]:
    """A new user who joins the owner's agency with `role`; returns (user id, access token)."""
    email, password = api.confirmed_user()
    with api.http(owner.access_token) as http:
        invited = http.post(
            f"/api/v1/agencies/{owner.agency_id}/invites", json={"email": email, "role": role}
        )
        assert invited.status_code == 201, invited.text
    with api.http() as http:
        session = http.post(
            "/auth/v1/token", params={"grant_type": "password"}, json={"email": email, "password": password}
        ).json()
    assert session["user"]["app_metadata"]["agency_role"] == role
    return session["user"]["id"], session["access_token"]


def test_create_read_update_delete(http: httpx.Client) -> None:
    lead = create(
        http,
        first_name="  Ada ",
        last_name="Lovelace",
        email="ada@engines.example",
        company="Analytical Engines",
        score=90,
        estimated_value="12500.50",
        tags=["vip", "vip", "hot"],
        custom_fields={"anything": 1},
    )
    assert lead["first_name"] == "Ada"
    assert lead["status"] == "new"
    assert lead["tags"] == ["vip", "hot"]
    assert lead["estimated_value"] == 12500.5
    assert lead["owner_id"] is None
    assert http.get(f"/api/v1/leads/{lead['id']}").json() == lead

    patched = http.patch(f"/api/v1/leads/{lead['id']}", json={"status": "qualified", "company": None})
    assert patched.status_code == 200, patched.text
    changed = patched.json()
    assert (changed["status"], changed["company"], changed["last_name"]) == ("qualified", None, "Lovelace")
    assert changed["updated_at"] > lead["updated_at"]
    assert http.patch(f"/api/v1/leads/{lead['id']}", json={}).json() == changed

    assert http.delete(f"/api/v1/leads/{lead['id']}").status_code == 204
    for method in ("GET", "PATCH", "DELETE"):
        gone = http.request(method, f"/api/v1/leads/{lead['id']}", json={} if method == "PATCH" else None)
        assert gone.status_code == 404, gone.text
        assert gone.json()["message"] == "lead not found (or not in your agency)"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "at least one of first_name"),
        ({"first_name": "   "}, "at least one of first_name"),
        ({"first_name": "A", "email": "not-an-email"}, "email: Value error, 'not-an-email' has no @"),
        ({"first_name": "A", "phone": "12"}, "phone: '12' is not a phone number"),
        ({"first_name": "A", "phone": "call me"}, "phone: 'call me' is not a phone number"),
        ({"first_name": "A", "score": 101}, "score: Input should be less than or equal to 100"),
        ({"first_name": "A", "score": "high"}, "score: Input should be a valid integer"),
        ({"first_name": "A", "estimated_value": "1.234"}, "no more than 2 decimal places"),
        ({"first_name": "A", "estimated_value": -5}, "greater than or equal to 0"),
        ({"first_name": "A", "status": "won"}, "status: Input should be 'new'"),
        ({"first_name": "A", "tags": "vip"}, "tags: Input should be a valid list"),
        ({"first_name": "A", "tags": [""]}, "tags.0: String should have at least 1 character"),
        ({"first_name": "A", "custom_fields": []}, "custom_fields: Input should be a valid dictionary"),
        ({"first_name": "A", "owner_id": "nobody"}, "owner_id: Input should be a valid UUID"),
        ({"first_name": "A", "agency_id": str(uuid.uuid4())}, "agency_id: Extra inputs are not permitted"),
        ({"first_name": "A", "search_vector": "x"}, "search_vector: Extra inputs are not permitted"),
        ({"first_name": "A" * 201}, "first_name: String should have at most 200 characters"),
    ],
)
def test_invalid_bodies_are_refused_with_the_reason(
    http: httpx.Client, body: dict[str, Any], words: str
) -> None:
    response = http.post("/api/v1/leads", json=body)
    assert response.status_code == 422, response.text
    assert words in response.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"first_name": "A\u0000B"},
        {"first_name": "A", "tags": ["a\u0000"]},
        {"first_name": "A", "custom_fields": {"k": "\u0000"}},
    ],
)
def test_json_the_database_cannot_store_is_a_400(http: httpx.Client, body: dict[str, Any]) -> None:
    # Refused for every route before it runs (api/bounds.py): PostgreSQL text cannot hold NUL.
    response = http.post("/api/v1/leads", json=body)
    assert response.status_code == 400
    assert "NUL" in response.json()["message"]


def test_invalid_patches_are_refused_and_change_nothing(http: httpx.Client) -> None:
    lead = create(http, first_name="Only", status="contacted")
    for body, words in [
        ({"status": None}, "status cannot be null"),
        ({"tags": None}, "tags cannot be null"),
        ({"first_name": None}, "a lead needs at least one of first_name"),
        ({"status": "won"}, "status: Input should be"),
        ({"id": str(uuid.uuid4())}, "id: Extra inputs are not permitted"),
        ({"created_at": "2020-01-01T00:00:00Z"}, "created_at: Extra inputs are not permitted"),
    ]:
        response = http.patch(f"/api/v1/leads/{lead['id']}", json=body)
        assert response.status_code == 422, response.text
        assert words in response.json()["message"]
    assert http.get(f"/api/v1/leads/{lead['id']}").json() == lead
    not_json = http.patch(
        f"/api/v1/leads/{lead['id']}", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 422


def test_bad_ids_and_list_parameters_are_4xx(http: httpx.Client) -> None:
    assert http.get("/api/v1/leads/not-a-uuid").status_code == 422
    assert http.patch("/api/v1/leads/123", json={}).status_code == 422
    for params, words in [
        ({"sort": "email"}, "sort: Input should be"),
        ({"sort": "-created_at; DROP TABLE leads"}, "sort: Input should be"),
        ({"limit": 0}, "limit: Input should be greater than or equal to 1"),
        ({"limit": 201}, "limit: Input should be less than or equal to 200"),
        ({"limit": 10**30}, "limit"),
        ({"limit": "many"}, "limit: Input should be a valid integer"),
        ({"status": "won"}, "status.0: Input should be"),
        ({"score_min": -1}, "score_min"),
        ({"owner_id": "me"}, "owner_id: Input should be a valid UUID"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"created_after": "2024-01-01T00:00:00"}, "created_after: Input should have timezone info"),
        ({"stauts": "new"}, "stauts: Extra inputs are not permitted"),
        ({"q": "x" * 201}, "q: String should have at most 200 characters"),
    ]:
        response = http.get("/api/v1/leads", params=params)
        assert response.status_code == 422, response.text
        assert words in response.json()["message"]
    assert http.get("/api/v1/leads", params={"q": "a\x00b"}).status_code == 400


def test_a_garbage_or_tampered_cursor_is_a_400(http: httpx.Client) -> None:
    mine = tag()
    for i in range(3):
        create(http, first_name=f"C{i}", tags=[mine])
    cursor = listed(http, tag=mine, limit=1)["next_cursor"]
    assert cursor
    data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))

    def encoded(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

    for bad in [
        "garbage",
        "!!!",
        encoded("just a string"),
        encoded({"s": "-created_at"}),
        encoded({**data, "k": [data["k"][0]]}),
        encoded({**data, "k": ["not a time", data["k"][1]]}),
        encoded({**data, "k": [data["k"][0], 42]}),
        encoded({**data, "k": [data["k"][0], "not-a-uuid"]}),
        encoded({**data, "k": [{"$gt": 1}, data["k"][1]]}),
        encoded({**data, "k": ["2024-01-01T00:00:00", data["k"][1]]}),
    ]:
        response = http.get("/api/v1/leads", params={"tag": mine, "cursor": bad})
        assert response.status_code == 400, f"{bad}: {response.text}"
        assert response.json()["message"].startswith("the cursor is not valid"), response.text
    other_order = http.get("/api/v1/leads", params={"tag": mine, "cursor": cursor, "sort": "-score"})
    assert other_order.status_code == 400
    assert "belongs to the order '-created_at', not '-score'" in other_order.json()["message"]
    assert http.get("/api/v1/leads", params={"cursor": "x" * 2001}).status_code == 422


def test_every_filter(api: Api, alpha: Member, http: httpx.Client) -> None:
    mine = tag()
    staff_id, _ = join(api, alpha, "member")
    rows = [
        ("Anna", "new", "website", 10, ["a"], None),
        ("Bert", "contacted", "referral", 50, ["a", "b"], staff_id),
        ("Cleo", "qualified", "website", 90, ["b"], staff_id),
        ("Dirk", "lost", None, None, [], None),
    ]
    made = [
        create(
            http,
            first_name=name,
            status=status,
            source=source,
            score=score,
            tags=[mine, *tags],
            owner_id=owner,
        )
        for name, status, source, score, tags, owner in rows
    ]

    def only(**params: Any) -> list[str]:
        return sorted(names(listed(http, tag=[mine, *params.pop("tags", [])], **params)))

    assert only() == ["Anna", "Bert", "Cleo", "Dirk"]
    assert only(status="new") == ["Anna"]
    assert only(status=["new", "lost"]) == ["Anna", "Dirk"]
    assert only(source="website") == ["Anna", "Cleo"]
    assert only(owner_id=staff_id) == ["Bert", "Cleo"]
    assert only(tags=["a"]) == ["Anna", "Bert"]
    assert only(tags=["a", "b"]) == ["Bert"]
    assert only(score_min=50) == ["Bert", "Cleo"]
    assert only(score_max=50) == ["Anna", "Bert"]
    assert only(score_min=20, score_max=60) == ["Bert"]
    assert only(created_after=made[1]["created_at"]) == ["Cleo", "Dirk"]
    assert only(created_before=made[1]["created_at"]) == ["Anna"]
    assert only(created_after=made[0]["created_at"], created_before=made[3]["created_at"]) == ["Bert", "Cleo"]
    assert only(status="qualified", source="website", owner_id=staff_id, score_min=90) == ["Cleo"]
    assert only(status="new", source="referral") == []


def test_sorts(http: httpx.Client) -> None:
    mine = tag()
    for name, last, score in [("A", "beta", 30), ("B", None, None), ("C", "Alpha", 80), ("D", "gamma", 30)]:
        create(http, first_name=name, last_name=last, score=score, tags=[mine])
    http.patch(
        f"/api/v1/leads/{listed(http, tag=mine, sort='created_at')['items'][0]['id']}", json={"notes": "x"}
    )

    def order(sort: str) -> list[str]:
        return names(listed(http, tag=mine, sort=sort))

    assert order("created_at") == ["A", "B", "C", "D"]
    assert order("-created_at") == ["D", "C", "B", "A"]
    assert names(listed(http, tag=mine)) == ["D", "C", "B", "A"]
    assert order("-updated_at")[0] == "A"
    # Ties in the order of the ids (time-ordered UUIDs), the same way as the sort; unscored last.
    assert order("-score") == ["C", "D", "A", "B"]
    assert order("score") == ["A", "D", "C", "B"]
    assert order("last_name") == ["C", "A", "D", "B"]


@pytest.mark.parametrize("sort", ["-created_at", "created_at", "-score", "last_name", "-updated_at"])
def test_pagination_walks_every_row_once_even_with_inserts_between_pages(
    http: httpx.Client, sort: str
) -> None:
    mine = tag()
    originals = {
        create(http, first_name=f"P{i}", last_name=f"L{i % 4}", score=i % 3 * 40, tags=[mine])["id"]
        for i in range(23)
    }
    added: list[str] = []

    def insert_more() -> None:
        added.append(create(http, first_name="Late", last_name="L1", score=40, tags=[mine])["id"])

    seen = [lead["id"] for lead in walk(http, insert_more, tag=mine, sort=sort, limit=5)]
    assert len(seen) == len(set(seen)), "a row came twice"
    assert originals <= set(seen), "a row was skipped"
    assert set(seen) <= originals | set(added)
    assert len(added) >= 4  # ascending orders meet the new rows at their end


def test_search(http: httpx.Client) -> None:
    mine = tag()
    zoe = create(
        http,
        first_name="Zoë",
        last_name="Müller",
        email="zoe.mueller@blumen.example",
        company="Blumen Haus",
        tags=[mine],
    )
    create(http, first_name="Max", last_name="Mustermann", company="Muster GmbH", tags=[mine])
    create(http, first_name="Erika", last_name="Müllerschön", email="erika@example.com", tags=[mine])

    def found(q: str) -> list[str]:
        return names(listed(http, tag=mine, q=q))

    # Words of the name (full text), whatever the case.
    assert found("Müller")[0] == "Zoë"
    assert found("MÜLLER")[0] == "Zoë"
    assert found("zoë müller") == ["Zoë"]
    # A typo: trigram similarity of the words.
    assert found("Müler")[0] == "Zoë"
    assert found("Zoë") == ["Zoë"]
    # "zoe" without the diaeresis does not match the name (no unaccent), but the email starts with it.
    assert found("zoe") == ["Zoë"]
    assert found("zoe.mue") == ["Zoë"]
    # "Mueller" is too far from "Müller" for trigrams, and the email does not start with it.
    assert found("Mueller") == []
    # The company, by a word or a similar spelling.
    assert found("Blumen") == ["Zoë"]
    assert found("Muster") == ["Max"]
    assert found("Mustr GmbH") == ["Max"]
    # Nothing to search for: no match rather than an error.
    assert found("!!!") == []
    assert names(listed(http, tag=mine, q="   ")) == ["Erika", "Max", "Zoë"]
    # The best match first: an exact word before a longer name that contains it.
    assert found("müller")[:1] == ["Zoë"]
    assert listed(http, tag=mine, q="Müller", sort="created_at")["items"][0]["id"] == zoe["id"]


def test_search_results_page_by_relevance(http: httpx.Client) -> None:
    mine = tag()
    for i in range(7):
        create(http, first_name=f"Hannah{i}", last_name="Schmidt", tags=[mine])
    create(http, first_name="Hans", last_name="Schmitt", tags=[mine])
    one_page = listed(http, tag=mine, q="schmidt", limit=100)["items"]
    paged = walk(http, tag=mine, q="schmidt", limit=3)
    assert [lead["id"] for lead in paged] == [lead["id"] for lead in one_page]
    assert len(one_page) == 8
    assert one_page[-1]["first_name"] == "Hans"


def test_tags(http: httpx.Client) -> None:
    lead = create(http, first_name="Tagged", tags=["one"])
    url = f"/api/v1/leads/{lead['id']}/tags"
    assert http.post(url, json={"tag": " two "}).json()["tags"] == ["one", "two"]
    again = http.post(url, json={"tag": "two"})
    assert again.status_code == 200
    assert again.json()["tags"] == ["one", "two"]
    assert http.delete(f"{url}/one").json()["tags"] == ["two"]
    assert http.delete(f"{url}/one").json()["tags"] == ["two"]
    assert http.post(url, json={"tag": ""}).status_code == 422
    assert http.post(url, json={"tag": "x" * 65}).status_code == 422
    assert http.post(url, json={"tags": ["x"]}).status_code == 422
    missing = f"/api/v1/leads/{uuid.uuid4()}/tags"
    assert http.post(missing, json={"tag": "x"}).status_code == 404
    assert http.delete(f"{missing}/x").status_code == 404


def test_owner_must_be_a_member_of_the_agency(api: Api, alpha: Member, http: httpx.Client) -> None:
    staff_id, _ = join(api, alpha, "member")
    outsider = agency_owner(api, "Leads Outsider")
    lead = create(http, first_name="Owned", owner_id=alpha.user_id)
    assert lead["owner_id"] == alpha.user_id
    assigned = http.patch(f"/api/v1/leads/{lead['id']}", json={"owner_id": staff_id})
    assert assigned.status_code == 200
    assert assigned.json()["owner_id"] == staff_id
    for stranger in (outsider.user_id, str(uuid.uuid4())):
        refused = http.patch(f"/api/v1/leads/{lead['id']}", json={"owner_id": stranger})
        assert refused.status_code == 400
        assert "not a member of your agency" in refused.json()["message"]
        assert stranger not in refused.text
        assert http.post("/api/v1/leads", json={"first_name": "X", "owner_id": stranger}).status_code == 400
    assert http.get(f"/api/v1/leads/{lead['id']}").json()["owner_id"] == staff_id
    assert http.patch(f"/api/v1/leads/{lead['id']}", json={"owner_id": None}).json()["owner_id"] is None


def test_custom_fields_are_checked_against_the_agencys_definitions(api: Api) -> None:
    owner = agency_owner(api, "Custom Fields")
    _, member_token = join(api, owner, "member")
    definitions = {
        "leads": {
            "industry": {"type": "select", "options": ["Retail", "Health"], "required": True},
            "employees": {"type": "number"},
            "renewal": {"type": "date"},
            "vip": {"type": "boolean"},
            "notes2": {"type": "text", "max_length": 5},
        },
        "clients": {},
    }
    with api.http(owner.access_token) as http:
        assert http.get("/api/v1/custom-fields").json() == {"leads": {}, "clients": {}}
        # Free-form until the agency defines fields.
        free = create(http, first_name="Free", custom_fields={"whatever": [1, 2]})
        saved = http.put("/api/v1/custom-fields", json=definitions)
        assert saved.status_code == 200, saved.text
        assert saved.json()["leads"]["industry"]["options"] == ["Retail", "Health"]
        assert http.get("/api/v1/custom-fields").json() == saved.json()

        good = {
            "industry": "Retail",
            "employees": 12.5,
            "renewal": "2025-02-28",
            "vip": True,
            "notes2": "short",
        }
        lead = create(http, first_name="Good", custom_fields=good)
        assert lead["custom_fields"] == good
        for fields, words in [
            ({"employees": 3}, "custom field 'industry' is required for leads"),
            ({"industry": None}, "custom field 'industry' is required for leads"),
            ({"industry": "Retail", "color": "red"}, "custom field 'color' is not defined for leads"),
            (
                {"industry": "Mining"},
                "custom field 'industry': expected one of 'Retail', 'Health', got 'Mining'",
            ),
            (
                {"industry": "Retail", "employees": "many"},
                "custom field 'employees': expected a number, got 'many'",
            ),
            ({"industry": "Retail", "employees": True}, "custom field 'employees': expected a number"),
            (
                {"industry": "Retail", "renewal": "28.02.2025"},
                "custom field 'renewal': expected a date as YYYY-MM-DD",
            ),
            ({"industry": "Retail", "renewal": "2025-02-30"}, "'2025-02-30' is not a date in the calendar"),
            ({"industry": "Retail", "vip": "yes"}, "custom field 'vip': expected true or false, got 'yes'"),
            (
                {"industry": "Retail", "notes2": "too long"},
                "custom field 'notes2': at most 5 characters, got 8",
            ),
            ({"industry": "Retail", "notes2": 5}, "custom field 'notes2': expected text, got 5"),
        ]:
            response = http.post("/api/v1/leads", json={"first_name": "Bad", "custom_fields": fields})
            assert response.status_code == 422, f"{fields}: {response.text}"
            assert words in response.json()["message"], response.text

        # PATCH merges into the stored fields; null removes one; the whole result is checked.
        url = f"/api/v1/leads/{lead['id']}"
        merged = http.patch(url, json={"custom_fields": {"employees": 40, "vip": None}})
        assert merged.status_code == 200, merged.text
        assert merged.json()["custom_fields"] == {
            "industry": "Retail",
            "employees": 40,
            "renewal": "2025-02-28",
            "notes2": "short",
        }
        assert http.patch(url, json={"custom_fields": {"industry": None}}).status_code == 422
        # A lead written before the definitions keeps its values until its custom fields are written.
        assert http.patch(f"/api/v1/leads/{free['id']}", json={"city": "Oslo"}).status_code == 200
        stale = http.patch(f"/api/v1/leads/{free['id']}", json={"custom_fields": {"industry": "Health"}})
        assert stale.status_code == 422
        assert "'whatever' is not defined" in stale.json()["message"]

        for bad, words in [
            ({"leads": {"size": {"type": "select"}}}, "a select field needs `options`"),
            ({"leads": {"size": {"type": "number", "options": ["a"]}}}, "`options` are for select fields"),
            ({"leads": {"size": {"type": "color"}}}, "leads.size.type: Input should be"),
            ({"leads": {"Bad Name": {"type": "text"}}}, "leads.Bad Name.[key]: String should match pattern"),
            ({"deals": {}}, "deals: Extra inputs are not permitted"),
        ]:
            response = http.put("/api/v1/custom-fields", json=bad)
            assert response.status_code == 422, response.text
            assert words in response.json()["message"]
    with api.http(member_token) as http:
        assert http.get("/api/v1/custom-fields").json() == saved.json()
        refused = http.put("/api/v1/custom-fields", json={"leads": {}})
        assert refused.status_code == 403
        assert "owners and admins" in refused.json()["message"]
    with api.http(owner.access_token) as http:
        assert http.get("/api/v1/custom-fields").json() == saved.json()


def test_pipeline_summary_in_pipeline_order(api: Api) -> None:
    owner = agency_owner(api, "Pipeline Summary")
    with api.http(owner.access_token) as http:
        empty = http.get("/api/v1/pipeline").json()["stages"]
        assert [s["status"] for s in empty] == [
            "new",
            "contacted",
            "qualified",
            "proposal",
            "negotiation",
            "converted",
            "lost",
        ]
        assert all(s["count"] == 0 and s["estimated_value"] == 0 for s in empty)
        for status, value in [("new", "100.10"), ("new", None), ("proposal", "5000"), ("lost", "1.5")]:
            create(http, first_name="P", status=status, estimated_value=value)
        stages = {
            s["status"]: (s["count"], s["estimated_value"])
            for s in http.get("/api/v1/pipeline").json()["stages"]
        }
    assert stages == {
        "new": (2, 100.1),
        "contacted": (0, 0),
        "qualified": (0, 0),
        "proposal": (1, 5000),
        "negotiation": (0, 0),
        "converted": (0, 0),
        "lost": (1, 1.5),
    }


def test_without_an_agency_or_a_user(api: Api) -> None:
    email, password = api.confirmed_user()
    with api.http() as anon:
        assert anon.get("/api/v1/leads").status_code == 401
        session = anon.post(
            "/auth/v1/token", params={"grant_type": "password"}, json={"email": email, "password": password}
        ).json()
    with api.http(session["access_token"]) as http:
        for method, path in [
            ("GET", "/api/v1/leads"),
            ("POST", "/api/v1/leads"),
            ("GET", "/api/v1/pipeline"),
        ]:
            response = http.request(method, path, json={"first_name": "X"} if method == "POST" else None)
            assert response.status_code == 403
            assert response.json()["message"] == (
                "no active agency: create one with POST /api/v1/agencies or ask to be invited"
            )
    with httpx.Client(base_url=api.url, headers={"apikey": api.service_key}) as service:
        assert service.get("/api/v1/leads").status_code == 401


def test_another_agency_never_sees_or_changes_them(api: Api, http: httpx.Client) -> None:
    mine = tag()
    lead = create(http, first_name="Secret", last_name="Lead", tags=[mine])
    bravo = agency_owner(api, "Leads Bravo")
    with api.http(bravo.access_token) as other:
        url = f"/api/v1/leads/{lead['id']}"
        assert other.get(url).status_code == 404
        assert other.patch(url, json={"first_name": "Mine"}).status_code == 404
        assert other.delete(url).status_code == 404
        assert other.post(f"{url}/tags", json={"tag": "x"}).status_code == 404
        assert other.delete(f"{url}/tags/{mine}").status_code == 404
        assert other.get(f"{url}/timeline").status_code == 404
        assert other.get("/api/v1/leads", params={"tag": mine}).json() == {"items": [], "next_cursor": None}
        assert other.get("/api/v1/leads", params={"q": "Secret"}).json()["items"] == []
        assert all(s["count"] == 0 for s in other.get("/api/v1/pipeline").json()["stages"])
        # Its own cursor over A's list: still only its own rows.
        own = [create(other, first_name=f"B{i}", tags=[mine]) for i in range(2)]
        page = other.get("/api/v1/leads", params={"tag": mine, "limit": 1}).json()
        rest = other.get("/api/v1/leads", params={"tag": mine, "cursor": page["next_cursor"]}).json()
        assert {x["id"] for x in page["items"] + rest["items"]} == {x["id"] for x in own}
    assert http.get(f"/api/v1/leads/{lead['id']}").json() == lead


def test_leads_filter_by_custom_fields_as_their_text(http: httpx.Client) -> None:
    """`custom_field=name:value` (repeatable, all must hold) compares the stored value as text, so a
    number, a boolean, a date and a select are each matched by what the app shows."""
    mark = tag()
    create(http, first_name="Big", tags=[mark], custom_fields={"employees": 40, "vip": True, "tier": "gold"})
    create(http, first_name="Small", tags=[mark], custom_fields={"employees": 4, "vip": True})
    create(http, first_name="None", tags=[mark])
    assert names(listed(http, tag=mark, custom_field="employees:40")) == ["Big"]
    assert sorted(names(listed(http, tag=mark, custom_field="vip:true"))) == ["Big", "Small"]
    both = listed(http, tag=mark, custom_field=["vip:true", "tier:gold"])
    assert names(both) == ["Big"]
    # A value may hold the separator itself; only the first one splits.
    assert names(listed(http, tag=mark, custom_field="tier:gold:plus")) == []
    for bad in ("employees", "Employees:4", ":4"):
        refused = http.get("/api/v1/leads", params={"custom_field": bad})
        assert refused.status_code == 422, refused.text
        assert "custom_field" in refused.text
