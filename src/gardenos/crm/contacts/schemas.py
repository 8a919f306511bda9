"""The bodies and answers every person record shares; crm/leads and crm/clients add their own fields
(status and score; lifetime value) and name the kind."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, ClassVar, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from gardenos.crm.common import (
    IDENTITY,
    CustomFieldFilter,
    CustomFields,
    Email,
    ListFilters,
    LongText,
    Phone,
    ShortText,
    Tag,
    Tags,
    Url,
    no_identity,
)


class ContactFields(BaseModel):
    """What leads and clients both hold about a person and their company."""

    model_config = ConfigDict(extra="forbid")

    first_name: ShortText = None
    last_name: ShortText = None
    email: Email = None
    phone: Phone = None
    company: ShortText = None
    job_title: ShortText = None
    website: Url = None
    city: ShortText = None
    country: ShortText = None
    owner_id: uuid.UUID | None = Field(default=None, description="A member of the agency; null: nobody.")
    notes: LongText = None


class NewContact(ContactFields):
    """A new record: something to know the person by, tags and custom fields."""

    SINGULAR: ClassVar[str]

    tags: Tags = Field(default_factory=list)
    custom_fields: CustomFields = Field(
        default_factory=dict, description="Checked against the agency's definitions (/api/v1/custom-fields)."
    )

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if all(getattr(self, name) is None for name in IDENTITY):
            raise ValueError(no_identity(self.SINGULAR))
        return self


class ContactPatch(ContactFields):
    """Only the fields sent change; null clears a field."""

    # Fields that have a value in every record: sent as null, they are refused rather than cleared.
    NOT_NULL: ClassVar[tuple[str, ...]] = ("status", "tags", "custom_fields")

    tags: Tags | None = Field(default=None, description="Replaces the tags.")
    custom_fields: CustomFields | None = Field(
        default=None, description="Merged into the stored ones; a null value removes that field."
    )

    @model_validator(mode="after")
    def _not_null(self) -> Self:
        for name in self.NOT_NULL:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ContactRecord(BaseModel):
    """A record as an answer shows it (the kind adds its own columns)."""

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
    owner_id: uuid.UUID | None
    tags: list[str]
    custom_fields: dict[str, Any]
    notes: str | None
    last_activity_at: datetime | None
    converted_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ContactFilters(ListFilters):
    """The filters every kind's list has (the kind adds its status, its own filters and its orders)."""

    owner_id: uuid.UUID | None = None
    tag: list[Tag] | None = Field(default=None, max_length=20, description="All of these (repeatable).")
    created_after: AwareDatetime | None = None
    created_before: AwareDatetime | None = None
    custom_field: list[CustomFieldFilter] | None = Field(
        default=None,
        max_length=20,
        description="`name:value`, all of these (repeatable): the custom field's value, compared as text "
        "(`employees:40`, `vip:true`, `renewal:2025-02-28`).",
    )
    q: ShortText = Field(
        default=None,
        description="Search: words of the name, company or email; similar names and companies; or the "
        "start of the email. Without `sort`, the best matches come first.",
    )


class TagBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag: Tag
