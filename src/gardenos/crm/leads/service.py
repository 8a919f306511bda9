"""Leads: create, read, change, delete, list and search; tags."""

from __future__ import annotations

import uuid

from psycopg.types.json import Jsonb

from gardenos.crm.common import (
    fetch_one,
    fetch_page,
)
from gardenos.crm.contacts import service as contacts
from gardenos.crm.leads import repository as repo
from gardenos.crm.leads.schemas import (
    Lead,
    LeadFilters,
    LeadPage,
    LeadPatch,
    NewLead,
)
from gardenos.db.pool import Conn
from gardenos.errors import BadRequest, NotFound

NOT_FOUND = "lead not found (or not in your agency)"
MAX_TAGS = 100


async def create(conn: Conn, body: NewLead, phone_region: str) -> Lead:
    values = await contacts.new_values(conn, "leads", body.model_dump(), phone_region)
    row = await fetch_one(conn, repo.INSERT, values | {"custom_fields": Jsonb(values["custom_fields"])})
    assert row is not None
    return Lead.model_validate(row)


async def get(conn: Conn, lead_id: uuid.UUID) -> Lead:
    row = await fetch_one(conn, repo.GET, (lead_id,))
    if row is None:
        raise NotFound(NOT_FOUND)
    return Lead.model_validate(row)


async def update(conn: Conn, lead_id: uuid.UUID, patch: LeadPatch, phone_region: str) -> Lead:
    current = await fetch_one(conn, repo.LOCK, (lead_id,))
    if current is None:
        raise NotFound(NOT_FOUND)
    changes = patch.model_dump(mode="json", exclude_unset=True)
    if not changes:
        return Lead.model_validate(current)
    changes = await contacts.changed_values(conn, "leads", current, changes, patch.owner_id, phone_region)
    row = await fetch_one(conn, repo.UPDATE, {"id": lead_id, "patch": Jsonb(changes)})
    assert row is not None
    return Lead.model_validate(row)


async def delete(conn: Conn, lead_id: uuid.UUID) -> None:
    """Delete the lead and its activities; a client it became stays (without its lead)."""
    if await fetch_one(conn, repo.DELETE, (lead_id,)) is None:
        raise NotFound(NOT_FOUND)


async def add_tag(conn: Conn, lead_id: uuid.UUID, tag: str) -> Lead:
    row = await fetch_one(conn, repo.ADD_TAG, {"id": lead_id, "tag": tag, "max": MAX_TAGS})
    if row is not None:
        return Lead.model_validate(row)
    lead = await get(conn, lead_id)
    if tag not in lead.tags:
        raise BadRequest(f"a lead has at most {MAX_TAGS} tags: remove one first")
    return lead


async def remove_tag(conn: Conn, lead_id: uuid.UUID, tag: str) -> Lead:
    row = await fetch_one(conn, repo.REMOVE_TAG, {"id": lead_id, "tag": tag})
    return Lead.model_validate(row) if row is not None else await get(conn, lead_id)


async def list_leads(conn: Conn, filters: LeadFilters) -> LeadPage:
    sort = repo.SORTS[filters.sort or ("relevance" if filters.q else "-created_at")]
    params = filters.model_dump(exclude={"limit", "cursor", "sort", "tag"}) | {"tags": filters.tag}
    rows, next_cursor = await fetch_page(conn, repo.LIST, sort, params, filters.cursor, filters.limit)
    return LeadPage(items=[Lead.model_validate(row) for row in rows], next_cursor=next_cursor)
