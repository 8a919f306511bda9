"""PostgREST behaviours the official clients use (issue 16), over raw HTTP: HEAD, RPC results shaped as a
table's, RPC over GET, EXPLAIN plans behind a setting, and PostgreSQL's 42703 for an unknown column.
Each is checked under RLS as the API's own roles: none of them may show a row a read could not."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from tests.live import Api, Mailbox, Member, agency_owner, serve
from tests.support import SessionDatabase

OBJECT = "application/vnd.pgrst.object+json"


@pytest.fixture(scope="module")
def functions(database: SessionDatabase) -> Iterator[None]:
    """A volatile function that only reads (no marking: VOLATILE) and a table no API role may read."""
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION public.behaviours_lead_count() RETURNS bigint LANGUAGE sql "
            "AS $$ SELECT count(*) FROM public.leads $$"
        )
        conn.execute("GRANT EXECUTE ON FUNCTION public.behaviours_lead_count() TO authenticated")
        conn.execute(
            "CREATE FUNCTION public.behaviours_bump(who text) RETURNS SETOF public.leads LANGUAGE sql "
            "AS $$ UPDATE public.leads SET score = score + 1 WHERE first_name = who RETURNING * $$"
        )
        conn.execute(
            "CREATE FUNCTION public.behaviours_squares(n integer) RETURNS TABLE(sq integer) "
            "LANGUAGE sql STABLE AS $$ SELECT g * g FROM generate_series(1, n) AS g $$"
        )
        conn.execute(
            "CREATE FUNCTION public.behaviours_touch(who text) RETURNS void LANGUAGE sql "
            "AS $$ UPDATE public.leads SET score = coalesce(score, 0) + 1 WHERE first_name = who $$"
        )
        conn.execute("CREATE TABLE public.behaviours_secret (id int PRIMARY KEY, note text)")
        # PostgREST's own example of a read that writes: a view calling nextval.
        conn.execute("CREATE SEQUENCE public.behaviours_calls")
        conn.execute(
            "CREATE VIEW public.behaviours_counter AS SELECT nextval('public.behaviours_calls') AS n"
        )
        conn.execute("GRANT SELECT ON public.behaviours_counter TO authenticated")
        conn.execute("GRANT USAGE ON SEQUENCE public.behaviours_calls TO authenticated")
        conn.execute("REVOKE ALL ON public.behaviours_secret FROM anon, authenticated")
        conn.execute("NOTIFY pgrst, 'reload schema'")
    yield
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        conn.execute("DROP FUNCTION public.behaviours_lead_count()")
        conn.execute("DROP FUNCTION public.behaviours_squares(integer)")
        conn.execute("DROP FUNCTION public.behaviours_bump(text)")
        conn.execute("DROP FUNCTION public.behaviours_touch(text)")
        conn.execute("DROP TABLE public.behaviours_secret")
        conn.execute("DROP VIEW public.behaviours_counter")
        conn.execute("DROP SEQUENCE public.behaviours_calls")
        conn.execute("NOTIFY pgrst, 'reload schema'")


def _seed(api: Api, name: str, people: list[tuple[str, str, int | None]]) -> Member:
    member = agency_owner(api, name)
    with api.http(member.access_token) as http:
        created = http.post(
            "/rest/v1/leads",
            headers={"Prefer": "return=minimal"},
            json=[{"first_name": f, "last_name": last, "score": s} for f, last, s in people],
        )
    assert created.status_code == 201, created.text
    return member


@pytest.fixture(scope="module")
def owner(api: Api, functions: None) -> Member:
    return _seed(
        api,
        "Behaviours Agency",
        [
            ("Ada", "Lovelace", 90),
            ("Adam", "Lovelace", 60),
            ("Grace", "Hopper", 75),
            ("Alan", "Turing", None),
        ],
    )


@pytest.fixture(scope="module")
def other(api: Api, functions: None) -> Member:
    return _seed(api, "Behaviours Other Agency", [("Ada", "Lovelace", 10), ("Eve", "Lovelace", 20)])


def _http(api: Api, member: Member) -> httpx.Client:
    return api.http(member.access_token)


# 1. HEAD


def test_head_on_a_table_answers_the_headers_of_the_get_and_no_body(
    api: Api, owner: Member, other: Member
) -> None:
    with _http(api, owner) as http:
        for count in ("exact", "planned", "estimated"):
            head = http.head(
                "/rest/v1/leads?select=id&last_name=eq.Lovelace", headers={"Prefer": f"count={count}"}
            )
            assert head.status_code == 200, head.text
            assert head.content == b""
            assert head.headers["content-type"] == "application/json"
            # A planned count is the planner's estimate; exact and estimated (below its threshold) count.
            expected = r"0-1/\d+" if count == "planned" else "0-1/2"
            assert re.fullmatch(expected, head.headers["content-range"]), count
        ranged = http.head("/rest/v1/leads?select=id", headers={"Prefer": "count=exact", "Range": "0-1"})
        assert ranged.status_code == 206
        assert ranged.headers["content-range"] == "0-1/4"
        assert ranged.content == b""
        uncounted = http.head("/rest/v1/leads?select=id")
        assert uncounted.status_code == 200
        assert uncounted.headers["content-range"] == "0-3/*"
        # RLS holds: the other agency's rows are neither listed nor counted.
        theirs = http.head(
            f"/rest/v1/leads?agency_id=eq.{other.agency_id}", headers={"Prefer": "count=exact"}
        )
        assert theirs.headers["content-range"] == "*/0"
        missing = http.head("/rest/v1/no_such_table")
        assert missing.status_code == 404
        assert missing.content == b""


def test_head_on_rpc_counts_the_functions_rows(api: Api, owner: Member) -> None:
    with _http(api, owner) as http:
        head = http.head("/rest/v1/rpc/search_leads?query=Lovelace", headers={"Prefer": "count=exact"})
        assert head.status_code == 200, head.text
        assert head.content == b""
        assert head.headers["content-range"] == "0-1/2"


def test_a_void_function_answers_204_with_no_body(api: Api, owner: Member) -> None:
    """PostgREST answers a function returning void with 204 No Content, no body and no Content-Type; the
    function's write is kept."""
    with _http(api, owner) as http:
        called = http.post("/rest/v1/rpc/behaviours_touch", json={"who": "Grace"})
        assert called.status_code == 204, called.text
        assert called.content == b""
        assert "content-type" not in called.headers
        grace = http.get("/rest/v1/leads?first_name=eq.Grace&select=score").json()
        assert grace == [{"score": 76}]
        # The module's other tests expect Grace's seeded score.
        restored = http.patch("/rest/v1/leads?first_name=eq.Grace", json={"score": 75})
        assert restored.status_code == 204, restored.text


