"""`/api/v1/leads/{lead_id}/convert|duplicates|merge` and `/api/v1/duplicates`: the pipeline's operations
on several rows at once, each one transaction under the caller's agency."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from gardenos.api.deps import DatabaseDep, SettingsDep
from gardenos.auth.principal import PrincipalDep
from gardenos.crm.contacts.rules import RULES, parse_rule
from gardenos.crm.conversion_and_merge.schemas import DEFAULT_THRESHOLD, ConvertRequest, MergeRequest
from gardenos.crm.conversion_and_merge.service import PipelineService

router = APIRouter(prefix="/api/v1", tags=["pipeline"])


async def get_pipeline(database: DatabaseDep) -> PipelineService:
    return PipelineService(database)


PipelineDep = Annotated[PipelineService, Depends(get_pipeline)]


@router.post("/leads/{lead_id}/convert", status_code=201)
async def convert_lead(
    lead_id: uuid.UUID,
    pipeline: PipelineDep,
    principal: PrincipalDep,
    settings: SettingsDep,
    body: ConvertRequest | None = None,
) -> dict[str, Any]:
    """Turn the lead into a client (fields in the body override the lead's); its activities join the
    client, and the lead stays, marked `converted`. 409 if it already was converted."""
    return await pipeline.convert(principal, lead_id, body, settings.default_phone_region)


@router.get("/leads/{lead_id}/duplicates")
async def lead_duplicates(
    lead_id: uuid.UUID,
    pipeline: PipelineDep,
    principal: PrincipalDep,
    threshold: Annotated[float, Query(ge=0.1, le=1.0)] = DEFAULT_THRESHOLD,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    rule: Annotated[
        str | None,
        Query(description=f"{', '.join(RULES)}, or several separated by commas; default: the agency's"),
    ] = None,
) -> list[dict[str, Any]]:
    """Leads and clients that are probably the same person: same email (score 1.0), same phone (0.9),
    similar name weighed with company; best first. `same_person`: the duplicate rule calls them one
    person; otherwise a possible duplicate (a shared switchboard phone, two different emails)."""
    return await pipeline.duplicates_of(principal, lead_id, threshold, limit, parse_rule(rule))


@router.post("/leads/{lead_id}/merge")
async def merge_leads(
    lead_id: uuid.UUID, body: MergeRequest, pipeline: PipelineDep, principal: PrincipalDep
) -> dict[str, Any]:
    """Merge `duplicate_ids` into this lead; `prefer` picks, per field, the lead whose value wins."""
    return await pipeline.merge(principal, lead_id, body)


@router.get("/duplicates")
async def agency_duplicates(
    pipeline: PipelineDep, principal: PrincipalDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> list[dict[str, Any]]:
    """Pairs of the agency's leads that share an email or phone, the older lead first."""
    return await pipeline.agency_duplicates(principal, limit)
