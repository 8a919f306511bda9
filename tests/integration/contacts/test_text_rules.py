"""The database's text rules for people records (migration 0024): names, emails, tags and short texts,
applied on every write whichever door it comes through; and the email's normal form agreeing with the
Python check the doors run first (crm/normalize.py)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gardenos.crm.normalize import InvalidEmail, normalize_email
from tests.support import SessionDatabase


@pytest.fixture(scope="module")
def conn(database: SessionDatabase) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database.owner_url, autocommit=True) as conn:
        yield conn


def _call(conn: psycopg.Connection, function: str, value: str) -> str | None:
    row = conn.execute(f"SELECT gardenos.{function}(%s)", (value,)).fetchone()
    assert row is not None
    return row[0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("JOHN SMITH", "John Smith"),
        ("  John   Smith ", "John Smith"),
        ("MCDONALD", "McDonald"),
        ("McDonald", "McDonald"),
        ("VAN DER BERG", "van der Berg"),
        ("JAN VAN DER BERG", "Jan van der Berg"),
        ("van der Berg", "van der Berg"),
        ("O'BRIEN", "O'Brien"),
        ("D’ANGELO", "D’Angelo"),
        ("ZOË MÜLLER-ŁUKASIEWICZ", "Zoë Müller-Łukasiewicz"),
        ("Zoë Müller-Łukasiewicz", "Zoë Müller-Łukasiewicz"),
        ("\tZOË\u00a0 ANNA\n", "Zoë Anna"),
        ("J", "J"),
        ("J.", "J."),
        ("   ", None),
    ],
)
def test_names(conn: psycopg.Connection, raw: str, expected: str | None) -> None:
    assert _call(conn, "person_name", raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "John.Doe@EXAMPLE.COM",
        "  anna@example.de ",
        "<x@y.org>",
        "mailto:x@Example.org",
        " mailto: <Zoe@Example.DE> ",
        "zoë@bücher.de",
        "x@Bücher.DE",
        "x@example.com.",
        "\tZoe.Mueller@Example.DE\n",
    ],
)
def test_the_stored_email_is_the_one_the_doors_check(conn: psycopg.Connection, raw: str) -> None:
    assert _call(conn, "email_address", raw) == normalize_email(raw)


@settings(max_examples=300, deadline=None)
@given(
    local=st.from_regex(r"[A-Za-z0-9._%+-]{1,20}", fullmatch=True),
    domain=st.from_regex(r"[A-Za-z0-9-]{1,12}\.[A-Za-z]{2,6}", fullmatch=True),
    pad=st.sampled_from(["", " ", "  \t", "\n"]),
)
def test_emails_agree_on_any_valid_address(
    conn: psycopg.Connection, local: str, domain: str, pad: str
) -> None:
    raw = f"{pad}{local}@{domain}{pad}"
    try:
        expected = normalize_email(raw)
    except InvalidEmail:
        return
    assert _call(conn, "email_address", raw) == expected


def test_a_write_as_sent_to_rest_v1_is_tidied(conn: psycopg.Connection) -> None:
    # As the owner, straight into the table: what /rest/v1 does as a member (the rules are the table's).
    with conn.transaction():
        agency = conn.execute(
            "INSERT INTO agencies (name, slug) VALUES ('Tidy', 'tidy-' || gen_random_uuid()) RETURNING id"
        ).fetchone()
        assert agency is not None
        row = conn.execute(
            "INSERT INTO leads (agency_id, first_name, last_name, email, company, tags) "
            "VALUES (%s, '  ANN ', '', ' Ann@Example.COM ', ' Acme   GmbH', %s) "
            "RETURNING first_name, last_name, email, company, tags",
            (agency[0], [" a", "b ", "a", " "]),
        ).fetchone()
        assert row == ("Ann", None, "Ann@example.com", "Acme GmbH", ["a", "b"])
        # No white space to tidy (the trigger's quick path): still de-shouted, the domain still lower.
        row = conn.execute(
            "INSERT INTO leads (agency_id, first_name, last_name, email, tags) "
            "VALUES (%s, 'BO', 'McDonald', 'mailto:Bo@Example.COM', '{x}') "
            "RETURNING first_name, last_name, email, tags",
            (agency[0],),
        ).fetchone()
        assert row == ("Bo", "McDonald", "Bo@example.com", ["x"])
        updated = conn.execute(
            "UPDATE leads SET first_name = 'BOB  O''NEIL', score = 3 "
            "WHERE agency_id = %s AND last_name IS NULL RETURNING first_name",
            (agency[0],),
        ).fetchone()
        assert updated == ("Bob O'Neil",)
        raise psycopg.Rollback  # nothing of this test stays


# Letters in both cases, an email's marks, and white space of three kinds.
_TEXT = st.text(alphabet=st.sampled_from([*"aZÉß@.<>':", " ", "\t", "\u00a0"]))


@settings(max_examples=300, deadline=None)
@given(
    texts=st.lists(
        st.one_of(st.none(), _TEXT, st.sampled_from(["mailto:A@B.c", "JO", "Ann", "x@y.org."])),
        min_size=9,
        max_size=9,
    ),
    tags=st.lists(st.one_of(st.none(), _TEXT), max_size=3),
)
def test_a_row_the_trigger_skips_is_one_the_rules_keep(
    conn: psycopg.Connection, texts: list[str | None], tags: list[str | None]
) -> None:
    # The trigger runs only WHEN gardenos.untidy_contact says a row needs the rules (migration 0025):
    # every row it lets through untouched must be one that every rule, applied to every field, would
    # have stored as it is. (Seen failing with the email's check left out of untidy_contact.)
    row = conn.execute(
        "SELECT gardenos.untidy_contact(t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], tags), "
        "ARRAY[gardenos.person_name(t[1]), gardenos.person_name(t[2]), gardenos.email_address(t[3])]"
        "  || ARRAY(SELECT gardenos.tidy_text(x) FROM unnest(t[4:9]) WITH ORDINALITY AS u (x, n) "
        "    ORDER BY n), "
        "gardenos.tidy_tags(tags) "
        "FROM (SELECT %s::text[] AS t, %s::text[] AS tags) v",
        (texts, tags),
    ).fetchone()
    assert row is not None
    untidy, tidied, tidied_tags = row
    if untidy is not True:
        assert tidied == texts
        assert tidied_tags == tags
