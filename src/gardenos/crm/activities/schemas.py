"""Activity bodies, answers, list filters, and the items of a lead's or client's timeline."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from gardenos.crm.audit.schemas import AuditEntry
from gardenos.crm.common import CustomFields, ListFilters, LongText, Moment, Page, ShortText

ActivityKind = Literal["note", "call", "email", "meeting", "task"]
ActivityStatus = Literal["draft", "planned", "done", "cancelled"]
ActivitySort = Literal["-occurred_at", "occurred_at", "due_at", "-created_at"]
DUE_AT_KINDS = ("task",)


class NewActivity(BaseModel):
    """An activity on a lead, a client, or both (a converted lead's client)."""

    model_config = ConfigDict(extra="forbid")

    kind: ActivityKind
    lead_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    subject: ShortText = None
    body: LongText = None
    status: ActivityStatus | None = Field(
        default=None, description="Default: `planned` for a task, `done` for the other kinds."
    )
    due_at: Moment | None = Field(default=None, description="Tasks only.")
    occurred_at: Moment | None = Field(default=None, description="Default: now.")
    metadata: CustomFields = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.lead_id is None and self.client_id is None:
            raise ValueError("an activity needs a lead_id or a client_id (or both)")
        if self.due_at is not None and self.kind not in DUE_AT_KINDS:
            raise ValueError(f"due_at is for tasks; a {self.kind} has occurred_at")
        return self


class ActivityPatch(BaseModel):
    """Only the fields sent change. The lead and client an activity is on do not."""

    model_config = ConfigDict(extra="forbid")

    kind: ActivityKind | None = None
    subject: ShortText = None
    body: LongText = None
    status: ActivityStatus | None = None
    due_at: Moment | None = None
    occurred_at: Moment | None = None
    metadata: CustomFields | None = None

    @model_validator(mode="after")
    def _not_null(self) -> Self:
        for name in ("kind", "status", "occurred_at", "metadata"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Activity(BaseModel):
    id: uuid.UUID
    lead_id: uuid.UUID | None
    client_id: uuid.UUID | None
    kind: ActivityKind
    subject: str | None
    body: str | None
    status: ActivityStatus
    due_at: datetime | None
    completed_at: datetime | None = Field(description="When the status became `done`.")
    created_by: uuid.UUID | None
    metadata: dict[str, Any]
    occurred_at: datetime
    created_at: datetime
    updated_at: datetime


class ActivityPage(Page[Activity]):
    """One page of Activity rows, and the cursor to the next."""


class ActivityFilters(ListFilters):
    kind: list[ActivityKind] | None = Field(default=None, description="Any of these (repeatable).")
    status: list[ActivityStatus] | None = Field(default=None, description="Any of these (repeatable).")
    lead_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    created_by: uuid.UUID | None = None
    due_before: AwareDatetime | None = None
    due_after: AwareDatetime | None = None
    occurred_after: AwareDatetime | None = None
    occurred_before: AwareDatetime | None = None
    sort: ActivitySort = Field(
        default="-occurred_at", description="`due_at`: soonest first, activities without one last."
    )


class TimelineItem(BaseModel):
    """An activity on the record, or a change of the record itself; exactly one of the two is set."""

    type: Literal["activity", "audit"]
    at: datetime
    activity: Activity | None = None
    audit: AuditEntry | None = None


class TimelinePage(Page[TimelineItem]):
    """One page of TimelineItem rows, and the cursor to the next."""
