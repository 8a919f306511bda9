"""What each agent answers: the schemas a model's JSON must fit (and the offline provider fills)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Output(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Reason(_Output):
    """One factor behind a score: what it is, how many points it moved the score, and the evidence."""

    factor: str = Field(max_length=200)
    points: int = Field(ge=-100, le=100)
    detail: str = Field(max_length=1000)


class LeadAnalysis(_Output):
    quality_score: int = Field(ge=0, le=100, description="0 (no chance) to 100 (ready to close)")
    conversion_probability: float = Field(ge=0, le=1)
    next_actions: list[str] = Field(min_length=1, max_length=8)
    reasons: list[Reason] = Field(default_factory=list, max_length=30)


class FollowUp(_Output):
    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10_000)
    full_message: str = Field(min_length=1, max_length=12_000)


class InsightText(_Output):
    summary: str = Field(min_length=1, max_length=5000)
    recommendations: list[str] = Field(min_length=1, max_length=10)


class ProposalLine(_Output):
    sku: str
    quantity: float = Field(gt=0, le=1_000_000)
    note: str | None = Field(default=None, max_length=500)


class ProposalDraft(_Output):
    """The model chooses items from the price list; prices and totals are computed from the list."""

    title: str = Field(min_length=1, max_length=200)
    introduction: str = Field(min_length=1, max_length=5000)
    lines: list[ProposalLine] = Field(min_length=1, max_length=50)
    closing: str = Field(default="", max_length=2000)


class SupportAnswer(_Output):
    """A reply to a lead's or client's question, built only from the facts given (by their ids)."""

    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=10_000)
    full_message: str = Field(min_length=1, max_length=12_000)
    answered: bool = Field(description="false when the facts on file do not answer the question")
    facts_used: list[str] = Field(default_factory=list, max_length=20)
