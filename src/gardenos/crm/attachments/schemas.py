"""What the attachment routes take and answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field


class Attachment(BaseModel):
    """A file attached to a record: `bucket` and `path` name it in /storage/v1 (download it there, or
    with supabase-js `storage.from(bucket).download(path)`)."""

    id: uuid.UUID
    name: str
    bucket: str
    path: str
    size: int | None
    mime_type: str | None
    created_at: datetime
    updated_at: datetime


class AttachmentUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filename: str = Field(min_length=1, max_length=255, description="The file's name (no '/').")
    upsert: bool = Field(default=False, description="Replace a file of the same name (else 409).")


WithAttachments = Annotated[
    bool | None,
    Query(
        description="What becomes of the record's attachments: true deletes them with it, false keeps "
        "them; unsaid, a record that has some is not deleted (409)."
    ),
]
