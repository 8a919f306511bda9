"""One person as people type them, and the one row every door must store for them.

Every write path (POST /api/v1/leads, POST /rest/v1/leads through the official client, an agent's update,
conversion, and a CSV through the CLI or POST /api/v1/imports) is tested against `EXPECTED`: when a door
stores something else for the same person, that door has its own rule, which is the bug.
"""

from __future__ import annotations

from typing import Any

import psycopg

# The agency's own rules: numbers without a country code are German, and one custom field per entity.
REGION = "DE"
CUSTOM_FIELDS = {
    "leads": {"kunden_nr": {"type": "text", "label": "Kunden-Nr"}},
    "clients": {"kunden_nr": {"type": "text", "label": "Kunden-Nr"}},
}

# As typed into a form (or a supabase-js call): shouted and padded names, an email with capitals and
# spaces around it, a national phone number, a tag repeated and padded.
TYPED: dict[str, Any] = {
    "first_name": "  ZOË   ANNA ",
    "last_name": " MÜLLER-LÜDENSCHEIDT ",
    "email": "  Zoe.Mueller@Example.DE ",
    "phone": "030 1234567",
    "company": "  Bäckerei   Größe ",
    "city": " Berlin ",
    "source": "trade show",
    "tags": [" vip", "b2b ", "vip"],
    "custom_fields": {"kunden_nr": "K-1"},
}
# The same person as a line of a CSV export (the importer reads `Kunden-Nr` as the custom field above).
CSV_HEADER = "Vorname;Nachname;E-Mail;Telefon;Firma;Stadt;Quelle;Tags;Kunden-Nr"
CSV_LINE = ";".join(
    [
        " ZOË   ANNA ",
        " MÜLLER-LÜDENSCHEIDT ",
        "  Zoe.Mueller@Example.DE ",
        "030 1234567",
        "  Bäckerei   Größe ",
        " Berlin ",
        "trade show",
        " vip, b2b , vip",
        "K-1",
    ]
)

# What every door stores: names trimmed, their inner spaces collapsed and de-shouted; the email trimmed
# with its domain lower-cased; the phone in E.164 in the agency's region; tags trimmed and unique.
EXPECTED: dict[str, Any] = {
    "first_name": "Zoë Anna",
    "last_name": "Müller-Lüdenscheidt",
    "email": "Zoe.Mueller@example.de",
    "email_normalized": "zoe.mueller@example.de",
    "phone": "+49301234567",
    "phone_normalized": "+49301234567",
    "phone_raw": None,
    "company": "Bäckerei Größe",
    "job_title": None,
    "website": None,
    "city": "Berlin",
    "country": None,
    "owner_id": None,
    "tags": ["vip", "b2b"],
    "custom_fields": {"kunden_nr": "K-1"},
    "notes": None,
    "last_activity_at": None,
}
LEAD = EXPECTED | {"source": "trade show", "status": "new", "score": None, "estimated_value": None}
# A client made from the lead: the person as above; what is the client's own starts anew.
CLIENT = EXPECTED | {"status": "active", "lifetime_value": 0}

# Who and when (and the keys derived from the row for search), not what: may differ between doors.
NOT_COMPARED = frozenset(
    {"id", "agency_id", "lead_id", "import_id", "created_at", "updated_at", "converted_at", "search_vector"}
)


def set_rules(owner_url: str, agency_id: str) -> None:
    """The agency's region and custom field definitions, written as its owner would through settings."""
    with psycopg.connect(owner_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE agencies SET settings = settings || jsonb_build_object("
            "'phone_region', %s::text, 'custom_fields', %s::jsonb) WHERE id = %s",
            (REGION, psycopg.types.json.Jsonb(CUSTOM_FIELDS), agency_id),
        )


def stored(owner_url: str, table: str, agency_id: str) -> list[dict[str, Any]]:
    """The agency's rows of `table` as stored, read as superuser, without what may differ."""
    assert table in ("leads", "clients")
    with psycopg.connect(owner_url) as conn:
        rows = conn.execute(
            f"SELECT to_jsonb(t) FROM public.{table} t WHERE agency_id = %s ORDER BY created_at, id",
            (agency_id,),
        ).fetchall()
    return [{k: v for k, v in r[0].items() if k not in NOT_COMPARED} for r in rows]
