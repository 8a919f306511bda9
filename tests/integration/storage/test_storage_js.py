"""@supabase/supabase-js's storage client (tests/js, installed from its lock file by `make test`), run by
node against /storage/v1: one node process makes every call (tests/js/storage_js_check.mjs) and prints
what the client handed back; the tests here check it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.js_check import run_js_check
from tests.live import Api, agency_owner


@pytest.fixture(scope="module")
def results(api: Api) -> dict[str, Any]:
    member = agency_owner(api, "Storage Js Agency")
    bucket = f"js-{uuid.uuid4().hex[:10]}"
    found = run_js_check("storage_js_check.mjs", api.url, api.anon_key, member.email, member.password, bucket)
    assert found["sign_in"] == {"error": None, "agency": member.agency_id}
    return found


def _ok(result: dict[str, Any]) -> Any:
    assert result["error"] is None, result
    return result["data"]


def _failed(result: dict[str, Any], status: int) -> dict[str, Any]:
    assert result["data"] is None, result
    error: dict[str, Any] = result["error"]
    assert error["name"] == "StorageApiError", error
    assert int(error["status"]) == status, error
    return error


def test_buckets(results: dict[str, Any]) -> None:
    assert _ok(results["create_bucket"])["name"].startswith("js-")
    assert _ok(results["get_bucket"])["public"] is False
    assert _ok(results["get_bucket"])["limit"] == 1000
    assert _ok(results["list_buckets"]) is True
    assert _ok(results["update_bucket"]) == {"message": "Successfully updated"}
    assert _ok(results["empty_bucket"]) == {"message": "Successfully emptied"}
    assert _ok(results["delete_bucket"]) == {"message": "Successfully deleted"}
    _failed(results["get_deleted_bucket"], 404)


def test_uploads_blob_and_raw_with_limits(results: dict[str, Any]) -> None:
    assert _ok(results["upload_blob"])["fullPath"].endswith("/notes/a.txt")
    assert _ok(results["upload_raw"])["path"] == "notes/b.txt"
    assert _failed(results["upload_duplicate"], 409)["message"] == "The resource already exists"
    _failed(results["upload_wrong_type"], 415)
    _failed(results["upload_too_large"], 413)
    _ok(results["upsert"])
    _ok(results["update"])


def test_download_info_exists_list(results: dict[str, Any]) -> None:
    assert _ok(results["download"]) == "replaced"
    _failed(results["download_missing"], 404)
    info = _ok(results["info"])
    assert info["size"] == len("replaced")
    assert info["contentType"].startswith("text/plain")
    assert _ok(results["exists"]) is True
    # storage-js answers a missing object's HEAD 404 with `data: false` and the error beside it.
    assert results["exists_missing"]["data"] is False
    assert results["exists_missing"]["error"]["status"] == 404
    assert _ok(results["list"]) == ["b.txt", "a.txt"]
    assert _ok(results["list_top"]) == ["notes"]


def test_move_copy_remove(results: dict[str, Any]) -> None:
    _ok(results["move"])
    _ok(results["copy"])
    assert _ok(results["remove"]) == ["copied/b.txt", "moved/b.txt"]


def test_signed_and_public_urls(results: dict[str, Any]) -> None:
    assert _ok(results["signed"]) == "replaced"
    assert _ok(results["signed_many"]) == [
        {"path": "notes/a.txt", "ok": True, "error": None},
        {"path": "nope.txt", "ok": False, "error": "Object not found"},
    ]
    assert results["signed_upload_url"]["error"] is None
    _ok(results["upload_to_signed"])
    assert _ok(results["download_signed_upload"]) == "via token"
    assert results["public"] == {"status": 200, "body": "replaced"}
