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
