"""Request bodies and query limits for conversion, duplicate detection and merging."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gardenos.crm.common import Tags
from gardenos.crm.contacts.fields import PERSON
from gardenos.crm.contacts.schemas import ContactFields

# Scores below this are not worth a person's time; above 1.0 nothing can match.
DEFAULT_THRESHOLD = 0.45
MAX_DUPLICATES_PER_MERGE = 100

# Lead fields a merge can take from one of the merged leads (`prefer`). Tags are united and custom
# fields merged instead; ids, timestamps and the generated keys are not a matter of preference.
MERGEABLE_FIELDS = (*PERSON, "source", "status", "owner_id", "score", "estimated_value", "notes")


class ConvertRequest(ContactFields):
    """What the new client should have instead of the lead's values; only the fields sent count (a field
    sent as null clears it). Unsent fields are copied from the lead. The person's fields are those of
    /api/v1/leads and /clients, so the person typed again here is checked as it is there."""

    status: Literal["active", "inactive", "churned"] = "active"
    lifetime_value: Decimal = Field(default=Decimal(0), ge=0, lt=Decimal("1e12"), decimal_places=2)
    tags: Tags = Field(default_factory=list)
    custom_fields: dict[str, Any] = Field(default_factory=dict)

    def overrides(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class MergeRequest(BaseModel):
    """Merge `duplicate_ids` into the lead named in the path. `prefer` maps a field to the id of the lead
    whose value wins (the survivor's or a duplicate's)."""

    model_config = ConfigDict(extra="forbid")

    duplicate_ids: list[uuid.UUID] = Field(max_length=MAX_DUPLICATES_PER_MERGE)
    prefer: dict[str, uuid.UUID] = Field(default_factory=dict)
