"""Leads: what crm/contacts does for every person record, and tags."""

from __future__ import annotations

import uuid

from gardenos.crm.common import fetch_one
from gardenos.crm.contacts.fields import LEAD
from gardenos.crm.contacts.service import Records
from gardenos.crm.leads import repository as repo
from gardenos.crm.leads.schemas import Lead, LeadPage
from gardenos.db.pool import Conn
from gardenos.errors import BadRequest

LEADS = Records(LEAD, Lead, LeadPage, repo.LIST, repo.SORTS)
MAX_TAGS = 100


async def add_tag(conn: Conn, lead_id: uuid.UUID, tag: str) -> Lead:
    row = await fetch_one(conn, repo.ADD_TAG, {"id": lead_id, "tag": tag, "max": MAX_TAGS})
    if row is not None:
        return Lead.model_validate(row)
    lead = await LEADS.get(conn, lead_id)
    if tag not in lead.tags:
        raise BadRequest(f"a lead has at most {MAX_TAGS} tags: remove one first")
    return lead


async def remove_tag(conn: Conn, lead_id: uuid.UUID, tag: str) -> Lead:
    row = await fetch_one(conn, repo.REMOVE_TAG, {"id": lead_id, "tag": tag})
    return Lead.model_validate(row) if row is not None else await LEADS.get(conn, lead_id)
