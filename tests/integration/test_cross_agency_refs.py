"""Agency B cannot point its rows at agency A's rows or users, nor learn from an error whether A's ids exist,
are converted or have an embedding; and no member writes the audit trail by hand. Through /rest/v1 with B's
(or A's member's) own token, as the API's roles."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from gardenos.db.pool import SCOPE, scope
from tests.live import Api, Member, agency_owner
from tests.support import SessionDatabase

VECTOR = "[" + ",".join(["0.1"] * 384) + "]"


@dataclass(frozen=True)
class AgencyA:
    owner: Member
    task_id: str
    converted_lead: str
    plain_lead: str
    embedded_lead: str


@pytest.fixture(scope="module")
def a(api: Api) -> AgencyA:
    owner = agency_owner(api, f"Alpha {uuid.uuid4().hex[:6]}")
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        leads = [
            row[0]
            for row in conn.execute(
                "INSERT INTO leads (agency_id, first_name) SELECT %s, 'A' || g FROM generate_series(1, 3) g "
                "RETURNING id::text",
                (owner.agency_id,),
            ).fetchall()
        ]
        conn.execute(
            "INSERT INTO clients (agency_id, lead_id, first_name) VALUES (%s, %s, 'Converted')",
            (owner.agency_id, leads[0]),
        )
        conn.execute(
            "INSERT INTO record_embeddings (agency_id, lead_id, embedding, embedding_model, content_hash) "
            "VALUES (%s, %s, %s, 'test', 'h')",
            (owner.agency_id, leads[2], VECTOR),
        )
        task = conn.execute(
            "INSERT INTO agent_tasks (agency_id, agent_type, status) VALUES (%s, 'echo', 'succeeded') "
            "RETURNING id::text",
            (owner.agency_id,),
        ).fetchone()
    assert task is not None
    return AgencyA(owner, task[0], leads[0], leads[1], leads[2])


@pytest.fixture(scope="module")
def b(api: Api) -> Member:
    return agency_owner(api, f"Bravo {uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def b_lead(api: Api, b: Member) -> str:
    with api.http(b.access_token) as http:
        created = http.post(
            "/rest/v1/leads", json={"first_name": "B"}, headers={"Prefer": "return=representation"}
        )
    assert created.status_code == 201, created.text
    lead_id: str = created.json()[0]["id"]
    return lead_id


def _post(api: Api, token: str, table: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    with api.http(token) as http:
        response = http.post(f"/rest/v1/{table}", json=body)
    return response.status_code, response.json() if response.content else {}


def _same_answer(api: Api, token: str, table: str, body: dict[str, Any], column: str, ids: list[str]) -> None:
    """Each id in `column` gets the same refusal, the id itself aside: none of them tells the others apart."""
    answers = []
    for value in ids:
        status, error = _post(api, token, table, {**body, column: value})
        assert status == 409, error
        answers.append({k: (v.replace(value, "<id>") if isinstance(v, str) else v) for k, v in error.items()})
    assert all(answer == answers[0] for answer in answers), answers


def test_a_task_of_another_agency_is_referenced_as_if_it_did_not_exist(
    api: Api, a: AgencyA, b: Member, b_lead: str
) -> None:
    unknown = str(uuid.uuid4())
    analysis = {"lead_id": b_lead, "quality_score": 50, "conversion_probability": 0.5, "model": "m"}
    _same_answer(api, b.access_token, "lead_analyses", analysis, "task_id", [a.task_id, unknown])
    interaction = {"agent_type": "echo", "input": {}, "model": "m", "outcome": "ok"}
    _same_answer(api, b.access_token, "ai_interactions", interaction, "task_id", [a.task_id, unknown])


def test_rows_name_only_users_of_their_own_agency(api: Api, a: AgencyA, b: Member) -> None:
    unknown = str(uuid.uuid4())
    for table, body, column in [
        ("leads", {"first_name": "Owned"}, "owner_id"),
        ("clients", {"first_name": "Owned"}, "owner_id"),
        ("agent_tasks", {"agent_type": "echo", "status": "cancelled"}, "created_by"),
        ("agent_memory", {"subject_type": "agency", "content": "planted"}, "created_by"),
    ]:
        _same_answer(api, b.access_token, table, body, column, [a.owner.user_id, unknown])
        _, error = _post(api, b.access_token, table, {**body, column: a.owner.user_id})
        assert a.owner.user_id not in str(error)
        assert error["message"] == f"{column} must be a member of the agency"
        # B's own user is fine.
        assert _post(api, b.access_token, table, {**body, column: b.user_id})[0] == 201
    with psycopg.connect(api.owner_url) as conn:
        found = conn.execute(
            "SELECT count(*) FROM leads WHERE owner_id = %(a)s OR agency_id = %(b)s AND owner_id <> %(bu)s",
            {"a": a.owner.user_id, "b": b.agency_id, "bu": b.user_id},
        ).fetchone()
    assert found == (0,)


def test_errors_do_not_tell_whether_another_agencys_lead_is_converted_or_embedded(
    api: Api, a: AgencyA, b: Member
) -> None:
    unknown = str(uuid.uuid4())
    leads = [a.converted_lead, a.plain_lead, unknown]
    _same_answer(api, b.access_token, "clients", {"first_name": "Probe"}, "lead_id", leads)
    embedding = {"embedding": VECTOR, "embedding_model": "test", "content_hash": "h"}
    _same_answer(api, b.access_token, "record_embeddings", embedding, "lead_id", [a.embedded_lead, *leads])


# --- keys: an id is unique within its agency, so another agency's id is just a fresh one ------------------

# A body B (or A) may POST to each tenant table a member can insert into through /rest/v1, given a way to
# make one of the caller's leads (for tables whose rows hang on one).
Body = Callable[[Callable[[], str]], dict[str, Any]]
PROBES: dict[str, Body] = {
    "leads": lambda lead: {"first_name": "Key"},
    "clients": lambda lead: {"first_name": "Key"},
    "activities": lambda lead: {"kind": "note", "lead_id": lead()},
    "agent_memory": lambda lead: {"subject_type": "agency", "content": "key"},
    "agent_subscriptions": lambda lead: {
        "event": "lead.created",
        "agent_type": "lead_analysis",
        "enabled": False,
    },
    "agent_tasks": lambda lead: {"agent_type": "echo", "status": "cancelled"},
    "ai_interactions": lambda lead: {"agent_type": "echo", "input": {}, "model": "m", "outcome": "ok"},
    "lead_analyses": lambda lead: {
        "lead_id": lead(),
        "quality_score": 50,
        "conversion_probability": 0.5,
        "model": "m",
    },
    "price_list_items": lambda lead: {"sku": f"K-{uuid.uuid4().hex[:8]}", "name": "Key", "unit_price": 1},
    "record_embeddings": lambda lead: {
        "lead_id": lead(),
        "embedding": VECTOR,
        "embedding_model": "test",
        "content_hash": "h",
    },
    "saved_views": lambda lead: {"name": f"Key {uuid.uuid4().hex[:8]}", "state": {"sort": "name"}},
}
# Tables members may write only through the server's own doors (a trigger refuses /rest/v1's writes):
# nothing of another agency can be probed through them. imports: the importer only (migration 0033,
# tests/integration/importer/test_api.py).
SERVER_WRITTEN = {"imports"}
REPRESENTATION = {"Prefer": "return=representation"}


def _body(api: Api, token: str, table: str) -> dict[str, Any]:
    def lead() -> str:
        with api.http(token) as http:
            created = http.post("/rest/v1/leads", json={"first_name": "Subject"}, headers=REPRESENTATION)
        assert created.status_code == 201, created.text
        lead_id: str = created.json()[0]["id"]
        return lead_id

    return PROBES[table](lead)


def _a_row(api: Api, a: AgencyA, table: str) -> dict[str, Any]:
    """A row of agency A, written through A's own door."""
    with api.http(a.owner.access_token) as http:
        created = http.post(
            f"/rest/v1/{table}", json=_body(api, a.owner.access_token, table), headers=REPRESENTATION
        )
    assert created.status_code == 201, created.text
    row: dict[str, Any] = created.json()[0]
    return row


