"""Creating, changing, completing and listing activities; the timeline of a lead or client."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from gardenos.crm.activities import repository as repo
from gardenos.crm.activities.schemas import (
    DUE_AT_KINDS,
    Activity,
    ActivityFilters,
    ActivityPage,
    ActivityPatch,
    NewActivity,
    TimelineItem,
    TimelinePage,
)
from gardenos.crm.common import InvalidField, ListFilters, fetch_one, fetch_page
from gardenos.db.pool import Conn
from gardenos.errors import Conflict, NotFound

NOT_FOUND = "activity not found (or not in your agency)"


async def create(conn: Conn, body: NewActivity) -> Activity:
    for subject, exists, record_id in (
        ("lead", repo.LEAD_EXISTS, body.lead_id),
        ("client", repo.CLIENT_EXISTS, body.client_id),
    ):
        if record_id is not None:
            row = await fetch_one(conn, exists, (record_id,))
            if row is None or not row["found"]:
                raise InvalidField(f"{subject}_id: no such {subject} in your agency")
    status = body.status or ("planned" if body.kind == "task" else "done")
    params = body.model_dump() | {"status": status, "metadata": Jsonb(body.metadata)}
    row = await fetch_one(conn, repo.INSERT, params)
    assert row is not None
    activity = Activity.model_validate(row)
    await _touch(conn, activity)
    return activity


async def get(conn: Conn, activity_id: uuid.UUID) -> Activity:
    row = await fetch_one(conn, repo.GET, (activity_id,))
    if row is None:
        raise NotFound(NOT_FOUND)
    return Activity.model_validate(row)


async def _locked(conn: Conn, activity_id: uuid.UUID) -> DictRow:
    """The activity as it is, locked until the transaction ends (the change reads it first)."""
    current = await fetch_one(conn, repo.LOCK, (activity_id,))
    if current is None:
        raise NotFound(NOT_FOUND)
    return current


async def update(conn: Conn, activity_id: uuid.UUID, patch: ActivityPatch) -> Activity:
    current = await _locked(conn, activity_id)
    changes = patch.model_dump(mode="json", exclude_unset=True)
    if not changes:
        return Activity.model_validate(current)
    kind = changes.get("kind", current["kind"])
    due_at = changes["due_at"] if "due_at" in changes else current["due_at"]
    if due_at is not None and kind not in DUE_AT_KINDS:
        raise InvalidField(f"due_at is for tasks; a {kind} has occurred_at (send due_at: null with it)")
    status = changes.get("status", current["status"])
    completion = "keep" if status == current["status"] else "set" if status == "done" else "clear"
    row = await fetch_one(
        conn, repo.UPDATE, {"id": activity_id, "patch": Jsonb(changes), "completion": completion}
    )
    assert row is not None
    activity = Activity.model_validate(row)
    await _touch(conn, activity)
    return activity


async def complete(conn: Conn, activity_id: uuid.UUID) -> Activity:
    """Mark done (now). Completing a done activity changes nothing; a cancelled one must be reopened."""
    current = await _locked(conn, activity_id)
    if current["status"] == "done":
        return Activity.model_validate(current)
    if current["status"] == "cancelled":
        raise Conflict('this activity was cancelled: reopen it with PATCH {"status": "planned"} first')
    row = await fetch_one(conn, repo.COMPLETE, (activity_id,))
    assert row is not None
    activity = Activity.model_validate(row)
    await _touch(conn, activity)
    return activity


async def delete(conn: Conn, activity_id: uuid.UUID) -> None:
    if await fetch_one(conn, repo.DELETE, (activity_id,)) is None:
        raise NotFound(NOT_FOUND)


async def list_activities(conn: Conn, filters: ActivityFilters) -> ActivityPage:
    sort = repo.SORTS[filters.sort]
    params = filters.model_dump(exclude={"limit", "cursor", "sort"})
    rows, next_cursor = await fetch_page(conn, repo.LIST, sort, params, filters.cursor, filters.limit)
    return ActivityPage(items=[Activity.model_validate(row) for row in rows], next_cursor=next_cursor)


async def timeline(
    conn: Conn, table: Literal["leads", "clients"], record_id: uuid.UUID, page: ListFilters
) -> TimelinePage:
    """The record's activities and its own audit entries, newest first. The caller checks the record."""
    params = {
        "lead_id": record_id if table == "leads" else None,
        "client_id": record_id if table == "clients" else None,
        "record_id": record_id,
        "table": table,
    }
    rows, next_cursor = await fetch_page(
        conn, repo.TIMELINE, repo.TIMELINE_ORDER, params, page.cursor, page.limit
    )
    return TimelinePage(items=[TimelineItem.model_validate(row) for row in rows], next_cursor=next_cursor)


async def mark_sent(
    conn: Conn, activity_id: uuid.UUID, *, subject: str, body: str, metadata: dict[str, Any]
) -> Activity:
    """A drafted email marked done as sent now, with the subject and body that left and `metadata` added,
    and its lead and client touched: what approving an agent's follow-up does to the activity, in the
    caller's transaction (the caller checked it is a draft and locked it)."""
    row = await fetch_one(
        conn, repo.MARK_SENT, {"id": activity_id, "subject": subject, "body": body, "meta": Jsonb(metadata)}
    )
    if row is None:
        raise NotFound(NOT_FOUND)
    activity = Activity.model_validate(row)
    await _touch(conn, activity)
    return activity


async def _touch(conn: Conn, activity: Activity) -> None:
    if activity.lead_id is not None:
        await conn.execute(repo.TOUCH_LEAD, {"id": activity.lead_id, "at": activity.occurred_at})
    if activity.client_id is not None:
        await conn.execute(repo.TOUCH_CLIENT, {"id": activity.client_id, "at": activity.occurred_at})
