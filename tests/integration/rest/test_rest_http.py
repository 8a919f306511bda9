"""/rest/v1 over raw HTTP: the operators, headers and preferences PostgREST clients rely on."""

from __future__ import annotations

import time
from typing import Any

import httpx
import psycopg
import pytest

from tests.live import Api, Member, agency_owner


@pytest.fixture(scope="module")
def owner(api: Api) -> Member:
    member = agency_owner(api, "Raw Rest Agency")
    with api.http(member.access_token) as http:
        response = http.post(
            "/rest/v1/leads",
            headers={"Prefer": "return=minimal"},
            json=[
                {
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "email": "ada@x.example",
                    "company": "Engines",
                    "score": 90,
                    "tags": ["vip", "hot"],
                    "estimated_value": 1000,
                    "source": "referral",
                    "custom_fields": {"industry": "Computing"},
                    "status": "qualified",
                },
                {
                    "first_name": "Grace",
                    "last_name": "Hopper",
                    "email": "grace@x.example",
                    "company": "Navy",
                    "score": 75,
                    "tags": ["hot"],
                    "estimated_value": 500,
                    "source": "website",
                    "custom_fields": {"industry": "Defence"},
                    "status": "new",
                },
                {
                    "first_name": "Alan",
                    "last_name": "Turing",
                    "email": "alan@x.example",
                    "company": "Bletchley Park",
                    "score": None,
                    "tags": [],
                    "estimated_value": None,
                    "source": "website",
                    "custom_fields": {},
                    "status": "lost",
                },
            ],
        )
    assert response.status_code == 201, response.text
    assert response.text == ""
    return member


def get(api: Api, owner: Member, query: str, **headers: str) -> httpx.Response:
    with api.http(owner.access_token) as http:
        return http.get(f"/rest/v1/leads?{query}", headers=headers)


