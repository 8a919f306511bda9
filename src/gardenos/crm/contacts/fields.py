"""The columns of a people record (lead or client), written once: every SELECT, INSERT, UPDATE and COPY of
leads and clients (crm/, agents/, importer/, demo/) is composed from these tuples, so a new column is
added here and nowhere else.

A lead and a client share the person (`PERSON`) and what the agency keeps about them (`KEPT`); each kind
adds its own columns (a lead's source, score and estimated value; a client's lifetime value and the lead
it came from)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from psycopg import sql

# Who the person is and where they work: what conversion copies and the importer reads from a file.
PERSON = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "job_title",
    "website",
    "city",
    "country",
)
# A record keeps at least one of these (the tables' `…_has_identity` checks).
IDENTITY = ("first_name", "last_name", "email", "phone", "company")
# What the agency keeps about the person, whatever the kind.
KEPT = ("status", "owner_id", "tags", "custom_fields", "notes")
# Set by the database or by the record's history, never by a request body.
STAMPS = ("last_activity_at", "converted_at", "created_at", "updated_at")


@dataclass(frozen=True)
class Kind:
    """One kind of people record: its table, the alias its SQL uses, and its own columns."""

    table: Literal["leads", "clients"]
    alias: str
    singular: str
    own: tuple[str, ...]  # the kind's columns a request body may set
    linked: tuple[str, ...] = ()  # the kind's columns only the server sets (a client's lead)

    @property
    def writable(self) -> tuple[str, ...]:
        """What a body may set (POST, PATCH)."""
        return PERSON + KEPT + self.own

    @property
    def columns(self) -> tuple[str, ...]:
        """What an answer shows."""
        return ("id", *self.linked, *self.writable, *STAMPS)

    @property
    def insertable(self) -> tuple[str, ...]:
        """What the server itself may set on top of a body (conversion: the lead, its last activity)."""
        return (*self.writable, *self.linked, "last_activity_at", "converted_at")

    @property
    def name(self) -> sql.Identifier:
        return sql.Identifier("public", self.table)

    def select_list(self, names: Iterable[str] | None = None, alias: str | None = None) -> sql.Composed:
        """`a.col, …` for the names given (the kind's answer columns by default)."""
        return column_list(self.columns if names is None else names, alias or self.alias)


LEAD = Kind("leads", "l", "lead", own=("source", "score", "estimated_value"))
CLIENT = Kind("clients", "c", "client", own=("lifetime_value",), linked=("lead_id",))
KINDS = {"lead": LEAD, "client": CLIENT}


def column_list(names: Iterable[str], alias: str | None = None) -> sql.Composed:
    """`a.x, a.y` (or `x, y` without an alias), quoted."""
    if alias is None:
        return sql.SQL(", ").join(sql.Identifier(n) for n in names)
    return sql.SQL(", ").join(sql.Identifier(alias, n) for n in names)


def text(query: sql.Composable) -> str:
    """The composed statement as the text the modules keep as constants (identifiers need no connection
    to be quoted)."""
    return query.as_string()
