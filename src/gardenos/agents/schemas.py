"""Request bodies and answers of `/ai` and `/api/v1/search`."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from gardenos.crm.common import ListFilters

AgentType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


class Task(BaseModel):
    id: uuid.UUID
    agent_type: str
    priority: int
    payload: dict[str, Any]
    status: Literal["queued", "running", "succeeded", "failed", "dead", "cancelled"]
    attempts: int
    max_retries: int
    run_after: datetime
    agent_id: uuid.UUID | None
    lease_expires_at: datetime | None
    idempotency_key: str | None
    result: dict[str, Any] | None
    last_error: str | None
    created_by: uuid.UUID | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class NewTask(BaseModel):
    model_config = ConfigDict(extra="forbid")

    agent_type: AgentType = Field(
        description="lead_analysis, follow_up, support, insight, design, embed or echo"
    )
    payload: dict[str, Any] = Field(default_factory=dict)
    priority: int = Field(default=5, ge=0, le=9, description="9 runs first, 0 last")
    max_retries: int = Field(default=3, ge=0, le=20)
    idempotency_key: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="A second task with the same key returns the first one"
    )

    @model_validator(mode="after")
    def _small_payload(self) -> NewTask:
        if len(str(self.payload)) > 200_000:
            raise ValueError("payload is too large (over 200 kB): pass ids, not whole records")
        return self


class TaskFilters(ListFilters):
    status: Literal["queued", "running", "succeeded", "failed", "dead", "cancelled"] | None = None
    agent_type: AgentType | None = None


class ScaleBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int = Field(ge=0, le=100, description="agents in the pool (within GARDENOS_AI_POOL_MIN/MAX)")


class FollowUpBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    context: Annotated[str, StringConstraints(max_length=2000)] | None = Field(
        default=None, description="What the message should be about, in a few words"
    )


class SupportBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)] = Field(
        description="The lead's or client's question, as they asked it"
    )


class ApproveBody(BaseModel):
    """Optional edits, applied before sending."""

    model_config = ConfigDict(extra="forbid")

    subject: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] | None = (
        None
    )
    body: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] | None = None


class NewMemory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject_type: Literal["agency", "lead", "client"]
    subject_id: uuid.UUID | None = None
    content: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]

    @model_validator(mode="after")
    def _subject(self) -> NewMemory:
        if (self.subject_type == "agency") != (self.subject_id is None):
            raise ValueError(
                "subject_id is required for a lead or client memory, and must be absent for agency"
            )
        return self


class Memory(BaseModel):
    id: uuid.UUID
    subject_type: str
    subject_id: uuid.UUID | None
    content: str
    embedding_model: str | None
    source: str
    created_by: uuid.UUID | None
    created_at: datetime


class MemoryFilters(ListFilters):
    subject_type: Literal["agency", "lead", "client"] | None = None
    subject_id: uuid.UUID | None = None


class SearchFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
    types: str = Field(default="lead,client,memory", description="comma-separated: lead, client, memory")
    limit: int = Field(default=20, ge=1, le=100)

    @model_validator(mode="before")
    @classmethod
    def _without_apikey(cls, data: Any) -> Any:
        if isinstance(data, dict) and "apikey" in data:
            return {k: v for k, v in data.items() if k != "apikey"}
        return data

    @model_validator(mode="after")
    def _types(self) -> SearchFilters:
        unknown = set(self.kinds) - {"lead", "client", "memory"}
        if unknown or not self.kinds:
            raise ValueError(f"types must list lead, client and/or memory; unknown: {sorted(unknown)}")
        return self

    @property
    def kinds(self) -> list[str]:
        return [t.strip() for t in self.types.split(",") if t.strip()]


class SearchResult(BaseModel):
    type: Literal["lead", "client", "memory"]
    id: uuid.UUID
    title: str
    snippet: str | None
    score: float = Field(description="reciprocal-rank fusion of the semantic and the full-text rank")
    semantic_rank: int | None
    text_rank: int | None
    similarity: float | None


class SearchAnswer(BaseModel):
    items: list[SearchResult]
    embedding_model: str