def _a_sees_only_its_row(api: Api, a: AgencyA, table: str, row: dict[str, Any]) -> None:
    with api.http(a.owner.access_token) as http:
        assert http.get(f"/rest/v1/{table}?id=eq.{row['id']}").json() == [row]


def _b_sees_its_own(api: Api, b: Member, table: str, row_id: str) -> None:
    with api.http(b.access_token) as http:
        rows = http.get(f"/rest/v1/{table}?id=eq.{row_id}&select=id,agency_id").json()
    assert rows == [{"id": row_id, "agency_id": b.agency_id}]


def test_every_table_a_member_inserts_into_is_probed(api: Api) -> None:
    """From the catalogue (no rows read): the tables with a client-chosen id that members insert into."""
    with psycopg.connect(api.owner_url) as conn:
        tables = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_attribute i ON i.attrelid = c.oid AND i.attname = 'id' "
            "JOIN pg_attribute g ON g.attrelid = c.oid AND g.attname = 'agency_id' "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND i.attidentity = '' "
            "AND has_table_privilege('authenticated', c.oid, 'INSERT')"
        ).fetchall()
    assert {t for (t,) in tables} == set(PROBES) | SERVER_WRITTEN


def test_tenant_tables_are_keyed_by_agency_and_id_and_no_index_is_doubled(api: Api) -> None:
    with psycopg.connect(api.owner_url) as conn:
        keys = conn.execute(
            "SELECT c.oid::regclass::text, array(SELECT a.attname::text "
            "  FROM unnest(i.indkey) WITH ORDINALITY k(n, o) "
            "  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.n ORDER BY k.o) "
            "FROM pg_class c JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary "
            "JOIN pg_attribute t ON t.attrelid = c.oid AND t.attname = 'id' AND t.atttypid = 'uuid'::regtype "
            "WHERE EXISTS (SELECT FROM pg_attribute g WHERE g.attrelid = c.oid AND g.attname = 'agency_id')"
            # The schemas the doors serve; the server's own (gardenos: the mail outbox) no client reaches.
            "  AND c.relnamespace::regnamespace::text IN ('public', 'storage')"
        ).fetchall()
        doubled = conn.execute(
            "SELECT i.indrelid::regclass::text, array_agg(i.indexrelid::regclass::text) FROM pg_index i "
            "GROUP BY i.indrelid, i.indkey::text, i.indclass::text, pg_get_expr(i.indexprs, i.indrelid), "
            "pg_get_expr(i.indpred, i.indrelid) HAVING count(*) > 1"
        ).fetchall()
    assert len(keys) >= len(PROBES) + 1  # and storage.objects
    assert [table for table, key in keys if key != ["agency_id", "id"]] == []
    assert doubled == []


