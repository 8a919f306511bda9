"""The leads workspace end to end (web/e2e/leads_flow.mjs in Debian's chromium against a real `gardenos up`):
create, page, filter, sort, save a view, bulk tag, delete with undo, open a lead, edit it, add a note, merge
its duplicate, convert it, ⌘K; then what the browser did, read back through the API."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.support import ARTEFACTS, WEB, run_script
from tests.live import UpProcess, unique_email
from tests.support import SessionDatabase

pytestmark = pytest.mark.slow

SCREENS = ("leads-table", "leads-filtered", "lead-merge", "lead", "lead-dark", "leads-dark", "leads-phone")


def test_the_leads_workspace_from_the_table_to_a_converted_lead(
    database: SessionDatabase, tmp_path: Path, node: str
) -> None:
    up = UpProcess(
        database, tmp_path / "up.log", GARDENOS_WEB_DIR=str(WEB / "dist"), GARDENOS_MAILER_AUTOCONFIRM="true"
    )
    shots = ARTEFACTS / "leads"
    try:
        email, password = unique_email("web-leads"), "correct-horse-battery"
        outcome = run_script(node, up, "leads_flow.mjs", email, password, str(shots))
        for name in SCREENS:
            assert (shots / f"{name}.png").stat().st_size > 0, name
        print(f"screenshots: {shots}")

        with up.http(up.sign_in(email, password)) as http:
            lead = http.get(f"/api/v1/leads/{outcome['lead_id']}").json()
            assert lead["status"] == "converted"
            assert lead["job_title"] == "Countess"
            assert lead["custom_fields"] == {"tier": "gold"}
            notes = http.get("/api/v1/activities", params={"lead_id": lead["id"], "kind": "note"}).json()
            assert [n["subject"] for n in notes["items"]] == ["Talked about roses"]
            # Ada King was merged into Ada Lovelace: one lead with that email is left.
            same_email = http.get("/api/v1/leads", params={"q": "ada@example.com"}).json()["items"]
            assert [x["id"] for x in same_email] == [lead["id"]]
            assert http.get(f"/api/v1/leads/{outcome['deleted_id']}").status_code == 404
            assert http.get(f"/api/v1/leads/{outcome['restored_id']}").status_code == 200
            for tagged in outcome["tagged"]:
                assert "vip" in http.get(f"/api/v1/leads/{tagged}").json()["tags"]
            views = http.get("/rest/v1/saved_views", params={"select": "name,state"}).json()
            assert [v["name"] for v in views] == ["Qualified gold from the web"]
            assert views[0]["state"]["custom"] == {"tier": "gold"}
    finally:
        up.interrupt()
