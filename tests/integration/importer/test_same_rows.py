"""The same CSV through the CLI and through POST /api/v1/imports ends in identical rows: one importer, one
set of rules (the agency's region and duplicate rule read by the importer, whichever door starts it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from tests.integration.contacts.person import CSV_HEADER, CSV_LINE, LEAD, set_rules, stored
from tests.integration.importer.test_api import wait_for
from tests.live import Api, Member, agency_owner
from tests.support import SessionDatabase

CSV = (
    "Vorname;Nachname;E-Mail;Telefon;Firma;Status;Tags;Kunden-Nr\n"
    "ZOË;MÜLLER;Zoe@Example.DE;030 1234567;Bäckerei Größe;qualified;vip, b2b;K-1\n"
    "René;Côté;rene@example.fr;+33 1 23 45 67 89;Crème & Brûlée;;;K-2\n"
    "Ann;Lee;ann@example.com;ruf mich an;;;;\n"
    "Bob;Kay;bob@example.com;030 1234567;Bäckerei Größe;;;\n"
    "Zoe;Dup;zoe@example.de;;;;;\n"
)
# What may differ between two agencies' copies of one import: who and when, not what.
SKIP = {"id", "agency_id", "import_id", "created_at", "updated_at", "search_vector"}


def _rows(api: Api, agency_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(api.owner_url) as conn:
        rows = conn.execute(
            "SELECT to_jsonb(l) FROM leads l WHERE agency_id = %s ORDER BY email", (agency_id,)
        ).fetchall()
    return [{k: v for k, v in r[0].items() if k not in SKIP} for r in rows]


def _agency(api: Api, name: str) -> Member:
    member = agency_owner(api, name)
    with psycopg.connect(api.owner_url, autocommit=True) as conn:
        conn.execute(
            'UPDATE agencies SET settings = settings || \'{"phone_region": "DE"}\' WHERE id = %s',
            (member.agency_id,),
        )
    return member


def _import(api: Api, database: SessionDatabase, path: Path, by_cli: Member, by_api: Member) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gardenos", "import", "leads", str(path), "--agency", by_cli.agency_id],
        env=database.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with api.http(by_api.access_token) as http:
        created = http.post("/api/v1/imports", files={"file": ("leute.csv", path.read_bytes(), "text/csv")})
        assert created.status_code == 202, created.text
        assert wait_for(http, created.json()["id"])["status"] == "succeeded"


def test_the_cli_and_the_api_import_the_person_every_door_stores(
    api: Api, database: SessionDatabase, tmp_path: Path
) -> None:
    # The person of tests/integration/contacts/test_same_rows.py, as a line of a CSV: the same row.
    path = tmp_path / "person.csv"
    path.write_text(f"{CSV_HEADER}\n{CSV_LINE}\n", encoding="utf-8")
    by_cli, by_api = agency_owner(api, "CLI Person"), agency_owner(api, "API Person")
    for member in (by_cli, by_api):
        set_rules(api.owner_url, member.agency_id)
    _import(api, database, path, by_cli, by_api)
    assert stored(api.owner_url, "leads", by_cli.agency_id) == [LEAD]
    assert stored(api.owner_url, "leads", by_api.agency_id) == [LEAD]


def test_the_cli_and_the_api_import_a_file_into_identical_rows(
    api: Api, database: SessionDatabase, tmp_path: Path
) -> None:
    path = tmp_path / "leute.csv"
    path.write_text(CSV, encoding="utf-8")
    by_cli, by_api = _agency(api, "CLI Agentur"), _agency(api, "API Agentur")
    _import(api, database, path, by_cli, by_api)
    cli_rows, api_rows = _rows(api, by_cli.agency_id), _rows(api, by_api.agency_id)
    assert len(cli_rows) == 4  # the fifth row repeats the first's email
    assert cli_rows == api_rows
    [ann] = [r for r in api_rows if r["email"] == "ann@example.com"]
    assert (ann["phone"], ann["phone_raw"]) == (None, "ruf mich an")
    assert {r["phone"] for r in api_rows} >= {"+49301234567", "+33123456789"}
