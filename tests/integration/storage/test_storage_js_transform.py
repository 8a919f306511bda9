"""Image transformations through @supabase/supabase-js (tests/js/storage_transform_check.mjs, one node
process): download, signed and public URLs with `transform`, as a front end asks for thumbnails."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from PIL import Image

from tests.js_check import run_js_check
from tests.live import Api, agency_owner

# The JS client's calls are the same on every backend; the backend's part is in test_transform.py.
BACKENDS = ("disk",)


@pytest.fixture(scope="module")
def results(api: Api, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    member = agency_owner(api, "Storage Js Transform Agency")
    picture = tmp_path_factory.mktemp("js-transform") / "garden.png"
    out = io.BytesIO()
    Image.new("RGB", (400, 200), (200, 20, 20)).save(out, "PNG")
    picture.write_bytes(out.getvalue())
    bucket = f"jst-{uuid.uuid4().hex[:10]}"
    found = run_js_check(
        "storage_transform_check.mjs",
        api.url,
        api.anon_key,
        member.email,
        member.password,
        bucket,
        str(picture),
    )
    assert found["sign_in"] == {"error": None, "agency": member.agency_id}
    assert found["upload"]["error"] is None, found["upload"]
    return found


def _ok(result: dict[str, Any]) -> Any:
    assert result["error"] is None, result
    return result["data"]


def test_download_with_transform(results: dict[str, Any]) -> None:
    assert _ok(results["download_cover"]) == {"type": "image/png", "size": [100, 100]}
    assert _ok(results["download_contain"]) == {"type": "image/png", "size": [100, 50]}


def test_refusals_reach_the_client_as_storage_errors(results: dict[str, Any]) -> None:
    for name in ("download_text", "download_bad_quality"):
        result = results[name]
        assert result["data"] is None, result
        assert (result["error"]["name"], result["error"]["status"]) == ("StorageApiError", 400), result


def test_signed_url_with_transform(results: dict[str, Any]) -> None:
    signed = results["signed"]
    assert signed["error"] is None
    assert signed["render"] is True
    assert signed["fetched"] == {"status": 200, "type": "image/png", "size": [50, 50]}


def test_public_url_with_transform_and_webp_for_browsers(results: dict[str, Any]) -> None:
    public = results["public"]
    assert public["render"] is True
    assert public["fetched"] == {"status": 200, "type": "image/png", "size": [40, 20]}
    assert public["browser"] == {"status": 200, "type": "image/webp", "size": None}
