"""Audit entries and the filters of their list."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from gardenos.crm.common import ListFilters, Page

AuditAction = Literal[
    "read",
    "insert",
    "update",
    "delete",
    "merge",
    "convert",
    "import",
    "export",
    "login",
    "invite",
    "remove_member",
]


class AuditEntry(BaseModel):
    id: int
    actor_id: uuid.UUID | None = Field(description="The user who made the change; null for the server.")
    actor_role: str | None
    action: str
    table_name: str | None
    record_id: uuid.UUID | None
    before: dict[str, Any] | None = Field(description="The row before the change (null for an insert).")
    after: dict[str, Any] | None = Field(description="The row after the change (null for a delete).")
    context: dict[str, Any]
    created_at: datetime


class AuditPage(Page[AuditEntry]):
    """One page of AuditEntry rows, and the cursor to the next."""


class AuditFilters(ListFilters):
    record_id: uuid.UUID | None = None
    table_name: (
        Literal[
            "leads",
            "clients",
            "activities",
            "memberships",
            "agencies",
            "price_list_items",
            "agent_subscriptions",
        ]
        | None
    ) = None
    action: list[AuditAction] | None = Field(default=None, description="Any of these (repeatable).")
    actor_id: uuid.UUID | None = None
    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None
