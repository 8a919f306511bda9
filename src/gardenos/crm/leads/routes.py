"""`/api/v1/leads`: the agency's leads (the routes every person record has, crm/contacts/routes.py) and
their tags."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path

from gardenos.api.deps import DatabaseDep
from gardenos.auth.principal import PrincipalDep
from gardenos.crm.common import Tag, agency_transaction
from gardenos.crm.contacts.routes import add_routes
from gardenos.crm.leads import service
from gardenos.crm.leads.schemas import Lead, LeadFilters, LeadPatch, NewLead, TagBody

router = APIRouter(prefix="/api/v1/leads", tags=["leads"])
add_routes(router, service.LEADS, NewLead, LeadPatch, LeadFilters)


@router.post("/{lead_id}/tags")
async def add_lead_tag(
    lead_id: uuid.UUID, body: TagBody, database: DatabaseDep, principal: PrincipalDep
) -> Lead:
    """Add a tag (no change if the lead has it)."""
    async with agency_transaction(database, principal) as conn:
        return await service.add_tag(conn, lead_id, body.tag)


@router.delete("/{lead_id}/tags/{tag}")
async def remove_lead_tag(
    lead_id: uuid.UUID,
    tag: Annotated[Tag, Path()],
    database: DatabaseDep,
    principal: PrincipalDep,
) -> Lead:
    """Remove a tag (no change if the lead does not have it)."""
    async with agency_transaction(database, principal) as conn:
        return await service.remove_tag(conn, lead_id, tag)
