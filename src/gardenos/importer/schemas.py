"""What the imports API answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ImportStatus(BaseModel):
    id: uuid.UUID
    filename: str
    status: str
    on_duplicate: str
    rows_total: int
    rows_imported: int
    rows_updated: int
    rows_invalid: int
    rows_duplicate: int
    rows_warned: int = 0
    rows_possible_duplicate: int = 0
    error: str | None
    detected: dict[str, Any]
    mapping: dict[str, Any]
    options: dict[str, Any]
    file_size: int | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class RevertResult(BaseModel):
    id: uuid.UUID
    status: str
    leads_deleted: int


class PossibleDuplicate(BaseModel):
    id: int
    line: int
    reason: str
    match_kind: str
    lead: dict[str, Any]
    match: dict[str, Any]
