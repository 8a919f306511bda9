"""tus-js-client (tests/js, installed from its lock file by `make test`) against /storage/v1/upload/resumable,
as a Supabase front end uses it for resumable uploads: one node process makes every upload
(tests/js/storage_tus_check.mjs) and prints what happened; the tests here check it, on both backends."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.js_check import run_js_check
from tests.live import Api, agency_owner

MiB = 1 << 20


@pytest.fixture(scope="module")
def results(api: Api) -> dict[str, Any]:
    member = agency_owner(api, "Storage Tus Js Agency")
    bucket = f"tus-{uuid.uuid4().hex[:10]}"
    found = run_js_check(
        "storage_tus_check.mjs", api.url, api.anon_key, member.email, member.password, bucket, timeout=180
    )
    assert found["bucket"] is None
    return found


def test_a_whole_upload_in_six_mb_chunks(results: dict[str, Any]) -> None:
    assert results["whole"]["ok"] is True, results["whole"]
    # The first chunk went with the creation request; PATCHes sent the rest from where it ended.
    assert results["whole"]["patches"] == [6 * MiB, 12 * MiB]
    download = results["whole_download"]
    assert download["sha256"] == results["whole_expected"]
    assert download["type"] == "application/pdf"
    assert results["whole_info"].get("metadata") == {"lead": "42"}, results["whole_info"]


def test_a_stopped_upload_resumes_from_its_url(results: dict[str, Any]) -> None:
    stopped = results["stopped"]
    assert stopped["stopped_at"] == 2 * MiB
    resumed = results["resumed"]
    assert resumed["ok"] is True, resumed
    assert resumed["url"] == stopped["url"]
    # It asked (HEAD) and went on from the stored offset, not from the start.
    assert resumed["patches"][0] == 2 * MiB
    assert results["resumed_download"]["sha256"] == results["resumed_expected"]


def test_refusals_reach_the_client_with_their_reason(results: dict[str, Any]) -> None:
    assert results["no_bucket"]["ok"] is False
    assert results["no_bucket"]["status"] == 404
    assert results["no_bucket"]["body"] == "Bucket not found"
    assert results["bad_key"]["status"] == 400
    assert "'..'" in results["bad_key"]["body"]
