"""Imports into a real PostgreSQL, as the API's own login role under row-level security: the corpus, dedupe
within the file and against existing leads and clients, the policies, re-import, embedding jobs,
isolation between agencies."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from gardenos.errors import BadRequest
from tests.integration.importer.conftest import Tenant, leads_of, make_tenant, run
from tests.support import SessionDatabase
from tests.unit.importer.corpus import DATA

EXPECTED = json.loads((DATA / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if "error" not in e))
def test_corpus_files_import_as_expected(
    name: str, database: SessionDatabase, tenant: Tenant, api_conn: psycopg.Connection, tmp_path: Path
) -> None:
    expected = EXPECTED[name]
    outcome = run(api_conn, tenant, DATA / name, errors_dir=tmp_path, default_region="DE")
    counts = outcome.counts
    assert (counts.total, counts.invalid) == (expected["total"], expected["invalid"])
    assert counts.inserted == expected["total"] - expected["invalid"] - expected.get("duplicate", 0)
    rows = leads_of(database, tenant)
    assert len(rows) == counts.inserted
    if "name" in expected:
        assert any(" ".join(filter(None, r[:2])).endswith(expected["name"].split(" ")[-1]) for r in rows)
    if counts.invalid:
        assert outcome.errors_file is not None
        assert len(outcome.errors_file.read_text().splitlines()) >= counts.invalid + 1
    with psycopg.connect(database.owner_url) as conn:
        stored = conn.execute(
            "SELECT status, rows_total, rows_imported, rows_invalid FROM imports WHERE id = %s",
            (outcome.import_id,),
        ).fetchone()
        errors = conn.execute(
            "SELECT count(*) FROM import_errors WHERE import_id = %s AND level = 'error'",
            (outcome.import_id,),
        ).fetchone()
    assert stored == ("succeeded", counts.total, counts.inserted, counts.invalid)
    assert errors == (counts.invalid,)


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if "error" in e))
def test_unimportable_files_fail_cleanly(
    name: str, database: SessionDatabase, tenant: Tenant, api_conn: psycopg.Connection
) -> None:
    with pytest.raises(BadRequest, match=EXPECTED[name]["error"]):
        run(api_conn, tenant, DATA / name)
    assert leads_of(database, tenant) == []
    with psycopg.connect(database.owner_url) as conn:
        rows = conn.execute("SELECT status, error FROM imports WHERE agency_id = %s", (tenant.id,)).fetchall()
    assert [r[0] for r in rows] == ["failed"]
    assert EXPECTED[name]["error"] in rows[0][1]


def test_reimporting_the_same_file_creates_nothing_new(
    database: SessionDatabase, tenant: Tenant, api_conn: psycopg.Connection
) -> None:
    first = run(api_conn, tenant, DATA / "utf8.csv")
    again = run(api_conn, tenant, DATA / "utf8.csv")
    assert first.counts.inserted == 3
    assert (again.counts.inserted, again.counts.duplicate) == (0, 3)
    assert len(leads_of(database, tenant)) == 3


def test_duplicates_of_existing_leads_and_clients_by_email_and_phone(
    database: SessionDatabase, tenant: Tenant, api_conn: psycopg.Connection, tmp_path: Path
) -> None:
    with psycopg.connect(database.owner_url) as conn:
        # Stored as typed by hand: national format, upper-case email.
        conn.execute(
            "INSERT INTO leads (agency_id, first_name, email, phone, company, notes) VALUES "
            "(%s, 'Old', 'ANN@EXAMPLE.COM', NULL, NULL, 'met at a fair'), "
            "(%s, 'Phone', NULL, '(212) 555-0150', 'Kept Co', NULL)",
            (tenant.id, tenant.id),
        )
        conn.execute(
            "INSERT INTO clients (agency_id, first_name, email) VALUES (%s, 'Client', 'cli@example.com')",
            (tenant.id,),
        )
    path = tmp_path / "people.csv"
    path.write_text(
        "first_name,last_name,email,phone,company,notes\n"
        "Ann,Lee,ann@example.com,,Ann Co,new note\n"
        "Pat,Phone,,+1 212 555 0150,New Co,\n"
        "Cli,Ent,cli@example.com,,,\n"
        "Neu,Person,neu@example.com,,,\n"
    )
    # Matching by phone too: a phone shared with a lead that has no email is the same person.
    skip = run(api_conn, tenant, path, on_duplicate="skip", match="email_or_phone")
    assert (skip.counts.inserted, skip.counts.updated, skip.counts.duplicate) == (1, 0, 3)
    merge = run(api_conn, tenant, path, on_duplicate="merge", match="email_or_phone")
    # The new person of the first run is a lead now; the client is never changed.
    assert (merge.counts.inserted, merge.counts.updated, merge.counts.duplicate) == (0, 3, 1)
    rows = {r[0]: r for r in leads_of(database, tenant)}
    # Gaps filled, values kept (the email as stored: its domain lower-cased by the database).
    assert rows["Old"][1:5] == ("Lee", "ANN@example.com", None, "Ann Co")
    assert rows["Phone"][4] == "Kept Co"
    assert _notes(database, tenant) == "met at a fair\n\nnew note"
    update = run(api_conn, tenant, path, on_duplicate="update", match="email_or_phone")
    assert update.counts.updated == 3
    rows = {r[1]: r for r in leads_of(database, tenant)}
    assert rows["Lee"][:3] == ("Ann", "Lee", "ann@example.com")
    assert rows["Phone"][4] == "New Co"
    with psycopg.connect(database.owner_url) as conn:
        clients = conn.execute("SELECT count(*) FROM clients WHERE agency_id = %s", (tenant.id,)).fetchone()
    assert clients == (1,)
    assert _notes(database, tenant) == "new note"


def _notes(database: SessionDatabase, tenant: Tenant) -> str | None:
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute(
            "SELECT notes FROM leads WHERE agency_id = %s AND last_name = 'Lee'", (tenant.id,)
        ).fetchone()
    return row[0] if row else None


def test_embedding_jobs_are_queued_with_the_leads(
    database: SessionDatabase, tenant: Tenant, api_conn: psycopg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "many.csv"
    path.write_text("email\n" + "".join(f"p{i}@example.com\n" for i in range(2500)))
    outcome = run(api_conn, tenant, path)
    assert outcome.counts.inserted == 2500
    with psycopg.connect(database.owner_url) as conn:
        tasks = conn.execute(
            "SELECT agent_type, priority, payload FROM agent_tasks WHERE agency_id = %s "
            "AND payload->>'subject' = 'lead' ORDER BY idempotency_key",
            (tenant.id,),
        ).fetchall()
        ids = {str(r[0]) for r in conn.execute("SELECT id FROM leads WHERE agency_id = %s", (tenant.id,))}
    assert [len(t[2]["ids"]) for t in tasks] == [1000, 1000, 500]
    assert {(t[0], t[1]) for t in tasks} == {("embed", 2)}
    assert {i for t in tasks for i in t[2]["ids"]} == ids


def test_dry_run_keeps_nothing(
    database: SessionDatabase, tenant: Tenant, api_conn: psycopg.Connection, tmp_path: Path
) -> None:
    outcome = run(api_conn, tenant, DATA / "dirty.csv", errors_dir=tmp_path, dry_run=True)
    assert (outcome.counts.inserted, outcome.counts.invalid, outcome.counts.warned) == (2, 4, 1)
    assert outcome.errors_file is not None
    assert leads_of(database, tenant) == []
    with psycopg.connect(database.owner_url) as conn:
        assert conn.execute("SELECT count(*) FROM imports WHERE agency_id = %s", (tenant.id,)).fetchone() == (
            0,
        )


def test_an_import_never_touches_another_agency(
    database: SessionDatabase, tenant: Tenant, api_conn: psycopg.Connection
) -> None:
    other = make_tenant(database)
    run(api_conn, other, DATA / "utf8.csv")
    before = leads_of(database, other)
    # The same people are new to this agency: the other's leads are neither seen nor changed.
    outcome = run(api_conn, tenant, DATA / "utf8.csv", on_duplicate="update")
    assert (outcome.counts.inserted, outcome.counts.duplicate, outcome.counts.updated) == (3, 0, 0)
    assert leads_of(database, other) == before
    with api_conn.transaction(force_rollback=True):
        api_conn.execute(
            "SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
            (json.dumps(tenant.claims),),
        )
        seen = api_conn.execute("SELECT count(*) FROM imports").fetchone()
        errors = api_conn.execute("SELECT count(*) FROM leads WHERE agency_id = %s", (other.id,)).fetchone()
    assert seen == (1,)
    assert errors == (0,)
