"""The pipeline summary's answer."""

from __future__ import annotations

from pydantic import BaseModel, Field

from gardenos.crm.common import Money
from gardenos.crm.leads.schemas import LeadStatus


class PipelineStage(BaseModel):
    status: LeadStatus
    count: int
    estimated_value: Money = Field(description="The sum of the stage's leads' estimated values.")


class PipelineSummary(BaseModel):
    stages: list[PipelineStage] = Field(description="Every lead status, in pipeline order.")
