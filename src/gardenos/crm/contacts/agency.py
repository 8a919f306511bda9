"""The agency's rules for its people records, read in one statement per write: the phone region, the
custom field definitions and the duplicate rule all live in `agencies.settings`, so one read of that row
serves a whole request (it used to be read once per rule)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gardenos.crm.common import fetch_one
from gardenos.crm.contacts.rules import DuplicateRule, stored_rule
from gardenos.crm.custom_fields.schemas import CustomFieldDefinitions
from gardenos.db.pool import Conn

# Run as the caller: RLS and auth.agency_id() (the membership as it is now) decide which agency this is.
AGENCY_RULES = """
SELECT upper(a.settings ->> 'phone_region') AS phone_region,
    coalesce(a.settings -> 'custom_fields', '{}') AS custom_fields,
    a.settings -> 'duplicate_rule' AS duplicate_rule
FROM public.agencies a WHERE a.id = (SELECT auth.agency_id())
"""


@dataclass(frozen=True)
class AgencyRules:
    phone_region: str | None
    custom_fields: CustomFieldDefinitions
    duplicate_rule: DuplicateRule

    @classmethod
    def from_row(cls, row: dict[str, Any] | None) -> AgencyRules:
        row = row or {}
        stored = row.get("custom_fields") or {}
        # Stored before validation existed, or by hand: what does not parse counts as no definition.
        try:
            definitions = CustomFieldDefinitions.model_validate(stored)
        except ValueError:
            definitions = CustomFieldDefinitions()
        return cls(row.get("phone_region") or None, definitions, stored_rule(row.get("duplicate_rule")))


async def agency_rules(conn: Conn) -> AgencyRules:
    return AgencyRules.from_row(await fetch_one(conn, AGENCY_RULES))