# 2. POST /rpc on a set-returning function: select, filters, order, limit/offset/Range, single object


def test_rpc_post_applies_select_filters_order_and_limit(api: Api, owner: Member) -> None:
    with _http(api, owner) as http:
        found = http.post(
            "/rest/v1/rpc/search_leads?select=first_name,score&score=gt.50&order=score.desc",
            json={"query": "Lovelace"},
        )
        assert found.status_code == 200, found.text
        assert found.json() == [{"first_name": "Ada", "score": 90}, {"first_name": "Adam", "score": 60}]
        limited = http.post(
            "/rest/v1/rpc/search_leads?select=first_name&order=first_name&limit=1&offset=1",
            json={"query": "Lovelace"},
        )
        assert limited.json() == [{"first_name": "Adam"}]
        assert limited.headers["content-range"] == "1-1/*"
        ranged = http.post(
            "/rest/v1/rpc/search_leads?select=first_name&order=first_name",
            json={"query": "Lovelace"},
            headers={"Range": "1-1", "Prefer": "count=exact"},
        )
        assert ranged.status_code == 206
        assert ranged.json() == [{"first_name": "Adam"}]
        assert ranged.headers["content-range"] == "1-1/2"
        one = http.post(
            "/rest/v1/rpc/search_leads?select=first_name&first_name=eq.Ada",
            json={"query": "Lovelace"},
            headers={"Accept": OBJECT},
        )
        assert one.status_code == 200, one.text
        assert one.json() == {"first_name": "Ada"}
        many = http.post("/rest/v1/rpc/search_leads", json={"query": "Lovelace"}, headers={"Accept": OBJECT})
        assert many.status_code == 406
        assert many.json()["code"] == "PGRST116"
        # A RETURNS TABLE function's own columns filter and order too.
        summary = http.post("/rest/v1/rpc/pipeline_summary?select=status,leads&status=eq.new", json={})
        assert summary.json() == [{"status": "new", "leads": 4}]
        # Embedding from a function that returns a table's rows, as PostgREST allows.
        embedded = http.post(
            "/rest/v1/rpc/search_leads?select=first_name,activities(kind)&first_name=eq.Grace",
            json={"query": "Grace Hopper"},
        )
        assert embedded.json() == [{"first_name": "Grace", "activities": []}]
        unknown = http.post("/rest/v1/rpc/search_leads?select=nope", json={"query": "Lovelace"})
        assert unknown.status_code == 400
        assert unknown.json()["code"] == "42703"


