"""The official client's table API (`client.table(...)`) against /rest/v1, as a signed-in agency member."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from postgrest.exceptions import APIError
from supabase import Client

from tests.live import Api


@dataclass(frozen=True)
class Member:
    client: Client
    agency_id: str


def _member(api: Api, agency: str) -> Member:
    email, password = api.confirmed_user()
    client = api.client()
    session = client.auth.sign_in_with_password({"email": email, "password": password}).session
    assert session is not None
    with api.http(session.access_token) as http:
        created = http.post("/api/v1/agencies", json={"name": agency}).json()
    client.auth.refresh_session()
    return Member(client, created["id"])


@pytest.fixture(scope="module")
def member(api: Api) -> Member:
    m = _member(api, "Rest Agency")
    m.client.table("leads").insert(
        [
            {
                "first_name": "Ada",
                "last_name": "Lovelace",
                "email": "ada@example.com",
                "company": "Engines",
                "score": 90,
                "tags": ["vip", "hot"],
                "source": "referral",
                "custom_fields": {"industry": "Computing", "size": 12},
            },
            {
                "first_name": "Grace",
                "last_name": "Hopper",
                "email": "grace@example.com",
                "company": "Navy",
                "score": 75,
                "tags": ["hot"],
                "source": "website",
                "custom_fields": {"industry": "Defence", "size": 5000},
            },
            {
                "first_name": "Alan",
                "last_name": "Turing",
                "email": "alan@example.com",
                "company": "Bletchley",
                "score": None,
                "tags": [],
                "source": "website",
                "status": "lost",
            },
        ],
        # Keys missing from a row take the column's default (Prefer: missing=default), not NULL.
        default_to_null=False,
    ).execute()
    return m


def names(rows: list[dict[str, object]]) -> list[object]:
    return sorted(r["first_name"] for r in rows)


def test_select_filters_order_range(member: Member) -> None:
    leads = member.client.table("leads")
    assert names(leads.select("*").execute().data) == ["Ada", "Alan", "Grace"]
    assert names(leads.select("first_name").eq("source", "website").execute().data) == ["Alan", "Grace"]
    assert names(leads.select("first_name").gte("score", 80).execute().data) == ["Ada"]
    assert names(leads.select("first_name").ilike("company", "%NAV%").execute().data) == ["Grace"]
    assert names(leads.select("first_name").is_("score", "null").execute().data) == ["Alan"]
    assert names(leads.select("first_name").in_("status", ["lost", "qualified"]).execute().data) == ["Alan"]
    assert names(leads.select("first_name").contains("tags", ["vip"]).execute().data) == ["Ada"]
    assert names(leads.select("first_name").or_("score.gt.80,status.eq.lost").execute().data) == [
        "Ada",
        "Alan",
    ]
    assert names(leads.select("first_name").not_.eq("source", "website").execute().data) == ["Ada"]
    ordered = leads.select("first_name,score").order("score", desc=True, nullsfirst=False).execute().data
    assert [r["first_name"] for r in ordered] == ["Ada", "Grace", "Alan"]
    page = leads.select("first_name", count="exact").order("first_name").range(1, 2).execute()
    assert [r["first_name"] for r in page.data] == ["Alan", "Grace"]
    assert page.count == 3


def test_renames_casts_and_json_paths(member: Member) -> None:
    rows = (
        member.client.table("leads")
        .select("who:first_name,industry:custom_fields->>industry,score::text")
        .eq("custom_fields->>industry", "Computing")
        .execute()
        .data
    )
    assert rows == [{"who": "Ada", "industry": "Computing", "score": "90"}]


def test_single_and_maybe_single(member: Member) -> None:
    ada = member.client.table("leads").select("first_name").eq("email", "ada@example.com").single().execute()
    assert ada.data == {"first_name": "Ada"}
    with pytest.raises(APIError) as many:
        member.client.table("leads").select("first_name").single().execute()
    assert many.value.code == "PGRST116"


def test_update_and_delete_with_filters(member: Member) -> None:
    updated = (
        member.client.table("leads")
        .update({"status": "qualified"})
        .eq("email", "grace@example.com")
        .execute()
    )
    assert [r["status"] for r in updated.data] == ["qualified"]
    inserted = member.client.table("leads").insert({"first_name": "Temp"}).execute().data
    assert inserted[0]["agency_id"] == member.agency_id
    deleted = member.client.table("leads").delete().eq("id", inserted[0]["id"]).execute()
    assert len(deleted.data) == 1


def test_unfiltered_delete_is_refused(member: Member) -> None:
    with pytest.raises(APIError) as refused:
        member.client.table("leads").delete().execute()
    assert "requires a WHERE clause" in refused.value.message
    assert len(member.client.table("leads").select("id").execute().data) >= 3


def test_embedding_activities_of_a_lead(member: Member) -> None:
    lead = member.client.table("leads").select("id").eq("email", "ada@example.com").single().execute().data
    member.client.table("activities").insert(
        {"lead_id": lead["id"], "kind": "note", "subject": "met at the fair"}
    ).execute()
    rows = (
        member.client.table("leads")
        .select("first_name,activities(kind,subject)")
        .eq("id", lead["id"])
        .execute()
        .data
    )
    assert rows == [{"first_name": "Ada", "activities": [{"kind": "note", "subject": "met at the fair"}]}]
    back = member.client.table("activities").select("subject,leads(first_name)").execute().data
    assert back == [{"subject": "met at the fair", "leads": {"first_name": "Ada"}}]


def test_errors_are_postgrest_shaped(member: Member) -> None:
    with pytest.raises(APIError) as unknown:
        member.client.table("no_such_table").select("*").execute()
    assert unknown.value.code == "PGRST205"
    with pytest.raises(APIError) as bad_column:
        member.client.table("leads").select("nope").execute()
    assert bad_column.value.code == "42703"
    assert bad_column.value.message == "column leads.nope does not exist"
    with pytest.raises(APIError) as bad_body:
        member.client.table("leads").insert({"first_name": "X", "nope": 1}).execute()
    assert bad_body.value.code == "PGRST204"
    with pytest.raises(APIError) as bad_uuid:
        member.client.table("leads").select("id").eq("id", "not-a-uuid").execute()
    assert bad_uuid.value.code == "22P02"
    with pytest.raises(APIError) as other_agency:
        member.client.table("leads").insert(
            {"first_name": "X", "agency_id": "0190c6b0-0000-7000-8000-000000000000"}
        ).execute()
    assert other_agency.value.code == "42501"


def test_other_agencies_rows_are_invisible(api: Api, member: Member) -> None:
    other = _member(api, "Other Rest Agency")
    assert other.client.table("leads").select("*").execute().data == []
    assert (
        other.client.table("leads").update({"status": "lost"}).eq("email", "ada@example.com").execute().data
        == []
    )
    assert other.client.table("leads").delete().eq("email", "ada@example.com").execute().data == []
    assert len(member.client.table("leads").select("id").eq("email", "ada@example.com").execute().data) == 1


def test_count_with_head(member: Member) -> None:
    counted = (
        member.client.table("leads").select("*", count="exact", head=True).eq("source", "website").execute()
    )
    assert counted.count == 2
    assert counted.data == []
    planned = member.client.table("leads").select("id", count="planned", head=True).execute()
    assert planned.count is not None


def test_rpc_results_filtered_ordered_and_single(member: Member) -> None:
    rpc = member.client.rpc
    found = rpc("search_leads", {"query": "Grace Hopper"}).select("first_name,company").execute()
    assert found.data == [{"first_name": "Grace", "company": "Navy"}]
    ordered = (
        rpc("search_leads", {"query": "Ada Lovelace", "max_results": 5}, get=True)
        .select("first_name")
        .eq("company", "Engines")
        .order("first_name")
        .execute()
    )
    assert ordered.data == [{"first_name": "Ada"}]
    one = rpc("search_leads", {"query": "Grace Hopper"}).select("email").single().execute()
    assert one.data == {"email": "grace@example.com"}
    counted = rpc("search_leads", {"query": "Grace Hopper"}, count="exact", head=True).execute()
    assert counted.count == 1
    summary = rpc("pipeline_summary", {}, get=True).select("status,leads").eq("status", "lost").execute()
    assert summary.data == [{"status": "lost", "leads": 1}]


@pytest.mark.parametrize(
    "options",
    [{}, {"on_conflict": "id"}, {"default_to_null": False}],
    ids=["primary-key", "on-conflict-id", "missing-default"],
)
@pytest.mark.parametrize("send_agency", [False, True], ids=["agency-by-default", "agency-in-body"])
def test_upsert_by_id_updates_the_callers_row(
    member: Member, options: dict[str, Any], send_agency: bool
) -> None:
    """The key is (agency_id, id): an upsert by `id`, with the agency in the body or left to the column's
    default (the caller's agency), still finds the caller's row and updates it in place."""
    leads = member.client.table("leads")
    agency = {"agency_id": member.agency_id} if send_agency else {}
    [created] = leads.upsert({"first_name": "Upsert", "score": 1, **agency}, **options).execute().data
    again = {"id": created["id"], "first_name": "Upsert", "score": 2, **agency}
    [updated] = leads.upsert(again, **options).execute().data
    assert (updated["id"], updated["agency_id"], updated["score"]) == (created["id"], member.agency_id, 2)
    assert leads.select("score").eq("id", created["id"]).execute().data == [{"score": 2}]
    leads.delete().eq("id", created["id"]).execute()
