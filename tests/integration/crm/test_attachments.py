"""Files on leads, clients and activities (`/api/v1/.../attachments`): kept by storage in the agency's
private `attachments` bucket at `<kind>/<id>/<name>`, readable there with the storage API; a record with
files is deleted only once the caller says what becomes of them; merges and conversions take them to the
surviving record."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.crm.pipeline_support import insert, rows
from tests.live import Api, Member, agency_owner


@pytest.fixture(scope="module")
def alpha(api: Api) -> Member:
    return agency_owner(api, "Attachments Alpha")


@pytest.fixture(scope="module")
def bravo(api: Api) -> Member:
    return agency_owner(api, "Attachments Bravo")


@pytest.fixture
def http(api: Api, alpha: Member) -> Iterator[httpx.Client]:
    with api.http(alpha.access_token) as client:
        yield client


def _lead(api: Api, member: Member, **fields: str) -> str:
    return insert(api.owner_url, "leads", member.agency_id, first_name="Ada", **fields)


def _attach(
    http: httpx.Client, kind: str, record: str, name: str, body: bytes, **params: str
) -> httpx.Response:
    return http.post(
        f"/api/v1/{kind}/{record}/attachments", params={"filename": name, **params}, content=body
    )


def _names(http: httpx.Client, kind: str, record: str) -> list[str]:
    answer = http.get(f"/api/v1/{kind}/{record}/attachments")
    assert answer.status_code == 200, answer.text
    return [item["name"] for item in answer.json()]


def _blobs(api: Api, member: Member) -> int:
    return rows(
        api.owner_url,
        "SELECT count(*) AS n FROM storage.objects WHERE agency_id = %s AND bucket_id = 'attachments'",
        (member.agency_id,),
    )[0]["n"]


def test_a_lead_s_files_are_uploaded_listed_and_read_through_storage(
    api: Api, alpha: Member, http: httpx.Client
) -> None:
    lead = _lead(api, alpha)
    assert _names(http, "leads", lead) == []  # no bucket yet: none
    added = _attach(http, "leads", lead, "contract.pdf", b"%PDF-1.7 contract", upsert="false")
    assert added.status_code == 201, added.text
    body = added.json()
    assert (body["name"], body["bucket"], body["path"], body["size"]) == (
        "contract.pdf",
        "attachments",
        f"leads/{lead}/contract.pdf",
        17,
    )
    form = http.post(
        f"/api/v1/leads/{lead}/attachments",
        params={"filename": "garden.jpg"},
        files={"file": ("garden.jpg", b"\xff\xd8jpeg", "image/jpeg")},
    )
    assert form.status_code == 201, form.text
    assert form.json()["mime_type"] == "image/jpeg"
    assert _names(http, "leads", lead) == ["contract.pdf", "garden.jpg"]

    # The same file through the storage API (as supabase-js would read it), in a private bucket.
    got = http.get(f"/storage/v1/object/attachments/leads/{lead}/contract.pdf")
    assert (got.status_code, got.content) == (200, b"%PDF-1.7 contract")
    bucket = http.get("/storage/v1/bucket/attachments").json()
    assert bucket["public"] is False

    # A name taken: 409 unless upsert; upsert replaces.
    assert _attach(http, "leads", lead, "contract.pdf", b"v2").status_code == 409
    assert _attach(http, "leads", lead, "contract.pdf", b"v2", upsert="true").status_code == 201
    got = http.get(f"/storage/v1/object/attachments/leads/{lead}/contract.pdf")
    assert got.content == b"v2"


def test_bad_names_and_unknown_records_are_refused(api: Api, alpha: Member, http: httpx.Client) -> None:
    lead = _lead(api, alpha)
    for name in ("a/b.txt", "..", "../x", " ", "a\x00b"):
        answer = _attach(http, "leads", lead, name, b"x")
        assert answer.status_code in (400, 422), (name, answer.text)
    missing = "00000000-0000-7000-8000-000000000000"
    assert _attach(http, "leads", missing, "x.txt", b"x").status_code == 404
    assert http.get(f"/api/v1/leads/{missing}/attachments").status_code == 404
    assert http.post(f"/api/v1/leads/{lead}/attachments", content=b"x").status_code == 422  # no filename


def test_another_agency_sees_none_of_the_files(
    api: Api, alpha: Member, bravo: Member, http: httpx.Client
) -> None:
    lead = _lead(api, alpha)
    assert _attach(http, "leads", lead, "secret.txt", b"alpha's").status_code == 201
    with api.http(bravo.access_token) as other:
        assert other.get(f"/api/v1/leads/{lead}/attachments").status_code == 404
        assert _attach(other, "leads", lead, "x.txt", b"x").status_code == 404
        # Bravo's own attachments bucket is another bucket: alpha's path is not in it.
        bravo_lead = _lead(api, bravo)
        assert _attach(other, "leads", bravo_lead, "mine.txt", b"bravo's").status_code == 201
        assert other.get(f"/storage/v1/object/attachments/leads/{lead}/secret.txt").status_code in (400, 404)


def test_clients_and_activities_have_attachments_too(api: Api, alpha: Member, http: httpx.Client) -> None:
    client = insert(api.owner_url, "clients", alpha.agency_id, first_name="Cy")
    assert _attach(http, "clients", client, "invoice.pdf", b"inv").status_code == 201
    assert _names(http, "clients", client) == ["invoice.pdf"]
    activity = http.post("/api/v1/activities", json={"kind": "note", "client_id": client, "body": "met"})
    assert activity.status_code == 201, activity.text
    activity_id = activity.json()["id"]
    assert _attach(http, "activities", activity_id, "minutes.txt", b"notes").status_code == 201
    assert _names(http, "activities", activity_id) == ["minutes.txt"]
    # Deleting asks first; with_attachments=true takes the files along.
    assert http.delete(f"/api/v1/activities/{activity_id}").status_code == 409
    gone = http.delete(f"/api/v1/activities/{activity_id}", params={"with_attachments": "true"})
    assert gone.status_code == 204
    assert http.get(f"/storage/v1/object/attachments/activities/{activity_id}/minutes.txt").status_code == 404


def test_deleting_a_lead_with_files_asks_what_becomes_of_them(
    api: Api, alpha: Member, http: httpx.Client
) -> None:
    kept, dropped, bare = _lead(api, alpha), _lead(api, alpha), _lead(api, alpha)
    for lead in (kept, dropped):
        assert _attach(http, "leads", lead, "a.txt", b"a").status_code == 201
        assert _attach(http, "leads", lead, "b.txt", b"b").status_code == 201

    asked = http.delete(f"/api/v1/leads/{kept}")
    assert asked.status_code == 409
    assert "2 attachment(s)" in asked.text
    assert "with_attachments=true" in asked.text
    assert http.get(f"/api/v1/leads/{kept}").status_code == 200, "nothing was deleted"

    assert http.delete(f"/api/v1/leads/{kept}", params={"with_attachments": "false"}).status_code == 204
    listed = http.post("/storage/v1/object/list/attachments", json={"prefix": f"leads/{kept}"}).json()
    assert sorted(item["name"] for item in listed) == ["a.txt", "b.txt"], "kept in storage"

    before = _blobs(api, alpha)
    assert http.delete(f"/api/v1/leads/{dropped}", params={"with_attachments": "true"}).status_code == 204
    assert _blobs(api, alpha) == before - 2
    assert http.get(f"/storage/v1/object/attachments/leads/{dropped}/a.txt").status_code == 404

    assert http.delete(f"/api/v1/leads/{bare}").status_code == 204, "no files: nothing to ask"


def test_a_merge_and_a_conversion_take_the_files_to_the_surviving_record(
    api: Api, alpha: Member, http: httpx.Client
) -> None:
    survivor = _lead(api, alpha, email="same@merge.example")
    duplicate = _lead(api, alpha, email="same@merge.example")
    assert _attach(http, "leads", survivor, "plan.pdf", b"survivor's plan").status_code == 201
    assert _attach(http, "leads", duplicate, "plan.pdf", b"duplicate's plan").status_code == 201
    assert _attach(http, "leads", duplicate, "photo.jpg", b"photo").status_code == 201

    merged = http.post(f"/api/v1/leads/{survivor}/merge", json={"duplicate_ids": [duplicate]})
    assert merged.status_code == 200, merged.text
    assert merged.json()["attachments_moved"] == 2
    clash = f"{duplicate.replace('-', '')[:8]}-plan.pdf"
    assert _names(http, "leads", survivor) == sorted([clash, "photo.jpg", "plan.pdf"])
    got = http.get(f"/storage/v1/object/attachments/leads/{survivor}/{clash}")
    assert got.content == b"duplicate's plan", "a name the survivor had is kept apart, not overwritten"

    converted = http.post(f"/api/v1/leads/{survivor}/convert", json={})
    assert converted.status_code == 201, converted.text
    assert converted.json()["attachments_moved"] == 3
    client = converted.json()["client"]["id"]
    assert _names(http, "clients", client) == sorted([clash, "photo.jpg", "plan.pdf"])
    assert _names(http, "leads", survivor) == []


def test_files_are_not_attached_while_the_bucket_is_public(api: Api, bravo: Member) -> None:
    lead = _lead(api, bravo)
    with api.http(bravo.access_token) as http:
        assert _attach(http, "leads", lead, "first.txt", b"1").status_code == 201
        assert http.put("/storage/v1/bucket/attachments", json={"public": True}).status_code == 200
        refused = _attach(http, "leads", lead, "contract.pdf", b"private")
        assert refused.status_code == 409
        assert "public" in refused.text
        assert http.get(f"/storage/v1/object/attachments/leads/{lead}/contract.pdf").status_code == 404
        assert http.put("/storage/v1/bucket/attachments", json={"public": False}).status_code == 200
        assert _attach(http, "leads", lead, "contract.pdf", b"private").status_code == 201
