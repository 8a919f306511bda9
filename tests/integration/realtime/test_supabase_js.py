"""`@supabase/supabase-js` (tests/js, from its lock file) against the realtime door, with each of the two
protocol versions realtime-js speaks: `vsn=2.0.0` (its default: array frames, binary broadcast pushes) and
`vsn=1.0.0` (object frames)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.js_check import run_js_check
from tests.live import Api, agency_owner


@pytest.fixture(scope="module", params=["2.0.0", "1.0.0"])
def results(api: Api, request: pytest.FixtureRequest) -> dict[str, Any]:
    member = agency_owner(api, "Realtime Js Agency")
    topic = f"js-{uuid.uuid4().hex[:8]}"
    found = run_js_check(
        "realtime_check.mjs", api.url, api.anon_key, member.email, member.password, topic, request.param
    )
    assert "failure" not in found, found
    return found


def test_broadcast_with_self_and_ack(results: dict[str, Any]) -> None:
    assert results["subscribe_a"] == {"status": "SUBSCRIBED", "error": None}
    assert results["subscribe_b"] == {"status": "SUBSCRIBED", "error": None}
    assert results["ack"] == "ok"
    assert sorted(p["n"] for p in results["heard_a"]) == [1, 2]
    assert results["heard_b"] == [{"n": 1}]


def test_presence_sync_join_and_leave(results: dict[str, Any]) -> None:
    assert results["track_a"] == "ok"
    assert results["track_b"] == "ok"
    assert results["state_a"] == {"alice": ["a"], "bob": ["b"]}
    assert results["state_after_leave"] == ["alice"]


def test_a_private_channel_without_a_policy_is_refused(results: dict[str, Any]) -> None:
    refused = results["private_refused"]
    assert refused["status"] == "CHANNEL_ERROR"
    assert "Unauthorized" in (refused["error"] or ""), refused
