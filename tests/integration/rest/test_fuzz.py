"""Random and hostile query strings and bodies against /rest/v1: never a 500, never another agency's row."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.live import Api, Member, agency_owner

COLUMNS = [
    "id",
    "agency_id",
    "first_name",
    "email",
    "score",
    "tags",
    "custom_fields",
    "status",
    "created_at",
    "custom_fields->>industry",
    "custom_fields->a->b",
    "nope",
    "search_vector",
]
OPERATORS = [
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "like",
    "ilike",
    "match",
    "imatch",
    "in",
    "is",
    "isdistinct",
    "fts",
    "plfts",
    "phfts",
    "wfts",
    "cs",
    "cd",
    "ov",
    "sl",
    "sr",
    "nxr",
    "nxl",
    "adj",
    "not.eq",
    "bogus",
]
HOSTILE = [
    "'",
    '"',
    "\\",
    ";DROP TABLE leads;--",
    "%",
    "*",
    "(",
    ")",
    ",",
    "{",
    "}",
    "null",
    "NaN",
    "1e999",
    "\u0000",
    "é",
    "🌱",
    "x" * 300,
    "(1,2",
    '{"a":',
    "-1",
    "2026-13-45",
    "00000000-0000-0000-0000-000000000000",
]

values = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30), st.integers().map(str))
filters = st.tuples(st.sampled_from(COLUMNS), st.sampled_from(OPERATORS), values).map(
    lambda t: (t[0], f"{t[1]}.{t[2]}")
)
reserved = st.tuples(
    st.sampled_from(["select", "order", "limit", "offset", "or", "and", "on_conflict", "columns"]),
    st.one_of(
        values, st.sampled_from(["*,clients(*)", "first_name,activities(kind)", "score.desc", "(score.gt.1)"])
    ),
)
queries = st.lists(st.one_of(filters, reserved), max_size=5)
bodies = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(COLUMNS),
        st.one_of(values, st.none(), st.integers(), st.lists(st.text(max_size=5))),
        max_size=4,
    ),
    st.lists(st.dictionaries(st.sampled_from(COLUMNS[:6]), values, max_size=3), max_size=3),
    st.sampled_from(["[", "{}", "[]", "1", '"x"', "null"]),
)


@pytest.fixture(scope="module")
def tenants(api: Api) -> tuple[Member, Member]:
    a, b = agency_owner(api, "Fuzz A"), agency_owner(api, "Fuzz B")
    with api.http(b.access_token) as http:
        http.post("/rest/v1/leads", json=[{"first_name": "Bee", "email": "bee@b.example", "score": 50}])
    return a, b


def _send(http: httpx.Client, method: str, query: list[tuple[str, str]], body: Any) -> httpx.Response:
    if isinstance(body, str):
        return http.request(
            method,
            "/rest/v1/leads",
            params=query,
            content=body.encode(),
            headers={"Content-Type": "application/json"},
        )
    return http.request(method, "/rest/v1/leads", params=query, json=body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(method=st.sampled_from(["GET", "POST", "PATCH", "DELETE"]), query=queries, body=bodies)
def test_no_500_and_no_foreign_rows(
    api: Api, tenants: tuple[Member, Member], method: str, query: list[tuple[str, str]], body: Any
) -> None:
    a, b = tenants
    with api.http(a.access_token) as http:
        response = _send(http, method, query, body)
    assert response.status_code < 500, (method, query, body, response.text)
    assert b.agency_id not in response.text
    if response.status_code >= 400:
        error = response.json()
        assert set(error) == {"code", "message", "details", "hint"}
        assert error["message"]


def test_b_is_intact_after_the_fuzzing(api: Api, tenants: tuple[Member, Member]) -> None:
    _, b = tenants
    with api.http(b.access_token) as http:
        rows = http.get("/rest/v1/leads?select=first_name,email,score").json()
    assert rows == [{"first_name": "Bee", "email": "bee@b.example", "score": 50}]
    assert json.dumps(rows)