@pytest.mark.parametrize("table", sorted(PROBES))
def test_inserting_another_agencys_id_answers_as_a_fresh_id(
    api: Api, a: AgencyA, b: Member, table: str
) -> None:
    a_row = _a_row(api, a, table)
    for row_id in (a_row["id"], str(uuid.uuid4())):
        with api.http(b.access_token) as http:
            created = http.post(
                f"/rest/v1/{table}",
                json={**_body(api, b.access_token, table), "id": row_id},
                headers=REPRESENTATION,
            )
        assert created.status_code == 201, created.text
        assert [(r["id"], r["agency_id"]) for r in created.json()] == [(row_id, b.agency_id)]
        _b_sees_its_own(api, b, table, row_id)
    _a_sees_only_its_row(api, a, table, a_row)


@pytest.mark.parametrize("on_conflict", ["", "?on_conflict=id"])
@pytest.mark.parametrize("resolution", ["merge-duplicates", "ignore-duplicates"])
@pytest.mark.parametrize("table", sorted(PROBES))
def test_upserting_another_agencys_id_neither_touches_nor_reveals_its_row(
    api: Api, a: AgencyA, b: Member, table: str, resolution: str, on_conflict: str
) -> None:
    """supabase-js `upsert` (Prefer: resolution=…, with or without `onConflict: 'id'`): B's upsert with
    A's id inserts B's own row, exactly as with an id nobody holds."""
    a_row = _a_row(api, a, table)
    for row_id in (a_row["id"], str(uuid.uuid4())):
        with api.http(b.access_token) as http:
            upserted = http.post(
                f"/rest/v1/{table}{on_conflict}",
                json={**_body(api, b.access_token, table), "id": row_id},
                headers={"Prefer": f"return=representation,resolution={resolution}"},
            )
        assert upserted.status_code == 201, upserted.text
        assert [(r["id"], r["agency_id"]) for r in upserted.json()] == [(row_id, b.agency_id)]
        _b_sees_its_own(api, b, table, row_id)
    _a_sees_only_its_row(api, a, table, a_row)


@pytest.mark.parametrize("table", sorted(PROBES))
def test_renaming_a_row_to_another_agencys_id_answers_as_a_fresh_id(
    api: Api, a: AgencyA, b: Member, table: str
) -> None:
    a_row = _a_row(api, a, table)
    for row_id in (a_row["id"], str(uuid.uuid4())):
        with api.http(b.access_token) as http:
            mine = http.post(
                f"/rest/v1/{table}", json=_body(api, b.access_token, table), headers=REPRESENTATION
            )
            assert mine.status_code == 201, mine.text
            renamed = http.patch(
                f"/rest/v1/{table}?id=eq.{mine.json()[0]['id']}", json={"id": row_id}, headers=REPRESENTATION
            )
        assert renamed.status_code == 200, renamed.text
        assert [(r["id"], r["agency_id"]) for r in renamed.json()] == [(row_id, b.agency_id)]
    _a_sees_only_its_row(api, a, table, a_row)