def test_a_counted_rpc_runs_its_function_once(api: Api, owner: Member) -> None:
    """The count of a function's rows comes from the same call as the rows: a function that writes
    writes once (PostgREST counts in the same statement too)."""
    with _http(api, owner) as http:
        created = http.post("/rest/v1/leads", json={"first_name": "Bumpy", "score": 1})
        assert created.status_code == 201, created.text
        try:
            for count, score in (("exact", 2), ("estimated", 3)):
                bumped = http.post(
                    "/rest/v1/rpc/behaviours_bump?select=score",
                    json={"who": "Bumpy"},
                    headers={"Prefer": f"count={count}"},
                )
                assert bumped.status_code == 200, bumped.text
                assert bumped.json() == [{"score": score}], count
                assert bumped.headers["content-range"] == "0-0/1"
                stored = http.get("/rest/v1/leads?select=score&first_name=eq.Bumpy").json()
                assert stored == [{"score": score}], count
        finally:
            assert http.delete("/rest/v1/leads?first_name=eq.Bumpy").status_code == 204


def test_rpc_filters_cannot_reach_other_agencies_rows(api: Api, owner: Member, other: Member) -> None:
    with _http(api, owner) as http:
        theirs = http.post(
            f"/rest/v1/rpc/search_leads?agency_id=eq.{other.agency_id}",
            json={"query": "Lovelace"},
            headers={"Prefer": "count=exact"},
        )
        assert theirs.json() == []
        assert theirs.headers["content-range"] == "*/0"


# 3. GET /rpc: arguments apart from select/filters/order; volatile functions read-only


def test_rpc_get_separates_arguments_from_select_filters_and_order(api: Api, owner: Member) -> None:
    with _http(api, owner) as http:
        found = http.get(
            "/rest/v1/rpc/search_leads",
            params={"query": "Lovelace", "select": "first_name", "score": "lt.80", "order": "first_name"},
        )
        assert found.status_code == 200, found.text
        assert found.json() == [{"first_name": "Adam"}]
        with_default_overridden = http.get(
            "/rest/v1/rpc/search_leads",
            params={"query": "Lovelace", "max_results": "1", "select": "last_name"},
        )
        assert with_default_overridden.json() == [{"last_name": "Lovelace"}]
        # A one-column RETURNS TABLE is rows with that column, as PostgREST answers it.
        squares = http.get("/rest/v1/rpc/behaviours_squares?n=4&sq=gt.1&order=sq.desc&limit=2")
        assert squares.json() == [{"sq": 16}, {"sq": 9}], squares.text
        wrong = http.get("/rest/v1/rpc/search_leads", params={"nope": "x"})
        assert wrong.status_code == 404
        assert wrong.json()["code"] == "PGRST202"


def test_rpc_get_runs_read_only_as_postgrest(api: Api, owner: Member) -> None:
    """PostgREST calls every function on GET or HEAD in a READ ONLY transaction, whatever its volatility:
    a VOLATILE one that only reads answers; one that writes is refused with 405 and PostgreSQL's 25006."""
    with _http(api, owner) as http:
        counted = http.get("/rest/v1/rpc/behaviours_lead_count")
        assert counted.status_code == 200, counted.text
        assert counted.json() == 4
        lead = http.get("/rest/v1/leads?select=id,status&first_name=eq.Grace").json()[0]
        refused = http.get(
            "/rest/v1/rpc/set_lead_status", params={"lead_id": lead["id"], "new_status": "lost"}
        )
        assert refused.status_code == 405, refused.text
        assert refused.json()["code"] == "25006"
        assert "read-only transaction" in refused.json()["message"]
        assert http.get(f"/rest/v1/leads?select=status&id=eq.{lead['id']}").json() == [
            {"status": lead["status"]}
        ]
        # Tables and views too: GET and HEAD are read-only.
        counter = http.get("/rest/v1/behaviours_counter")
        assert counter.status_code == 405, counter.text
        assert counter.json() == {
            "code": "25006",
            "message": "cannot execute nextval() in a read-only transaction",
            "details": None,
            "hint": None,
        }


# 4. EXPLAIN plans, off by default


