"""`/api/v1/leads` and `/api/v1/pipeline`: the agency's leads, their tags and timelines, and the pipeline
at a glance."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from gardenos.api.deps import DatabaseDep, SettingsDep, rate_limited
from gardenos.auth.principal import PrincipalDep
from gardenos.crm.activities import service as activities
from gardenos.crm.activities.schemas import TimelinePage
from gardenos.crm.common import ListFilters, Tag, agency_transaction
from gardenos.crm.leads import service
from gardenos.crm.leads.schemas import (
    Lead,
    LeadFilters,
    LeadPage,
    LeadPatch,
    NewLead,
    TagBody,
)

router = APIRouter(prefix="/api/v1", tags=["leads"])


@router.post("/leads", status_code=201)
async def create_lead(
    body: NewLead, database: DatabaseDep, principal: PrincipalDep, settings: SettingsDep
) -> Lead:
    async with agency_transaction(database, principal) as conn:
        return await service.LEADS.create(conn, body, settings.default_phone_region)


@router.get("/leads", dependencies=[rate_limited("search", when_query="q")])
async def list_leads(
    filters: Annotated[LeadFilters, Query()], database: DatabaseDep, principal: PrincipalDep
) -> LeadPage:
    """Leads matching every filter given, one page at a time: pass `next_cursor` back as `cursor`."""
    async with agency_transaction(database, principal) as conn:
        return await service.LEADS.list(conn, filters)


@router.get("/leads/{lead_id}")
async def get_lead(lead_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep) -> Lead:
    async with agency_transaction(database, principal) as conn:
        return await service.LEADS.get(conn, lead_id)


@router.patch("/leads/{lead_id}")
async def update_lead(
    lead_id: uuid.UUID,
    body: LeadPatch,
    database: DatabaseDep,
    principal: PrincipalDep,
    settings: SettingsDep,
) -> Lead:
    """Change the fields sent. `owner_id` must name a member of the agency (null unassigns)."""
    async with agency_transaction(database, principal) as conn:
        return await service.LEADS.update(conn, lead_id, body, settings.default_phone_region)


@router.delete("/leads/{lead_id}", status_code=204)
async def delete_lead(lead_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep) -> Response:
    async with agency_transaction(database, principal) as conn:
        await service.LEADS.delete(conn, lead_id)
    return Response(status_code=204)


@router.post("/leads/{lead_id}/tags")
async def add_lead_tag(
    lead_id: uuid.UUID, body: TagBody, database: DatabaseDep, principal: PrincipalDep
) -> Lead:
    """Add a tag (no change if the lead has it)."""
    async with agency_transaction(database, principal) as conn:
        return await service.add_tag(conn, lead_id, body.tag)


@router.delete("/leads/{lead_id}/tags/{tag}")
async def remove_lead_tag(
    lead_id: uuid.UUID,
    tag: Annotated[Tag, Path()],
    database: DatabaseDep,
    principal: PrincipalDep,
) -> Lead:
    """Remove a tag (no change if the lead does not have it)."""
    async with agency_transaction(database, principal) as conn:
        return await service.remove_tag(conn, lead_id, tag)


@router.get("/leads/{lead_id}/timeline")
async def lead_timeline(
    lead_id: uuid.UUID,
    page: Annotated[ListFilters, Query()],
    database: DatabaseDep,
    principal: PrincipalDep,
) -> TimelinePage:
    """The lead's activities and the changes to the lead itself, newest first."""
    async with agency_transaction(database, principal) as conn:
        await service.LEADS.get(conn, lead_id)
        return await activities.timeline(conn, "leads", lead_id, page)
