"""The one way /api/v1 checks a person's fields before leads or clients store them: the owner is a member,
the custom fields fit the agency's definitions, the phone becomes E.164 in the agency's region, and the
record keeps something to know the person by. `crm/leads` and `crm/clients` add only what differs."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from gardenos.crm.common import IDENTITY, InvalidField, check_owner, no_identity
from gardenos.crm.contacts.agency import AgencyRules, agency_rules
from gardenos.crm.custom_fields.service import check
from gardenos.crm.normalize import InvalidValue, normalize_phone
from gardenos.db.pool import Conn

Entity = Literal["leads", "clients"]
SINGULAR = {"leads": "lead", "clients": "client"}


def _phone(rules: AgencyRules, phone: str | None, default_region: str) -> str | None:
    """E.164, read in the agency's region (`settings.phone_region`, e.g. "GB") or else
    GARDENOS_DEFAULT_PHONE_REGION: "020 7946 0958" and "+44 20 7946 0958" become one number."""
    if phone is None:
        return None
    try:
        return normalize_phone(phone, rules.phone_region or default_region)
    except InvalidValue as exc:
        raise InvalidField(f"phone: {exc}") from exc


async def phone(conn: Conn, value: str | None, default_region: str) -> str | None:
    """`value` in E.164 by the agency's region, for a door that writes a phone without the rest of
    `new_values` (a conversion's override); a 4xx when it is not a phone number."""
    return _phone(await agency_rules(conn), value, default_region)


async def new_values(
    conn: Conn, entity: Entity, values: dict[str, Any], default_region: str
) -> dict[str, Any]:
    """`values` of a new record as they will be stored (custom_fields as a dict), or a 4xx saying why not."""
    await check_owner(conn, values.get("owner_id"))
    rules = await agency_rules(conn)
    return values | {
        "custom_fields": check(
            getattr(rules.custom_fields, entity), entity, values.get("custom_fields") or {}
        ),
        "phone": _phone(rules, values.get("phone"), default_region),
    }


async def changed_values(
    conn: Conn,
    entity: Entity,
    current: dict[str, Any],
    changes: dict[str, Any],
    owner_id: uuid.UUID | None,
    default_region: str,
) -> dict[str, Any]:
    """`changes` to `current` as they will be stored, or a 4xx saying why not."""
    if "owner_id" in changes:
        await check_owner(conn, owner_id)
    if "phone" in changes or "custom_fields" in changes:
        rules = await agency_rules(conn)
        if "phone" in changes:
            changes["phone"] = _phone(rules, changes["phone"], default_region)
        if "custom_fields" in changes:
            merged = current["custom_fields"] | changes["custom_fields"]
            changes["custom_fields"] = check(getattr(rules.custom_fields, entity), entity, merged)
    if all((changes[name] if name in changes else current[name]) is None for name in IDENTITY):
        raise InvalidField(no_identity(SINGULAR[entity]))
    return changes
