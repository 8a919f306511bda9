"""Duplicate rules a user would trust: the normalised email is who a person is; a shared phone alone only
makes a *possible* duplicate, listed for review; the rule is the agency's, or the import's."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from gardenos.errors import BadRequest
from tests.integration.importer.conftest import Tenant, leads_of, run
from tests.support import SessionDatabase

SWITCHBOARD = (
    "first_name,last_name,email,phone,company\n"
    "Ann,Lee,ann@acme.example,+49 30 1234567,Acme\n"
    "Bob,Kay,bob@acme.example,+49 30 1234567,Acme\n"
)


def _possible(database: SessionDatabase, import_id: object) -> list[tuple[object, ...]]:
    with psycopg.connect(database.owner_url) as conn:
        return conn.execute(
            "SELECT p.line_number, l.email, p.match_kind, m.email, p.reason "
            "FROM import_possible_duplicates p JOIN leads l ON l.id = p.lead_id "
            "LEFT JOIN leads m ON m.id = p.match_id WHERE p.import_id = %s ORDER BY p.line_number",
            (import_id,),
        ).fetchall()


def test_two_people_sharing_a_switchboard_phone_are_both_imported_and_listed(
    database: SessionDatabase, tenant: Tenant, api_conn: psycopg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "switchboard.csv"
    path.write_text(SWITCHBOARD)
    outcome = run(api_conn, tenant, path)
    assert (outcome.counts.inserted, outcome.counts.duplicate) == (2, 0)
    assert outcome.counts.possible_duplicate == 1
    assert [r[2] for r in leads_of(database, tenant)] == ["ann@acme.example", "bob@acme.example"]
    assert _possible(database, outcome.import_id) == [
        (3, "bob@acme.example", "lead", "ann@acme.example", "phone")
    ]


def test_even_the_phone_rule_keeps_two_different_emails_apart(
    database: SessionDatabase, tenant: Tenant, api_conn: psycopg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "switchboard.csv"
    path.write_text(SWITCHBOARD)
    outcome = run(api_conn, tenant, path, match="email_or_phone")
    assert (outcome.counts.inserted, outcome.counts.possible_duplicate) == (2, 1)


def test_a_phone_match_without_email_on_one_side_is_possible_by_default_and_a_duplicate_by_phone(
    database: SessionDatabase, tenant: Tenant, api_conn: psycopg.Connection, tmp_path: Path
) -> None:
    with psycopg.connect(database.owner_url) as conn:
        conn.execute(
            "INSERT INTO leads (agency_id, first_name, phone) VALUES (%s, 'Desk', '+12125550150')",
            (tenant.id,),
        )
    path = tmp_path / "people.csv"
    path.write_text("first_name,email,phone\nPat,pat@example.com,(212) 555-0150\n")
    by_email = run(api_conn, tenant, path, on_duplicate="skip", dry_run=True, default_region="US")
    assert (by_email.counts.inserted, by_email.counts.possible_duplicate) == (1, 1)
    by_phone = run(api_conn, tenant, path, on_duplicate="merge", match="phone", default_region="US")
    assert (by_phone.counts.inserted, by_phone.counts.updated) == (0, 1)
    rows = leads_of(database, tenant)
    assert [(r[0], r[2]) for r in rows] == [("Desk", "pat@example.com")]  # merged: the gap filled


def test_name_and_company_and_a_list_of_rules(
    database: SessionDatabase, tenant: Tenant, api_conn: psycopg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "names.csv"
    path.write_text(
        "first_name,last_name,company,email\n"
        "Zoë,Müller,Acme GmbH,\n"
        "ZOË,MÜLLER,acme gmbh,zoe@acme.example\n"
        "Zoë,Müller,Other AG,\n"
    )
    by_email = run(api_conn, tenant, path, dry_run=True)
    assert by_email.counts.inserted == 3
    both = run(api_conn, tenant, path, match=["email", "name_and_company"])
    assert (both.counts.inserted, both.counts.duplicate) == (2, 1)


def test_the_agencys_rule_applies_unless_the_import_names_one(
    database: SessionDatabase, tenant: Tenant, api_conn: psycopg.Connection, tmp_path: Path
) -> None:
    with psycopg.connect(database.owner_url) as conn:
        conn.execute(
            'UPDATE agencies SET settings = settings || \'{"duplicate_rule": "phone"}\' WHERE id = %s',
            (tenant.id,),
        )
    path = tmp_path / "phones.csv"
    path.write_text("first_name,phone\nAnn,+49 30 1234567\nBob,+49 30 1234567\n")
    agency_rule = run(api_conn, tenant, path, dry_run=True)
    assert (agency_rule.counts.inserted, agency_rule.counts.duplicate) == (1, 1)
    named = run(api_conn, tenant, path, dry_run=True, match="email")
    assert (named.counts.inserted, named.counts.possible_duplicate) == (2, 1)


def test_a_rule_that_does_not_exist_is_refused(
    database: SessionDatabase, tenant: Tenant, api_conn: psycopg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "x.csv"
    path.write_text("email\na@example.com\n")
    with pytest.raises(BadRequest, match="email_or_phone"):
        run(api_conn, tenant, path, match="fuzzy")
    with psycopg.connect(database.owner_url) as conn, pytest.raises(psycopg.errors.CheckViolation):
        conn.execute(
            'UPDATE agencies SET settings = settings || \'{"duplicate_rule": "fuzzy"}\' WHERE id = %s',
            (tenant.id,),
        )


def test_a_valid_email_with_an_unreadable_phone_imports_with_a_warning(
    database: SessionDatabase, tenant: Tenant, api_conn: psycopg.Connection, tmp_path: Path
) -> None:
    path = tmp_path / "phones.csv"
    path.write_text("first_name,email,phone\nAnn,ann@example.com,call the front desk\n")
    outcome = run(api_conn, tenant, path)
    assert (outcome.counts.inserted, outcome.counts.invalid, outcome.counts.warned) == (1, 0, 1)
    with psycopg.connect(database.owner_url) as conn:
        lead = conn.execute(
            "SELECT email, phone, phone_raw FROM leads WHERE agency_id = %s", (tenant.id,)
        ).fetchone()
        warnings = conn.execute(
            "SELECT line_number, column_name, level, reason FROM import_errors WHERE import_id = %s",
            (outcome.import_id,),
        ).fetchall()
    assert lead == ("ann@example.com", None, "call the front desk")
    assert [w[:3] for w in warnings] == [(2, "phone", "warning")]
    assert "kept as written" in warnings[0][3]


def test_unmatched_columns_become_text_custom_fields_of_the_agency(
    database: SessionDatabase, tenant: Tenant, api_conn: psycopg.Connection, tmp_path: Path
) -> None:
    with psycopg.connect(database.owner_url) as conn:
        conn.execute(
            "UPDATE agencies SET settings = settings || "
            '\'{"custom_fields": {"leads": {"tier": {"type": "select", "options": ["a", "b"]}}}}\' '
            "WHERE id = %s",
            (tenant.id,),
        )
    path = tmp_path / "custom.csv"
    path.write_text("email,Kunden-Nr,tier,2nd Line\nann@example.com,K-17,a,x\n")
    outcome = run(api_conn, tenant, path)
    assert outcome.counts.inserted == 1
    # A header that starts with a digit still names a field the definitions allow.
    assert outcome.detected["custom_fields_defined"] == ["field_2nd_line", "kunden_nr"]
    with psycopg.connect(database.owner_url) as conn:
        row = conn.execute(
            "SELECT settings -> 'custom_fields' -> 'leads' FROM agencies WHERE id = %s", (tenant.id,)
        ).fetchone()
    assert row is not None
    assert row[0]["kunden_nr"] == {"type": "text"}
    assert row[0]["tier"]["type"] == "select"  # what was defined stays as it was
