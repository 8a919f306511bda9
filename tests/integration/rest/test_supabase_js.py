"""The official JavaScript client, `@supabase/supabase-js` (tests/js, installed from its lock file by
`make test`), run by node against the API: one node process makes every call (tests/js/supabase_js_check.mjs)
and prints what the client handed back; each test here checks one part of it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.js_check import run_js_check
from tests.live import Api, agency_owner


@pytest.fixture(scope="module")
def results(api: Api) -> dict[str, Any]:
    member = agency_owner(api, "Supabase Js Agency")
    found = run_js_check("supabase_js_check.mjs", api.url, api.anon_key, member.email, member.password)
    assert found["sign_in"] == {"error": None, "agency": member.agency_id}
    return found


def _ok(result: dict[str, Any], status: int = 200) -> Any:
    assert result["error"] is None, result
    assert result["status"] == status, result
    return result["data"]


def test_select_with_filters_and_order(results: dict[str, Any]) -> None:
    assert _ok(results["insert"], 201) == [
        {"first_name": "Ada"},
        {"first_name": "Adam"},
        {"first_name": "Grace"},
    ]
    assert _ok(results["select_filtered"]) == [
        {"first_name": "Ada", "score": 90},
        {"first_name": "Adam", "score": 60},
    ]


def test_count_with_head_and_range(results: dict[str, Any]) -> None:
    head = results["count_head"]
    assert _ok(head) is None
    assert head["count"] == 2
    assert results["count_planned_head"]["count"] is not None
    ranged = results["range_counted"]
    assert _ok(ranged, 206) == [{"first_name": "Ada"}]
    assert ranged["count"] == 3


def test_single_and_maybe_single(results: dict[str, Any]) -> None:
    assert _ok(results["single"]) == {"first_name": "Ada", "company": "Engines"}
    many = results["single_of_many"]
    assert many["status"] == 406
    assert many["error"]["code"] == "PGRST116"
    assert _ok(results["maybe_single_of_none"]) is None


def test_rpc_with_get_select_filters_and_head(results: dict[str, Any]) -> None:
    assert _ok(results["rpc_get"]) == [{"first_name": "Ada"}, {"first_name": "Adam"}]
    assert _ok(results["rpc_post_filtered"]) == [{"first_name": "Ada", "score": 90}]
    head = results["rpc_head_count"]
    assert _ok(head) is None
    assert head["count"] == 2
    assert _ok(results["rpc_single"]) == {"first_name": "Grace"}
    summary = _ok(results["rpc_scalar_table"])
    assert [(row["status"], row["leads"]) for row in summary] == [("new", 3)]


def test_upsert_update_and_delete(results: dict[str, Any]) -> None:
    assert _ok(results["upsert"], 201) == [{"first_name": "Ada", "score": 95}]
    assert _ok(results["update"]) == [{"status": "qualified"}]
    assert _ok(results["delete"]) == [{"first_name": "Adam"}]
    assert _ok(results["remaining"]) == [
        {"first_name": "Ada", "score": 95, "status": "new"},
        {"first_name": "Grace", "score": 75, "status": "qualified"},
    ]


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("error_unknown_column", 400, "42703"),
        ("error_unknown_table", 404, "PGRST205"),
        ("error_unknown_body_column", 400, "PGRST204"),
        ("error_rpc_get_writes", 405, "25006"),
        ("error_explain_disabled", 406, "PGRST107"),
    ],
)
def test_errors_are_postgrest_shaped(results: dict[str, Any], name: str, status: int, code: str) -> None:
    result = results[name]
    assert result["status"] == status, result
    assert result["data"] is None
    assert set(result["error"]) == {"code", "message", "details", "hint"}
    assert result["error"]["code"] == code
    assert result["error"]["message"]