# saved_views' policy binds the user as well as the agency, and its (agency_id, user_id, screen, name) index
# serves a user's few views as well as the key does: the planner may take either.
@pytest.mark.parametrize("table", sorted(set(PROBES) - {"saved_views"}))
def test_get_by_id_under_row_level_security_probes_the_agency_key(
    api: Api, a: AgencyA, database: SessionDatabase, table: str
) -> None:
    """The tenant policy's `agency_id = (SELECT auth.agency_id())` and `id = $1` make one probe of the
    primary key (agency_id, id)."""
    row = _a_row(api, a, table)
    claims = {
        "role": "authenticated",
        "sub": a.owner.user_id,
        "app_metadata": {"agency_id": a.owner.agency_id, "agency_role": "owner"},
    }
    with psycopg.connect(database.api_url) as conn, conn.transaction():
        conn.execute(SCOPE, scope("authenticated", claims, 0))
        # The session's tables are small: without these the planner may read them whole, or take a bitmap of
        # any index that starts with agency_id and filter the rest, which says nothing about whether the
        # policy lets the key serve the read. Among plain index scans the key's unique probe costs least.
        conn.execute("SET LOCAL enable_seqscan = off")
        conn.execute("SET LOCAL enable_bitmapscan = off")
        plan = conn.execute(
            f"EXPLAIN (FORMAT JSON, COSTS OFF) SELECT * FROM {table} WHERE id = %s", (row["id"],)
        )
        found = plan.fetchone()
    assert found is not None
    # The key, with both its columns bound (found anywhere in the plan: a table may add a join's nodes).
    probes = [
        node
        for node in _nodes(found[0][0]["Plan"])
        if node["Node Type"] in ("Index Scan", "Index Only Scan", "Bitmap Index Scan")
        and node.get("Index Name") == f"{table}_pkey"
    ]
    assert probes, found[0][0]["Plan"]
    # Both columns of the key bound: the agency from the policy's InitPlan, the id from the query.
    assert probes[0]["Index Cond"].startswith("((agency_id = (InitPlan 1).col1) AND (id = "), probes[0]


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


def test_agency_ids_are_the_servers_whether_or_not_the_id_exists(api: Api, a: AgencyA, b: Member) -> None:
    """Agencies keep one global id, never the client's: /rest/v1 refuses to create one or to change its id
    (403 for A's id as for a fresh one), and /api/v1 ignores an id in the body. (Slugs stay globally unique:
    an agency's public name, not a key to its rows; a taken slug answers 409 at every door.)"""
    for agency_id in (a.owner.agency_id, str(uuid.uuid4())):
        with api.http(b.access_token) as http:
            created = http.post(
                "/rest/v1/agencies",
                json={"id": agency_id, "name": "Probe", "slug": f"probe-{uuid.uuid4().hex[:8]}"},
            )
            assert created.status_code == 403, created.text
            moved = http.patch(f"/rest/v1/agencies?id=eq.{b.agency_id}", json={"id": agency_id})
            assert moved.status_code == 403, moved.text
            made = http.post("/api/v1/agencies", json={"id": agency_id, "name": "Probe"})
            assert made.status_code == 201, made.text
            assert made.json()["id"] not in (agency_id, a.owner.agency_id)
    with api.http(a.owner.access_token) as http:
        assert [r["id"] for r in http.get("/rest/v1/agencies?select=id").json()] == [a.owner.agency_id]


@pytest.fixture
def member(api: Api, a: AgencyA) -> tuple[str, str]:
    """A plain member of agency A, signed in: its access token and user id."""
    address, password = api.confirmed_user()
    with api.http(a.owner.access_token) as http:
        assert (
            http.post(f"/api/v1/agencies/{a.owner.agency_id}/invites", json={"email": address}).status_code
            == 201
        )
    with api.http() as http:
        session = http.post(
            "/auth/v1/token", params={"grant_type": "password"}, json={"email": address, "password": password}
        ).json()
    return session["access_token"], session["user"]["id"]


def test_members_cannot_write_the_audit_trail(api: Api, a: AgencyA, member: tuple[str, str]) -> None:
    token, user_id = member
    forged = {
        "actor_id": user_id,
        "action": "delete",
        "table_name": "leads",
        "record_id": a.plain_lead,
        "context": {"forged": True},
    }
    status, error = _post(api, token, "audit_log", forged)
    assert status == 403, error
    with api.http(token) as http:
        trail = http.get(f"/api/v1/audit?record_id={a.plain_lead}")
        assert trail.status_code == 200, trail.text
        assert not [e for e in trail.json()["items"] if e.get("context", {}).get("forged")]
        assert http.delete(f"/rest/v1/audit_log?record_id=eq.{a.plain_lead}").status_code == 403
        assert (
            http.patch(f"/rest/v1/audit_log?record_id=eq.{a.plain_lead}", json={"action": "read"}).status_code
            == 403
        )
    with psycopg.connect(api.owner_url) as conn:
        forged_rows = conn.execute("SELECT count(*) FROM audit_log WHERE context ? 'forged'").fetchone()
    assert forged_rows == (0,)
