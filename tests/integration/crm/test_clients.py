"""Clients through /api/v1: the same shape as leads (CRUD, filters, search, keyset pages), their own
statuses and lifetime value, custom fields, and another agency that never gets at them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.live import Api, Member, agency_owner


@pytest.fixture(scope="module")
def alpha(api: Api) -> Member:
    return agency_owner(api, "Clients Alpha")


@pytest.fixture
def http(api: Api, alpha: Member) -> Iterator[httpx.Client]:
    with api.http(alpha.access_token) as client:
        yield client


def tag() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def create(http: httpx.Client, **fields: Any) -> dict[str, Any]:
    response = http.post("/api/v1/clients", json=fields)
    assert response.status_code == 201, response.text
    client: dict[str, Any] = response.json()
    return client


def listed(http: httpx.Client, **params: Any) -> dict[str, Any]:
    response = http.get("/api/v1/clients", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def names(page: dict[str, Any]) -> list[str]:
    return [client["first_name"] for client in page["items"]]


def test_create_read_update_delete(http: httpx.Client) -> None:
    client = create(http, first_name="Grace", last_name="Hopper", company="Navy", lifetime_value=1234.5)
    assert (client["status"], client["lifetime_value"], client["lead_id"]) == ("active", 1234.5, None)
    assert create(http, company="Defaults Inc")["lifetime_value"] == 0
    assert http.get(f"/api/v1/clients/{client['id']}").json() == client
    patched = http.patch(f"/api/v1/clients/{client['id']}", json={"status": "churned", "company": None})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["status"], patched.json()["company"]) == ("churned", None)
    assert patched.json()["first_name"] == "Grace"
    assert http.delete(f"/api/v1/clients/{client['id']}").status_code == 204
    assert http.get(f"/api/v1/clients/{client['id']}").status_code == 404
    assert http.delete(f"/api/v1/clients/{client['id']}").status_code == 404


def test_invalid_input_is_4xx(http: httpx.Client) -> None:
    client = create(http, first_name="Valid")
    for body, words in [
        ({}, "a client needs at least one of first_name"),
        ({"first_name": "A", "status": "lead"}, "status: Input should be 'active', 'inactive' or 'churned'"),
        ({"first_name": "A", "lifetime_value": -1}, "lifetime_value"),
        ({"first_name": "A", "lifetime_value": "lots"}, "lifetime_value: Input should be a valid decimal"),
        ({"first_name": "A", "lead_id": str(uuid.uuid4())}, "lead_id: Extra inputs are not permitted"),
        ({"first_name": "A", "score": 5}, "score: Extra inputs are not permitted"),
    ]:
        response = http.post("/api/v1/clients", json=body)
        assert response.status_code == 422, response.text
        assert words in response.json()["message"]
    for body, words in [
        ({"lifetime_value": None}, "lifetime_value cannot be null"),
        ({"status": None}, "status cannot be null"),
        ({"first_name": None}, "a client needs at least one of first_name"),
    ]:
        response = http.patch(f"/api/v1/clients/{client['id']}", json=body)
        assert response.status_code == 422, response.text
        assert words in response.json()["message"]
    assert http.get("/api/v1/clients/nope").status_code == 422
    for params in [{"sort": "-score"}, {"limit": 500}, {"status": "new"}, {"cursor": "%%%"}, {"ltv": 1}]:
        response = http.get("/api/v1/clients", params=params)
        assert 400 <= response.status_code < 500, f"{params}: {response.text}"
    owner = http.post("/api/v1/clients", json={"first_name": "A", "owner_id": str(uuid.uuid4())})
    assert owner.status_code == 400


def test_filters_sorts_and_search(http: httpx.Client, alpha: Member) -> None:
    mine = tag()
    rows = [
        ("Anna", "Zeller", "active", "100", ["a"], alpha.user_id, "anna@zeller.example"),
        ("Bert", "Yilmaz", "inactive", "2500.75", ["a", "b"], None, None),
        ("Cleo", "Xu", "churned", "99999.99", ["b"], None, "cleo@xu.example"),
        ("Dora", None, "active", "0", [], None, None),
    ]
    made = [
        create(
            http,
            first_name=first,
            last_name=last,
            status=status,
            lifetime_value=value,
            tags=[mine, *tags],
            owner_id=owner,
            email=email,
        )
        for first, last, status, value, tags, owner, email in rows
    ]

    def only(**params: Any) -> list[str]:
        return names(listed(http, tag=[mine, *params.pop("tags", [])], sort="created_at", **params))

    assert only() == ["Anna", "Bert", "Cleo", "Dora"]
    assert only(status=["active", "churned"]) == ["Anna", "Cleo", "Dora"]
    assert only(owner_id=alpha.user_id) == ["Anna"]
    assert only(tags=["a", "b"]) == ["Bert"]
    assert only(lifetime_value_min="2500.75") == ["Bert", "Cleo"]
    assert only(lifetime_value_max=100) == ["Anna", "Dora"]
    assert only(created_after=made[2]["created_at"]) == ["Dora"]
    assert only(created_before=made[1]["created_at"]) == ["Anna"]

    def order(sort: str) -> list[str]:
        return names(listed(http, tag=mine, sort=sort))

    assert order("-lifetime_value") == ["Cleo", "Bert", "Anna", "Dora"]
    assert order("lifetime_value") == ["Dora", "Anna", "Bert", "Cleo"]
    assert order("last_name") == ["Cleo", "Bert", "Anna", "Dora"]
    assert order("-created_at") == ["Dora", "Cleo", "Bert", "Anna"]

    assert names(listed(http, tag=mine, q="Yilmaz")) == ["Bert"]
    assert names(listed(http, tag=mine, q="Yilmas")) == ["Bert"]
    assert names(listed(http, tag=mine, q="cleo@")) == ["Cleo"]
    assert names(listed(http, tag=mine, q="Zeller Anna")) == ["Anna"]


@pytest.mark.parametrize("sort", ["-lifetime_value", "lifetime_value", "last_name", "-created_at"])
def test_pages_cover_every_client_once(http: httpx.Client, sort: str) -> None:
    mine = tag()
    originals = {
        create(http, first_name=f"P{i}", last_name=f"N{i % 3}", lifetime_value=i % 4 * 10.5, tags=[mine])[
            "id"
        ]
        for i in range(17)
    }
    seen: list[str] = []
    cursor = None
    while True:
        page = listed(http, tag=mine, sort=sort, limit=4, **({"cursor": cursor} if cursor else {}))
        seen.extend(c["id"] for c in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
        create(http, first_name="Late", last_name="N1", lifetime_value=10.5, tags=[mine])
    assert len(seen) == len(set(seen))
    assert originals <= set(seen)


def test_custom_fields_for_clients(api: Api) -> None:
    owner = agency_owner(api, "Client Fields")
    with api.http(owner.access_token) as http:
        definitions = {
            "clients": {"tier": {"type": "select", "options": ["gold", "silver"], "required": True}}
        }
        assert http.put("/api/v1/custom-fields", json=definitions).status_code == 200
        # Lead fields stay free-form: only clients have definitions.
        lead = http.post("/api/v1/leads", json={"first_name": "L", "custom_fields": {"x": 1}})
        assert lead.status_code == 201
        assert create(http, first_name="C", custom_fields={"tier": "gold"})["custom_fields"] == {
            "tier": "gold"
        }
        missing = http.post("/api/v1/clients", json={"first_name": "C"})
        assert missing.status_code == 422
        assert missing.json()["message"] == "custom field 'tier' is required for clients"
        wrong = http.post("/api/v1/clients", json={"first_name": "C", "custom_fields": {"tier": "bronze"}})
        assert wrong.status_code == 422
        assert "expected one of 'gold', 'silver', got 'bronze'" in wrong.json()["message"]


def test_another_agency_never_sees_or_changes_them(api: Api, http: httpx.Client) -> None:
    mine = tag()
    client = create(http, first_name="Secret", company="Hidden Co", tags=[mine])
    bravo = agency_owner(api, "Clients Bravo")
    with api.http(bravo.access_token) as other:
        url = f"/api/v1/clients/{client['id']}"
        assert other.get(url).status_code == 404
        assert other.patch(url, json={"status": "churned"}).status_code == 404
        assert other.delete(url).status_code == 404
        assert other.get(f"{url}/timeline").status_code == 404
        assert other.get("/api/v1/clients", params={"tag": mine}).json()["items"] == []
        assert other.get("/api/v1/clients", params={"q": "Hidden"}).json()["items"] == []
    assert http.get(f"/api/v1/clients/{client['id']}").json() == client
