"""Lead bodies, answers, list filters and the pipeline summary."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gardenos.crm.common import (
    Money,
    MoneyIn,
    Page,
    ShortText,
)
from gardenos.crm.contacts.schemas import (
    ContactFields,
    ContactFilters,
    ContactPatch,
    ContactRecord,
    NewContact,
)

# In pipeline order.
LEAD_STATUSES = ("new", "contacted", "qualified", "proposal", "negotiation", "converted", "lost")
LeadStatus = Literal["new", "contacted", "qualified", "proposal", "negotiation", "converted", "lost"]
LeadSort = Literal["-created_at", "created_at", "-updated_at", "-score", "score", "last_name"]


class LeadFields(ContactFields):
    source: ShortText = Field(default=None, description="Where the lead came from: website, referral, …")
    score: int | None = Field(default=None, ge=0, le=100)
    estimated_value: MoneyIn | None = None


class NewLead(LeadFields, NewContact):
    SINGULAR = "lead"

    status: LeadStatus = "new"


class LeadPatch(LeadFields, ContactPatch):
    """Only the fields sent change; null clears a field."""

    status: LeadStatus | None = None


class Lead(ContactRecord):
    source: str | None
    status: LeadStatus
    score: int | None
    estimated_value: Money | None


class LeadPage(Page[Lead]):
    """One page of Lead rows, and the cursor to the next."""


class LeadFilters(ContactFilters):
    status: list[LeadStatus] | None = Field(default=None, description="Any of these (repeatable).")
    source: ShortText = None
    score_min: int | None = Field(default=None, ge=0, le=100)
    score_max: int | None = Field(default=None, ge=0, le=100)
    sort: LeadSort | None = Field(default=None, description="Default `-created_at` (newest first).")
