"""The web app's mount at `/` (src/gardenos/api/web.py) over a hand-laid build: its files, index.html for the
app's own paths, and the API's 404 for unknown API paths and missing assets."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import pytest

from tests.live import Api, Mailbox, serve
from tests.support import SessionDatabase

INDEX = '<!doctype html><div id="root"></div>'


@pytest.fixture(scope="module")
def web_api(
    database: SessionDatabase, mailbox: tuple[Mailbox, int], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    dist = tmp_path_factory.mktemp("dist")
    (dist / "index.html").write_text(INDEX)
    (dist / "assets").mkdir()
    (dist / "assets" / "app.js").write_text("console.log('app')")
    yield from serve(database, mailbox, web_dir=dist, api_external_url=None)


def test_the_app_and_its_paths_load_index_html(web_api: Api) -> None:
    with httpx.Client(base_url=web_api.url) as http:
        for path in ("/", "/leads", "/console/tables/leads"):
            response = http.get(path)
            assert response.status_code == 200, path
            assert response.text == INDEX
            assert response.headers["content-type"].startswith("text/html")
        assert http.get("/assets/app.js").text == "console.log('app')"


def test_unknown_api_paths_and_missing_assets_stay_404(web_api: Api) -> None:
    with httpx.Client(base_url=web_api.url) as http:
        for path in ("/api/v1/no-such-thing", "/rest/v1/", "/auth/v1/nope", "/assets/old-bundle.js"):
            response = http.get(path)
            assert response.status_code == 404, path
            assert INDEX not in response.text
        # The API's routes still answer under the mount.
        assert http.get("/health").json()["status"] == "ok"


def test_the_config_gives_the_anon_key_and_leaves_the_url_to_the_origin(web_api: Api) -> None:
    config = httpx.get(f"{web_api.url}/app-config.json").json()
    assert config["url"] is None
    # A key of the anon role that this server takes (its own `iat`, so not the fixture's string).
    payload = config["anon_key"].split(".")[1]
    assert json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["role"] == "anon"
    with httpx.Client(base_url=web_api.url, headers={"apikey": config["anon_key"]}) as http:
        refused = http.post(
            "/auth/v1/token",
            params={"grant_type": "password"},
            json={"email": "nobody@example.com", "password": "not-this-one"},
        )
    assert refused.status_code == 400, refused.text
