"""What /api/v1 does with a person's record, leads and clients alike: the checks before a write (the owner
is a member, the custom fields fit the agency's definitions, the phone becomes E.164 in the agency's
region, the record keeps something to know the person by), then create, read, change, delete and list.
`crm/leads` and `crm/clients` add only what differs (their schemas, filters and sorts; a lead's tags)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from gardenos.crm.common import (
    IDENTITY,
    MAX_TAGS,
    InvalidField,
    Page,
    Sort,
    check_owner,
    fetch_one,
    fetch_page,
    no_identity,
)
from gardenos.crm.contacts import store
from gardenos.crm.contacts.agency import AgencyRules, agency_rules
from gardenos.crm.contacts.fields import CLIENT, LEAD, Kind
from gardenos.crm.contacts.schemas import ContactRecord
from gardenos.crm.custom_fields.service import check
from gardenos.crm.normalize import InvalidValue, normalize_email, normalize_phone
from gardenos.db.pool import Conn
from gardenos.errors import BadRequest, NotFound


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


# The tables whose rows follow the contact core's rules: what a door writing them directly must check first.
CONTACT_KINDS: dict[str, Kind] = {LEAD.table: LEAD, CLIENT.table: CLIENT}


async def direct_values(conn: Conn, table: str, rows: list[dict[str, Any]], default_region: str) -> None:
    """`rows` for a door that writes `table` directly (/rest/v1), held to the rules every other door's
    writes pass, in place: an email must be an address, a phone becomes E.164 in the agency's region
    (libphonenumber, so not in the database), custom fields fit the agency's definitions. The database
    tidies the text itself (migration 0024). A 4xx naming the field when a value breaks a rule."""
    kind = CONTACT_KINDS[table]
    for row in rows:
        if isinstance(row.get("email"), str):
            try:
                normalize_email(row["email"])
            except InvalidValue as exc:
                raise InvalidField(f"email: {exc}") from exc
        if row.get("custom_fields") is not None and not isinstance(row["custom_fields"], dict):
            raise InvalidField("custom_fields must be an object of field names and values")
    if not any(isinstance(row.get("phone"), str) or row.get("custom_fields") is not None for row in rows):
        return
    rules = await agency_rules(conn)
    for row in rows:
        if isinstance(row.get("phone"), str):
            row["phone"] = _phone(rules, row["phone"], default_region)
        if row.get("custom_fields") is not None:
            defined = getattr(rules.custom_fields, kind.table)
            row["custom_fields"] = check(defined, kind.table, row["custom_fields"])


async def new_values(conn: Conn, kind: Kind, values: dict[str, Any], default_region: str) -> dict[str, Any]:
    """`values` of a new record as they will be stored (custom_fields as a dict), or a 4xx saying why not."""
    await check_owner(conn, values.get("owner_id"))
    rules = await agency_rules(conn)
    return values | {
        "custom_fields": check(
            getattr(rules.custom_fields, kind.table), kind.table, values.get("custom_fields") or {}
        ),
        "phone": _phone(rules, values.get("phone"), default_region),
    }


async def changed_values(
    conn: Conn, kind: Kind, current: Mapping[str, Any], changes: dict[str, Any], default_region: str
) -> dict[str, Any]:
    """`changes` to `current` as they will be stored, or a 4xx saying why not."""
    if "owner_id" in changes:
        await check_owner(conn, changes["owner_id"])
    if "phone" in changes or "custom_fields" in changes:
        rules = await agency_rules(conn)
        if "phone" in changes:
            changes["phone"] = _phone(rules, changes["phone"], default_region)
        if "custom_fields" in changes:
            merged = current["custom_fields"] | changes["custom_fields"]
            changes["custom_fields"] = check(getattr(rules.custom_fields, kind.table), kind.table, merged)
    if all((changes[name] if name in changes else current[name]) is None for name in IDENTITY):
        raise InvalidField(no_identity(kind.singular))
    return changes


class Filters(Protocol):
    """What a kind's list filters have in common (crm/leads and crm/clients add their own)."""

    @property
    def limit(self) -> int: ...
    @property
    def cursor(self) -> str | None: ...
    @property
    def sort(self) -> str | None: ...
    @property
    def q(self) -> str | None: ...
    @property
    def tag(self) -> list[str] | None: ...
    def model_dump(self, *, exclude: set[str]) -> dict[str, Any]: ...


RecordT = TypeVar("RecordT", bound=ContactRecord)
PageT = TypeVar("PageT", bound=Page[Any])


@dataclass(frozen=True)
class Records(Generic[RecordT, PageT]):
    """One kind's records as /api/v1 serves them: its answer and page schemas and its list queries (one
    per sort, crm/<kind>/repository.py)."""

    kind: Kind
    record: type[RecordT]
    page: type[PageT]
    lists: Mapping[str, str]
    sorts: Mapping[str, Sort]

    @property
    def not_found(self) -> str:
        return f"{self.kind.singular} not found (or not in your agency)"

    async def create(self, conn: Conn, body: BaseModel, default_region: str) -> RecordT:
        values = await new_values(conn, self.kind, body.model_dump(), default_region)
        return self.record.model_validate(await store.insert(conn, self.kind, values))

    async def get(self, conn: Conn, record_id: uuid.UUID) -> RecordT:
        row = await fetch_one(conn, store.get_query(self.kind), (record_id,))
        if row is None:
            raise NotFound(self.not_found)
        return self.record.model_validate(row)

    async def update(
        self, conn: Conn, record_id: uuid.UUID, patch: BaseModel, default_region: str
    ) -> RecordT:
        """Only the fields sent change."""
        current = await fetch_one(conn, store.get_query(self.kind, lock=True), (record_id,))
        if current is None:
            raise NotFound(self.not_found)
        changes = patch.model_dump(exclude_unset=True)
        if not changes:
            return self.record.model_validate(current)
        changes = await changed_values(conn, self.kind, current, changes, default_region)
        row = await store.update(conn, self.kind, record_id, changes)
        assert row is not None  # locked above
        return self.record.model_validate(row)

    async def delete(self, conn: Conn, record_id: uuid.UUID) -> None:
        if await fetch_one(conn, store.delete_query(self.kind), (record_id,)) is None:
            raise NotFound(self.not_found)

    async def list(self, conn: Conn, filters: Filters) -> PageT:
        sort = self.sorts[filters.sort or ("relevance" if filters.q else "-created_at")]
        params = filters.model_dump(exclude={"limit", "cursor", "sort", "tag"}) | {"tags": filters.tag}
        rows, next_cursor = await fetch_page(conn, self.lists, sort, params, filters.cursor, filters.limit)
        return self.page(items=[self.record.model_validate(row) for row in rows], next_cursor=next_cursor)

    async def add_tag(self, conn: Conn, record_id: uuid.UUID, tag: str) -> RecordT:
        row = await fetch_one(
            conn, store.add_tag_query(self.kind), {"id": record_id, "tag": tag, "max": MAX_TAGS}
        )
        if row is not None:
            return self.record.model_validate(row)
        record = await self.get(conn, record_id)
        if tag not in record.tags:
            raise BadRequest(f"a {self.kind.singular} has at most {MAX_TAGS} tags: remove one first")
        return record

    async def remove_tag(self, conn: Conn, record_id: uuid.UUID, tag: str) -> RecordT:
        row = await fetch_one(conn, store.remove_tag_query(self.kind), {"id": record_id, "tag": tag})
        return self.record.model_validate(row) if row is not None else await self.get(conn, record_id)
