"""What the drafting agents (follow-up, support, design) share: reading a lead or client with its
timeline, and saving their draft as an activity a person approves."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from psycopg.types.json import Jsonb

from gardenos.agents import repository as repo
from gardenos.agents.base import PermanentTaskError
from gardenos.db.pool import Conn
from gardenos.db.rows import fetch_all, fetch_one

SubjectType = Literal["lead", "client"]


async def load_subject(
    conn: Conn, subject_type: SubjectType, record_id: uuid.UUID, *, timeline: int
) -> tuple[dict[str, Any], list[Any]]:
    """The lead or client (of the caller's agency) and its newest `timeline` activities."""
    found = await fetch_one(conn, repo.LEAD if subject_type == "lead" else repo.CLIENT, (record_id,))
    if found is None:
        raise PermanentTaskError(f"{subject_type} {record_id} not found (or not in this agency)")
    ids = (
        {"lead_id": record_id, "client_id": None}
        if subject_type == "lead"
        else {"lead_id": None, "client_id": record_id}
    )
    return dict(found), list(await fetch_all(conn, repo.ACTIVITIES, ids | {"limit": timeline}))


async def save_draft(
    conn: Conn,
    *,
    activity_id: uuid.UUID,
    subject_type: SubjectType,
    record_id: uuid.UUID,
    kind: str,
    subject: str,
    body: str,
    metadata: dict[str, Any],
) -> None:
    """A draft activity on the lead or client: nothing is sent until a person approves it."""
    await conn.execute(
        repo.DRAFT_ACTIVITY,
        {
            "id": activity_id,
            "lead_id": record_id if subject_type == "lead" else None,
            "client_id": record_id if subject_type == "client" else None,
            "kind": kind,
            "subject": subject,
            "body": body,
            "metadata": Jsonb(metadata),
        },
    )
