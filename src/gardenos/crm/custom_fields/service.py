"""Reading and replacing the definitions, and checking a record's `custom_fields` against them.

Values are checked when they are written: changing a definition does not touch stored records, and a
record whose old values no longer fit is only refused when its `custom_fields` are written again.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any, Literal

from psycopg.types.json import Jsonb

from gardenos.crm.common import InvalidField, fetch_one
from gardenos.crm.contacts.agency import agency_rules
from gardenos.crm.custom_fields import repository as repo
from gardenos.crm.custom_fields.schemas import CustomFieldDefinitions, FieldDefinition
from gardenos.db.pool import Conn
from gardenos.errors import Forbidden

Entity = Literal["leads", "clients"]
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
CHANGE_HINT = "owners and admins change the definitions with PUT /api/v1/custom-fields"


async def definitions(conn: Conn) -> CustomFieldDefinitions:
    return (await agency_rules(conn)).custom_fields


async def replace_definitions(conn: Conn, new: CustomFieldDefinitions) -> CustomFieldDefinitions:
    row = await fetch_one(conn, repo.SET_DEFINITIONS, (Jsonb(new.model_dump(exclude_none=True)),))
    if row is None:
        # The policy `agencies_admin_update` decides, from the caller's membership as it is now (the
        # token's role may be an hour old).
        raise Forbidden("only the agency's owners and admins can change custom field definitions")
    return CustomFieldDefinitions.model_validate(row["definitions"])


def check(defined: dict[str, FieldDefinition], entity: Entity, values: dict[str, Any]) -> dict[str, Any]:
    """`values` as they will be stored (nulls dropped), or a 422 naming the field and the problem; the
    definitions come with the agency's other rules (crm/contacts/agency.py)."""
    present = {name: value for name, value in values.items() if value is not None}
    if not defined:
        return present  # no definitions: free-form, as before the agency made any
    unknown = sorted(set(present) - set(defined))
    if unknown:
        raise InvalidField(
            f"custom field {unknown[0]!r} is not defined for {entity}; defined: "
            f"{', '.join(sorted(defined))} ({CHANGE_HINT})"
        )
    for name, definition in defined.items():
        if name not in present:
            if definition.required:
                raise InvalidField(f"custom field {name!r} is required for {entity}")
            continue
        problem = _problem(definition, present[name])
        if problem:
            raise InvalidField(f"custom field {name!r}: {problem}")
    return present


def _problem(definition: FieldDefinition, value: Any) -> str | None:
    """What is wrong with `value` for `definition`, or None."""
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    match definition.type:
        case "text":
            if not isinstance(value, str):
                return f"expected text, got {shown}"
            if definition.max_length is not None and len(value) > definition.max_length:
                return f"at most {definition.max_length} characters, got {len(value)}"
        case "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                return f"expected a number, got {shown}"
        case "boolean":
            if not isinstance(value, bool):
                return f"expected true or false, got {shown}"
        case "date":
            if not isinstance(value, str) or not ISO_DATE.fullmatch(value):
                return f"expected a date as YYYY-MM-DD, got {shown}"
            try:
                date.fromisoformat(value)
            except ValueError:
                return f"{value!r} is not a date in the calendar"
        case "select":
            assert definition.options is not None
            if value not in definition.options:
                return f"expected one of {', '.join(map(repr, definition.options))}, got {shown}"
    return None