def firsts(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(row["first_name"] for row in response.json())


OPERATOR_CASES = [
    ("first_name=eq.Ada", ["Ada"]),
    ("first_name=neq.Ada", ["Alan", "Grace"]),
    ("score=gt.75", ["Ada"]),
    ("score=gte.75", ["Ada", "Grace"]),
    ("score=lt.90", ["Grace"]),
    ("score=lte.90", ["Ada", "Grace"]),
    ("company=like.*Park", ["Alan"]),
    ("company=ilike.*park*", ["Alan"]),
    ("company=match.^N", ["Grace"]),
    ("company=imatch.^n", ["Grace"]),
    ("status=in.(new,lost)", ["Alan", "Grace"]),
    ("score=is.null", ["Alan"]),
    ("score=not.is.null", ["Ada", "Grace"]),
    ("score=isdistinct.90", ["Alan", "Grace"]),
    ("search_vector=fts.lovelace", ["Ada"]),
    ("search_vector=plfts.grace hopper", ["Grace"]),
    ("search_vector=phfts(simple).alan turing", ["Alan"]),
    ("search_vector=wfts.navy or engines", ["Ada", "Grace"]),
    ("tags=cs.{hot}", ["Ada", "Grace"]),
    ("tags=cd.{hot,vip,cold}", ["Ada", "Alan", "Grace"]),
    ("tags=ov.{vip,cold}", ["Ada"]),
    ('custom_fields=cs.{"industry":"Defence"}', ["Grace"]),
    ("custom_fields->>industry=eq.Computing", ["Ada"]),
    ("first_name=eq(any).{Ada,Alan}", ["Ada", "Alan"]),
    ("first_name=like(all).{A*,*a}", ["Ada"]),
    ("or=(score.gt.80,status.eq.lost)", ["Ada", "Alan"]),
    ("and=(source.eq.website,or(score.gt.80,status.eq.new))", ["Grace"]),
    ("not.or=(first_name.eq.Ada,first_name.eq.Alan)", ["Grace"]),
    ("first_name=not.in.(Ada,Grace)", ["Alan"]),
]


@pytest.mark.parametrize(("query", "expected"), OPERATOR_CASES, ids=[q for q, _ in OPERATOR_CASES])
def test_operator(api: Api, owner: Member, query: str, expected: list[str]) -> None:
    assert firsts(get(api, owner, f"select=first_name&{query}")) == expected


def test_order_limit_offset_and_content_range(api: Api, owner: Member) -> None:
    response = get(api, owner, "select=first_name&order=score.desc.nullslast,first_name&limit=2&offset=1")
    assert [r["first_name"] for r in response.json()] == ["Grace", "Alan"]
    assert response.headers["content-range"] == "1-2/*"
    counted = get(api, owner, "select=first_name&order=first_name", Prefer="count=exact", Range="0-1")
    assert [r["first_name"] for r in counted.json()] == ["Ada", "Alan"]
    assert counted.headers["content-range"] == "0-1/3"
    planned = get(api, owner, "select=id", Prefer="count=planned")
    assert planned.headers["content-range"].startswith("0-2/")
    estimated = get(api, owner, "select=id", Prefer="count=estimated")
    assert estimated.headers["content-range"] == "0-2/3"
    empty = get(api, owner, "select=id&first_name=eq.Nobody", Prefer="count=exact")
    assert empty.headers["content-range"] == "*/0"


def test_bad_range_is_416(api: Api, owner: Member) -> None:
    assert get(api, owner, "select=id", Range="5-2").status_code == 416
    assert get(api, owner, "select=id", Range="bytes=0-1").status_code == 416


def test_csv_and_singular_accept(api: Api, owner: Member) -> None:
    csv = get(api, owner, "select=first_name,score&order=first_name", Accept="text/csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines() == ["first_name,score", "Ada,90", "Alan,", "Grace,75"]
    one = get(api, owner, "select=first_name&first_name=eq.Ada", Accept="application/vnd.pgrst.object+json")
    assert one.json() == {"first_name": "Ada"}
    many = get(api, owner, "select=first_name", Accept="application/vnd.pgrst.object+json")
    assert many.status_code == 406
    assert many.json()["code"] == "PGRST116"


def test_csv_body_inserts_rows_with_null_and_empty_fields(api: Api, owner: Member) -> None:
    body = 'first_name,notes,score,tags,source\nCsv,"Quote, Jr.",7,"{csv,import}",NULL\nCsv,,NULL,{},api\n'
    with api.http(owner.access_token) as http:
        created = http.post(
            "/rest/v1/leads?select=first_name,notes,score,tags,source",
            headers={"Content-Type": "text/csv", "Prefer": "return=representation"},
            content=body.encode(),
        )
        assert created.status_code == 201, created.text
        assert created.json() == [
            {
                "first_name": "Csv",
                "notes": "Quote, Jr.",
                "score": 7,
                "tags": ["csv", "import"],
                "source": None,
            },
            # An empty field is an empty string (notes: names and other short texts make it null, 0024).
            {"first_name": "Csv", "notes": "", "score": None, "tags": [], "source": "api"},
        ]
        assert http.delete("/rest/v1/leads?first_name=eq.Csv").status_code == 204


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"first_name\n", "no rows"),
        (b"first_name,first_name\nA,B\n", "once"),
        (b"first_name,score\nA\n", "line 2"),
        ("first_name\nZo\u00eb\n".encode("utf-16"), "not UTF-8"),
    ],
)
def test_bad_csv_bodies_are_400_and_insert_nothing(
    api: Api, owner: Member, body: bytes, message: str
) -> None:
    with api.http(owner.access_token) as http:
        response = http.post("/rest/v1/leads", headers={"Content-Type": "text/csv"}, content=body)
        assert response.status_code == 400, response.text
        assert message in response.json()["message"]
        assert http.get("/rest/v1/leads?first_name=eq.A&select=id").json() == []


def test_upsert_and_rollback(api: Api, owner: Member) -> None:
    with api.http(owner.access_token) as http:
        created = http.post(
            "/rest/v1/leads",
            headers={"Prefer": "return=representation"},
            json={"first_name": "Up", "score": 1},
        ).json()[0]
        upserted = http.post(
            "/rest/v1/leads?on_conflict=id",
            headers={"Prefer": "return=representation,resolution=merge-duplicates"},
            json={"id": created["id"], "first_name": "Up", "score": 2},
        )
        assert upserted.status_code == 201
        assert upserted.json()[0]["score"] == 2
        ignored = http.post(
            "/rest/v1/leads?on_conflict=id",
            headers={"Prefer": "return=representation,resolution=ignore-duplicates"},
            json={"id": created["id"], "first_name": "Up", "score": 3},
        )
        assert ignored.json() == []
        rolled_back = http.patch(
            f"/rest/v1/leads?id=eq.{created['id']}",
            headers={"Prefer": "return=representation,tx=rollback"},
            json={"score": 99},
        )
        assert rolled_back.json()[0]["score"] == 99
        assert rolled_back.headers["preference-applied"] == "return=representation, tx=rollback"
        kept = http.get(f"/rest/v1/leads?id=eq.{created['id']}&select=score").json()
        assert kept == [{"score": 2}]
        assert http.delete(f"/rest/v1/leads?id=eq.{created['id']}").status_code == 204