PLAN_JSON = 'application/vnd.pgrst.plan+json; for="application/json"'


def test_plan_is_refused_when_not_enabled(api: Api, owner: Member) -> None:
    with _http(api, owner) as http:
        response = http.get("/rest/v1/leads?select=id", headers={"Accept": "application/vnd.pgrst.plan+json"})
    assert response.status_code == 406, response.text
    assert response.json() == {
        "code": "PGRST107",
        "message": "None of these media types are available: " + PLAN_JSON,
        "details": None,
        "hint": None,
    }


@pytest.fixture(scope="module")
def planning(database: SessionDatabase, mailbox: tuple[Mailbox, int]) -> Iterator[Api]:
    """A second API over the same database with GARDENOS_REST_PLAN_ENABLED set."""
    yield from serve(database, mailbox, rest_plan_enabled=True)


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from _nodes(child)


def test_plan_explains_the_requests_query_under_rls(planning: Api, functions: None) -> None:
    owner = _seed(planning, "Plan Agency", [("Ada", "Lovelace", 90)])
    other = _seed(planning, "Plan Other Agency", [("Eve", "Lovelace", 20)])
    with planning.http(owner.access_token) as http:
        plan = http.get(
            "/rest/v1/leads?select=id&last_name=eq.Lovelace",
            headers={"Accept": 'application/vnd.pgrst.plan+json; for="application/json"; options=analyze'},
        )
        assert plan.status_code == 200, plan.text
        assert plan.headers["content-type"].startswith(PLAN_JSON + "; options=analyze")
        # Analyzed under RLS: of the two Lovelaces (one per agency) the scan found the caller's one.
        scans = [n for n in _nodes(plan.json()[0]["Plan"]) if n.get("Relation Name") == "leads"]
        assert [n["Actual Rows"] for n in scans] == [1], plan.text
        assert other.agency_id not in plan.text
        text = http.get("/rest/v1/leads?select=id", headers={"Accept": "application/vnd.pgrst.plan+text"})
        assert text.status_code == 200, text.text
        assert text.headers["content-type"].startswith(
            'application/vnd.pgrst.plan+text; for="application/json"'
        )
        # Whichever scan the planner picks (seq, index, index-only on the (agency_id, id) key, bitmap).
        assert re.search(r"Scan (using \w+ )?on leads\b", text.text), text.text
        rpc = http.post(
            "/rest/v1/rpc/search_leads?select=first_name",
            json={"query": "Ada"},
            headers={"Accept": PLAN_JSON},
        )
        assert rpc.status_code == 200, rpc.text
        assert rpc.json()[0]["Plan"]
        # A role that may not run the query gets the query's own refusal, not its plan.
        secret = http.get("/rest/v1/behaviours_secret", headers={"Accept": PLAN_JSON})
        assert secret.status_code == 403, secret.text
        assert secret.json()["code"] == "42501"
    with planning.http() as anon:
        refused = anon.post("/rest/v1/rpc/search_leads", json={"query": "Ada"}, headers={"Accept": PLAN_JSON})
        assert refused.status_code == 401, refused.text


def test_plan_with_analyze_of_a_write_keeps_tx_rollback(planning: Api) -> None:
    owner = _seed(planning, "Plan Write Agency", [("Ada", "Lovelace", 90)])
    with planning.http(owner.access_token) as http:
        plan = http.patch(
            "/rest/v1/leads?first_name=eq.Ada",
            json={"score": 1},
            headers={"Accept": PLAN_JSON + "; options=analyze", "Prefer": "tx=rollback"},
        )
        assert plan.status_code == 200, plan.text
        assert http.get("/rest/v1/leads?select=score").json() == [{"score": 90}]


# 5. Unknown columns


def test_unknown_column_in_select_is_42703_and_in_a_body_pgrst204(api: Api, owner: Member) -> None:
    with _http(api, owner) as http:
        selected = http.get("/rest/v1/leads?select=id,x")
        assert selected.status_code == 400
        assert selected.json() == {
            "code": "42703",
            "message": "column leads.x does not exist",
            "details": None,
            "hint": None,
        }
        filtered = http.get("/rest/v1/leads?x=eq.1")
        assert filtered.status_code == 400
        assert filtered.json()["code"] == "42703"
        written = http.post("/rest/v1/leads", json={"first_name": "X", "x": 1})
        assert written.status_code == 400
        assert written.json()["code"] == "PGRST204"
        assert written.json()["message"] == "Could not find the 'x' column of 'leads' in the schema cache"
