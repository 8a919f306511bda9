"""`@supabase/supabase-js` (tests/js, from its lock file) against the realtime door, with each of the two
protocol versions realtime-js speaks: `vsn=2.0.0` (its default: array frames, binary broadcast pushes) and
`vsn=1.0.0` (object frames)."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.live import Api, agency_owner

HARNESS = Path(__file__).parents[2] / "js"
SCRIPT = HARNESS / "realtime_check.mjs"


@pytest.fixture(scope="module", params=["2.0.0", "1.0.0"])
def results(api: Api, request: pytest.FixtureRequest) -> dict[str, Any]:
    node = shutil.which("node")
    assert node, "node is not installed: `make test` installs Debian's nodejs"
    assert (HARNESS / "node_modules" / "@supabase" / "supabase-js").is_dir(), (
        "supabase-js is not installed: run `npm ci --prefix tests/js` (make test does)"
    )
    member = agency_owner(api, "Realtime Js Agency")
    topic = f"js-{uuid.uuid4().hex[:8]}"
    done = subprocess.run(
        [node, str(SCRIPT), api.url, api.anon_key, member.email, member.password, topic, request.param],
        cwd=HARNESS,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr + done.stdout
    found: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
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
