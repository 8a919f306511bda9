"""Lead bodies, answers, list filters and the pipeline summary."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from gardenos.crm.common import (
    IDENTITY,
    ContactFields,
    CustomFields,
    ListFilters,
    Money,
    MoneyIn,
    Page,
    ShortText,
    Tag,
    Tags,
    no_identity,
)

# In pipeline order.
LEAD_STATUSES = ("new", "contacted", "qualified", "proposal", "negotiation", "converted", "lost")
LeadStatus = Literal["new", "contacted", "qualified", "proposal", "negotiation", "converted", "lost"]
LeadSort = Literal["-created_at", "created_at", "-updated_at", "-score", "score", "last_name"]


class LeadFields(ContactFields):
    source: ShortText = Field(default=None, description="Where the lead came from: website, referral, …")
    score: int | None = Field(default=None, ge=0, le=100)
    estimated_value: MoneyIn | None = None


class NewLead(LeadFields):
    status: LeadStatus = "new"
    tags: Tags = Field(default_factory=list)
    custom_fields: CustomFields = Field(
        default_factory=dict, description="Checked against the agency's definitions (/api/v1/custom-fields)."
    )

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if all(getattr(self, name) is None for name in IDENTITY):
            raise ValueError(no_identity("lead"))
        return self


class LeadPatch(LeadFields):
    """Only the fields sent change; null clears a field."""

    status: LeadStatus | None = None
    tags: Tags | None = Field(default=None, description="Replaces the tags.")
    custom_fields: CustomFields | None = Field(
        default=None, description="Merged into the stored ones; a null value removes that field."
    )

    @model_validator(mode="after")
    def _not_null(self) -> Self:
        for name in ("status", "tags", "custom_fields"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Lead(BaseModel):
    id: uuid.UUID
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    company: str | None
    job_title: str | None
    website: str | None
    city: str | None
    country: str | None
    source: str | None
    status: LeadStatus
    owner_id: uuid.UUID | None
    score: int | None
    estimated_value: Money | None
    tags: list[str]
    custom_fields: dict[str, Any]
    notes: str | None
    last_activity_at: datetime | None
    converted_at: datetime | None
    created_at: datetime
    updated_at: datetime


class LeadPage(Page[Lead]):
    """One page of Lead rows, and the cursor to the next."""


class LeadFilters(ListFilters):
    status: list[LeadStatus] | None = Field(default=None, description="Any of these (repeatable).")
    source: ShortText = None
    owner_id: uuid.UUID | None = None
    tag: list[Tag] | None = Field(default=None, max_length=20, description="All of these (repeatable).")
    score_min: int | None = Field(default=None, ge=0, le=100)
    score_max: int | None = Field(default=None, ge=0, le=100)
    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None
    q: ShortText = Field(
        default=None,
        description="Search: words of the name, company or email; similar names and companies; or the "
        "start of the email. Without `sort`, the best matches come first.",
    )
    sort: LeadSort | None = Field(default=None, description="Default `-created_at` (newest first).")


class TagBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: Tag
