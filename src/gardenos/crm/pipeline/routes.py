"""`/api/v1/pipeline`: the pipeline summary."""

from __future__ import annotations

from fastapi import APIRouter

from gardenos.api.deps import DatabaseDep
from gardenos.auth.principal import PrincipalDep
from gardenos.crm.common import agency_transaction, fetch_all
from gardenos.crm.leads.schemas import LEAD_STATUSES
from gardenos.crm.pipeline import repository as repo
from gardenos.crm.pipeline.schemas import PipelineStage, PipelineSummary

router = APIRouter(prefix="/api/v1", tags=["leads"])


@router.get("/pipeline")
async def pipeline_summary(database: DatabaseDep, principal: PrincipalDep) -> PipelineSummary:
    """Per lead status, in pipeline order: how many leads, and the sum of their estimated values."""
    async with agency_transaction(database, principal) as conn:
        rows = await fetch_all(conn, repo.PIPELINE, (list(LEAD_STATUSES),))
    return PipelineSummary(stages=[PipelineStage.model_validate(row) for row in rows])
