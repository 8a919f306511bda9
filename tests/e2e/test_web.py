"""The web app end to end: a real `gardenos up` serving the built app (web/dist) and its APIs, Debian's
chromium driven by playwright-core from node (web/e2e/first_steps.mjs). `make test` builds the app, installs
its packages and chromium before the tests run."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.support import ARTEFACTS, WEB, run_script
from tests.live import UpProcess, unique_email
from tests.support import SessionDatabase

pytestmark = pytest.mark.slow


def test_sign_up_create_an_agency_and_see_a_lead_added_through_the_api(
    database: SessionDatabase, tmp_path: Path, node: str
) -> None:
    up = UpProcess(
        database,
        tmp_path / "up.log",
        GARDENOS_WEB_DIR=str(WEB / "dist"),
        # Signing up gives a session at once: the confirmation mail is the auth tests' business.
        GARDENOS_MAILER_AUTOCONFIRM="true",
    )
    try:
        # A path the app routes in the browser loads the app; an unknown API path stays the API's 404.
        assert '<div id="root">' in httpx.get(f"{up.url}/leads").text
        missing = httpx.get(f"{up.url}/api/v1/no-such-thing")
        assert missing.status_code == 404
        assert "application/json" in missing.headers["content-type"]

        email, password = unique_email("web"), "correct-horse-battery"
        outcome = run_script(node, up, "first_steps.mjs", email, password, str(ARTEFACTS))
        assert outcome["path"] == "/leads"
        assert (ARTEFACTS / "leads.png").stat().st_size > 0
        assert (ARTEFACTS / "leads-dark.png").stat().st_size > 0

        # The user the browser made owns an agency holding that lead.
        with up.http(up.sign_in(email, password)) as http:
            agencies = http.get("/api/v1/agencies").json()
            leads = http.get("/api/v1/leads").json()["items"]
        assert [a["name"] for a in agencies] == ["Green Fingers Ltd"]
        assert [lead["id"] for lead in leads] == [outcome["lead_id"]]
    finally:
        up.interrupt()
