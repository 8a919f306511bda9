"""Client bodies, answers and list filters."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Literal

from pydantic import Field

from gardenos.crm.common import (
    Money,
    MoneyIn,
    Page,
)
from gardenos.crm.contacts.schemas import ContactFilters, ContactPatch, ContactRecord, NewContact

ClientStatus = Literal["active", "inactive", "churned"]
ClientSort = Literal[
    "-created_at", "created_at", "-updated_at", "-lifetime_value", "lifetime_value", "last_name"
]


class NewClient(NewContact):
    """A client made directly; a lead becomes one through its conversion instead."""

    SINGULAR = "client"

    status: ClientStatus = "active"
    lifetime_value: MoneyIn = Decimal(0)


class ClientPatch(ContactPatch):
    """Only the fields sent change; null clears a field."""

    NOT_NULL = (*ContactPatch.NOT_NULL, "lifetime_value")

    status: ClientStatus | None = None
    lifetime_value: MoneyIn | None = None


class Client(ContactRecord):
    lead_id: uuid.UUID | None = Field(description="The lead it was converted from, if any.")
    status: ClientStatus
    lifetime_value: Money


class ClientPage(Page[Client]):
    """One page of Client rows, and the cursor to the next."""


class ClientFilters(ContactFilters):
    status: list[ClientStatus] | None = Field(default=None, description="Any of these (repeatable).")
    lifetime_value_min: MoneyIn | None = None
    lifetime_value_max: MoneyIn | None = None
    sort: ClientSort | None = Field(default=None, description="Default `-created_at` (newest first).")
