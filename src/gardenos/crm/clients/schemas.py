"""Client bodies, answers and list filters."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, Self

from pydantic import AwareDatetime, BaseModel, Field, model_validator

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

ClientStatus = Literal["active", "inactive", "churned"]
ClientSort = Literal[
    "-created_at", "created_at", "-updated_at", "-lifetime_value", "lifetime_value", "last_name"
]


class NewClient(ContactFields):
    """A client made directly; a lead becomes one through its conversion instead."""

    status: ClientStatus = "active"
    lifetime_value: MoneyIn = Decimal(0)
    tags: Tags = Field(default_factory=list)
    custom_fields: CustomFields = Field(
        default_factory=dict, description="Checked against the agency's definitions (/api/v1/custom-fields)."
    )

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if all(getattr(self, name) is None for name in IDENTITY):
            raise ValueError(no_identity("client"))
        return self


class ClientPatch(ContactFields):
    """Only the fields sent change; null clears a field."""

    status: ClientStatus | None = None
    lifetime_value: MoneyIn | None = None
    tags: Tags | None = Field(default=None, description="Replaces the tags.")
    custom_fields: CustomFields | None = Field(
        default=None, description="Merged into the stored ones; a null value removes that field."
    )

    @model_validator(mode="after")
    def _not_null(self) -> Self:
        for name in ("status", "lifetime_value", "tags", "custom_fields"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class Client(BaseModel):
    id: uuid.UUID
    lead_id: uuid.UUID | None = Field(description="The lead it was converted from, if any.")
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    company: str | None
    job_title: str | None
    website: str | None
    city: str | None
    country: str | None
    status: ClientStatus
    owner_id: uuid.UUID | None
    lifetime_value: Money
    tags: list[str]
    custom_fields: dict[str, Any]
    notes: str | None
    last_activity_at: datetime | None
    converted_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ClientPage(Page[Client]):
    """One page of Client rows, and the cursor to the next."""


class ClientFilters(ListFilters):
    status: list[ClientStatus] | None = Field(default=None, description="Any of these (repeatable).")
    owner_id: uuid.UUID | None = None
    tag: list[Tag] | None = Field(default=None, max_length=20, description="All of these (repeatable).")
    lifetime_value_min: MoneyIn | None = None
    lifetime_value_max: MoneyIn | None = None
    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None
    q: ShortText = Field(
        default=None,
        description="Search: words of the name, company or email; similar names and companies; or the "
        "start of the email. Without `sort`, the best matches come first.",
    )
    sort: ClientSort | None = Field(default=None, description="Default `-created_at` (newest first).")
