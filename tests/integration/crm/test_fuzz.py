"""Random and hostile requests against every /api/v1 operation in the API's own OpenAPI document: never a
500, never another agency's row, and the other agency's data is intact afterwards.

Operations, their path and query parameters and their body properties come from `/openapi.json`, so a new
endpoint is fuzzed without being listed here. Path ids are sometimes the other agency's real ids.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.rest.test_fuzz import HOSTILE as REST_HOSTILE
from tests.live import Api, Member, agency_owner

# The /rest/v1 fuzzer's hostile values, and a string that is almost an id.
HOSTILE = [*REST_HOSTILE, "not-a-uuid"]
# What only agency B's rows hold: none may ever reach agency A.
B_SECRETS = ("Beeblebrox", "zaphod-7f3a@b.example", "B's private note 7f3a")
scalars = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(max_size=20),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return sorted(
        (method.upper(), path, operation)
        for path, methods in spec["paths"].items()
        if path.startswith("/api/v1/")
        for method, operation in methods.items()
        if method in ("get", "post", "put", "patch", "delete")
    )


def _body_properties(spec: dict[str, Any], operation: dict[str, Any]) -> list[str]:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    if ref:
        schema = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]
    return sorted(schema.get("properties", {}))


@pytest.fixture(scope="module")
def tenants(api: Api) -> tuple[Member, Member, dict[str, Any]]:
    a, b = agency_owner(api, "Api Fuzz A"), agency_owner(api, "Api Fuzz B")
    with api.http(b.access_token) as http:
        lead = http.post(
            "/api/v1/leads", json={"first_name": B_SECRETS[0], "email": B_SECRETS[1], "score": 50}
        )
        assert lead.status_code == 201, lead.text
        note = http.post(
            "/api/v1/activities", json={"kind": "note", "subject": B_SECRETS[2], "lead_id": lead.json()["id"]}
        )
        assert note.status_code == 201, note.text
        spec = http.get("/openapi.json").json()
    return a, b, {"spec": spec, "foreign_ids": [lead.json()["id"], note.json()["id"]]}


def _snapshot(api: Api, b: Member) -> Any:
    with api.http(b.access_token) as http:
        leads = http.get("/api/v1/leads").json()
        lead_id = leads["items"][0]["id"]
        timeline = http.get(f"/api/v1/leads/{lead_id}/timeline").json()
    return leads["items"], timeline


@st.composite
def requests(draw: st.DrawFn, spec: dict[str, Any], foreign_ids: list[str]) -> tuple[str, str, Any, Any]:
    method, path, operation = draw(st.sampled_from(_operations(spec)))
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "path":
            value = draw(
                st.one_of(st.sampled_from(foreign_ids), st.uuids().map(str), st.sampled_from(HOSTILE))
            )
            path = path.replace("{" + parameter["name"] + "}", quote(value, safe="") or "x")
    names = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
    query = draw(
        st.dictionaries(st.sampled_from(names), scalars.map(str), max_size=3) if names else st.just({})
    )
    properties = _body_properties(spec, operation)
    body = draw(
        st.one_of(
            st.none(),
            st.dictionaries(st.sampled_from(properties or ["x"]), json_values, max_size=4),
            json_values,
        )
    )
    return method, path, query, body


def test_every_api_operation_is_fuzzed(tenants: tuple[Member, Member, dict[str, Any]]) -> None:
    operations = _operations(tenants[2]["spec"])
    paths = {path for _, path, _ in operations}
    assert {"/api/v1/leads", "/api/v1/clients", "/api/v1/leads/{lead_id}/convert"} <= paths
    assert len(operations) >= 25


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_500_and_no_foreign_rows(
    api: Api, tenants: tuple[Member, Member, dict[str, Any]], data: st.DataObject
) -> None:
    a, b, context = tenants
    method, path, query, body = data.draw(requests(context["spec"], context["foreign_ids"]))
    with api.http(a.access_token) as http:
        response = http.request(method, path, params=query, json=body)
    assert response.status_code < 500, (method, path, query, body, response.text)
    # B's ids may come back in a "not found" that quotes the request; B's data and agency never may.
    for secret in (b.agency_id, *B_SECRETS):
        assert secret not in response.text, (method, path, query, body, response.text)


def test_b_is_intact_after_the_fuzzing(api: Api, tenants: tuple[Member, Member, dict[str, Any]]) -> None:
    _, b, _ = tenants
    leads, timeline = _snapshot(api, b)
    assert [(lead["first_name"], lead["email"], lead["score"]) for lead in leads] == [
        (B_SECRETS[0], B_SECRETS[1], 50)
    ]
    notes = [item["activity"]["subject"] for item in timeline["items"] if item["type"] == "activity"]
    assert notes == [B_SECRETS[2]]
