"""Search indexes serve the API's own role under row-level security (migration 0010), and still return
only the caller's agency's rows.

Plans are read with sequential scans disabled; with 20,000 leads per agency the planner then prefers a
selective search index over reading the agency's rows, when it may use one. Before 0010 it could not.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from gardenos.crm.leads.repository import SEARCH
from gardenos.db.pool import SCOPE, scope
from tests.support import SessionDatabase


def _agency(owner: psycopg.Connection, slug: str) -> dict[str, Any]:
    """20,000 leads with distinct random names; one of them, in every agency, is Marthe Legrand of Keudel
    Logistics, tagged vip."""
    agency_id = owner.execute(
        "INSERT INTO agencies (name, slug) VALUES (%s, %s) RETURNING id", (slug, slug)
    ).fetchone()[0]  # type: ignore[index]
    owner.execute(
        """
        INSERT INTO leads (agency_id, first_name, last_name, company, email, tags)
        SELECT %(agency)s,
               CASE WHEN g = 77 THEN 'Marthe' ELSE initcap(substr(md5(g || %(slug)s), 1, 8)) END,
               CASE WHEN g = 77 THEN 'Legrand' ELSE initcap(substr(md5(g || 'last'), 1, 10)) END,
               CASE WHEN g = 77 THEN 'Keudel Logistics' ELSE 'Firm ' || substr(md5(g || 'co'), 1, 12) END,
               'p' || g || '@' || %(slug)s || '.example',
               CASE WHEN g = 77 THEN ARRAY['vip'] ELSE '{}' END
        FROM generate_series(1, 20000) g
        """,
        {"agency": agency_id, "slug": slug},
    )
    # The claims count only for a member of the agency (the database checks the current rows).
    user_id = owner.execute(
        "INSERT INTO auth.users (email) VALUES (%s) RETURNING id", (f"searcher@{slug}.example",)
    ).fetchone()[0]  # type: ignore[index]
    owner.execute("INSERT INTO memberships (agency_id, user_id) VALUES (%s, %s)", (agency_id, user_id))
    return {"role": "authenticated", "sub": str(user_id), "app_metadata": {"agency_id": str(agency_id)}}


@pytest.fixture(scope="module")
def two_agencies(database: SessionDatabase) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    suffix = uuid.uuid4().hex[:8]
    with psycopg.connect(database.owner_url, autocommit=True) as owner:
        claims = _agency(owner, f"search-a-{suffix}"), _agency(owner, f"search-b-{suffix}")
        owner.execute("ANALYZE leads")
        yield claims
        owner.execute(
            "DELETE FROM agencies WHERE id = ANY(%s::uuid[])",
            ([c["app_metadata"]["agency_id"] for c in claims],),
        )
        owner.execute("DELETE FROM auth.users WHERE id = ANY(%s::uuid[])", ([c["sub"] for c in claims],))


def _as_api(database: SessionDatabase, claims: dict[str, Any], statement: str, params: dict[str, Any]) -> Any:
    """(plan as text, rows) for `statement` run as the API's role with `claims`."""
    with psycopg.connect(database.api_url) as conn, conn.transaction():
        conn.execute(SCOPE, scope("authenticated", claims, 0))
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = conn.execute(f"EXPLAIN (FORMAT JSON) {statement}", params).fetchone()[0]  # type: ignore[index]
        rows = conn.execute(statement, params).fetchall()
    return json.dumps(plan), rows


@pytest.mark.parametrize(
    ("index", "condition", "value"),
    [
        ("leads_search_idx", "l.search_vector @@ websearch_to_tsquery(%(q)s)", "keudel"),
        (
            "leads_name_trgm_idx",
            "gardenos.name_key(l.first_name, l.last_name) OPERATOR(extensions.%%) %(q)s",
            "marthe legrand",
        ),
        ("leads_company_trgm_idx", "lower(l.company) OPERATOR(extensions.%%) %(q)s", "keudel logistics"),
        ("leads_tags_idx", "l.tags @> %(q)s::text[]", ["vip"]),
    ],
)
def test_a_search_under_rls_uses_its_index_and_sees_only_its_agency(
    database: SessionDatabase,
    two_agencies: tuple[dict[str, Any], dict[str, Any]],
    index: str,
    condition: str,
    value: Any,
) -> None:
    mine, _ = two_agencies
    # With the caller's agency spelled out, as /rest/v1 sends it (rest/build.py `_agency_condition`), so
    # the planner estimates from this agency's statistics whatever else the session's database holds.
    statement = f"SELECT l.agency_id FROM public.leads l WHERE {condition} AND l.agency_id = %(agency)s"
    agency = mine["app_metadata"]["agency_id"]
    plan, rows = _as_api(database, mine, statement, {"q": value, "agency": agency})
    assert index in plan
    assert len(rows) == 1
    assert {str(r[0]) for r in rows} == {mine["app_metadata"]["agency_id"]}


def test_the_crm_search_finds_only_the_callers_agency(
    database: SessionDatabase, two_agencies: tuple[dict[str, Any], dict[str, Any]]
) -> None:
    _, theirs = two_agencies
    _, rows = _as_api(
        database, theirs, f"SELECT l.agency_id FROM public.leads l WHERE {SEARCH}", {"q": "legrand"}
    )
    assert len(rows) == 1
    assert {str(r[0]) for r in rows} == {theirs["app_metadata"]["agency_id"]}