def test_rpc(api: Api, owner: Member) -> None:
    with api.http(owner.access_token) as http:
        summary = http.get("/rest/v1/rpc/pipeline_summary")
        assert summary.status_code == 200, summary.text
        by_status = {row["status"]: row["leads"] for row in summary.json()}
        assert by_status["qualified"] == 1
        assert by_status["lost"] == 1
        found = http.post("/rest/v1/rpc/search_leads", json={"query": "Grace Hoper"})
        assert [row["first_name"] for row in found.json()] == ["Grace"]
        lead = http.get("/rest/v1/leads?select=id&first_name=eq.Grace").json()[0]
        moved = http.post(
            "/rest/v1/rpc/set_lead_status", json={"lead_id": lead["id"], "new_status": "contacted"}
        )
        assert moved.json() == "contacted"
        # GET runs read-only (as PostgREST): a function that writes is refused with 405.
        read_only = http.get(f"/rest/v1/rpc/set_lead_status?lead_id={lead['id']}&new_status=lost")
        assert read_only.status_code == 405
        missing = http.post("/rest/v1/rpc/no_such_function", json={})
        assert missing.status_code == 404
        assert missing.json()["code"] == "PGRST202"
        wrong_args = http.post("/rest/v1/rpc/search_leads", json={"nope": 1})
        assert wrong_args.status_code == 404


def test_new_tables_appear_after_notify(api: Api, owner: Member) -> None:
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE public.rest_reload_probe (id int PRIMARY KEY, label text)")
        conn.execute("GRANT SELECT ON public.rest_reload_probe TO authenticated")
        conn.execute("INSERT INTO public.rest_reload_probe VALUES (1, 'hello')")
        conn.execute("NOTIFY pgrst, 'reload schema'")
    try:
        with api.http(owner.access_token) as http:
            response = http.get("/rest/v1/rest_reload_probe")
            for _ in range(50):
                if response.status_code == 200:
                    break
                time.sleep(0.1)
                response = http.get("/rest/v1/rest_reload_probe")
        assert response.json() == [{"id": 1, "label": "hello"}]
    finally:
        with psycopg.connect(api.owner_url, autocommit=True) as conn:
            conn.execute("DROP TABLE public.rest_reload_probe")
            conn.execute("NOTIFY pgrst, 'reload schema'")


BAD_REQUESTS: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("GET", "/rest/v1/leads?select=first_name(", None, 400),
    ("GET", "/rest/v1/leads?first_name=xx.1", None, 400),
    ("GET", "/rest/v1/leads?order=first_name.sideways", None, 400),
    ("GET", "/rest/v1/leads?limit=-1", None, 400),
    ("GET", "/rest/v1/leads?select=nope", None, 400),
    ("GET", "/rest/v1/leads?select=first_name::int;drop", None, 400),
    ("GET", "/rest/v1/leads?select=clients(name)", None, 400),
    ("GET", "/rest/v1/leads?score=eq.abc", None, 400),
    ("GET", "/rest/v1/no_table", None, 404),
    ("POST", "/rest/v1/leads", None, 400),
    ("POST", "/rest/v1/leads", {"nope": 1}, 400),
    ("PATCH", "/rest/v1/leads?first_name=eq.Ada", {"status": "weird"}, 400),
    ("PATCH", "/rest/v1/leads", {"status": "lost"}, 400),
    ("DELETE", "/rest/v1/leads", None, 400),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"), BAD_REQUESTS, ids=[f"{m} {p}" for m, p, _, s in BAD_REQUESTS]
)
def test_bad_requests_get_clear_4xx(
    api: Api, owner: Member, method: str, path: str, body: dict[str, Any] | None, status: int
) -> None:
    with api.http(owner.access_token) as http:
        response = http.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert set(response.json()) == {"code", "message", "details", "hint"}
    assert response.json()["message"]


def test_a_member_of_two_agencies_reads_both_memberships_but_only_the_active_agencys_leads(api: Api) -> None:
    member = agency_owner(api, "Two Hats One")
    with api.http(member.access_token) as http:
        second = http.post("/api/v1/agencies", json={"name": "Two Hats Two"})
        assert second.status_code == 201, second.text
        memberships = http.get("/rest/v1/memberships?select=agency_id&order=agency_id")
        leads = http.get("/rest/v1/leads?select=agency_id")
    assert memberships.status_code == 200, memberships.text
    assert sorted(m["agency_id"] for m in memberships.json()) == sorted(
        [member.agency_id, second.json()["id"]]
    )
    assert {lead["agency_id"] for lead in leads.json()} <= {member.agency_id}
