"""`/api/v1/activities`: notes, calls, emails, meetings and tasks on the agency's leads and clients."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from gardenos.api.deps import DatabaseDep
from gardenos.auth.principal import PrincipalDep
from gardenos.crm.activities import service
from gardenos.crm.activities.schemas import (
    Activity,
    ActivityFilters,
    ActivityPage,
    ActivityPatch,
    NewActivity,
)
from gardenos.crm.attachments import service as attachments
from gardenos.crm.attachments.schemas import Attachment, AttachmentUpload, WithAttachments
from gardenos.crm.common import agency_transaction
from gardenos.storage.routes import StorageDep

router = APIRouter(prefix="/api/v1/activities", tags=["activities"])


@router.post("", status_code=201)
async def create_activity(body: NewActivity, database: DatabaseDep, principal: PrincipalDep) -> Activity:
    """Record an activity; its lead's and client's `last_activity_at` move up to its `occurred_at`."""
    async with agency_transaction(database, principal) as conn:
        return await service.create(conn, body)


@router.get("")
async def list_activities(
    filters: Annotated[ActivityFilters, Query()], database: DatabaseDep, principal: PrincipalDep
) -> ActivityPage:
    """Activities, filtered (e.g. open tasks due soon: `kind=task&status=planned&due_before=…`),
    one page at a time."""
    async with agency_transaction(database, principal) as conn:
        return await service.list_activities(conn, filters)


@router.get("/{activity_id}")
async def get_activity(activity_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep) -> Activity:
    async with agency_transaction(database, principal) as conn:
        return await service.get(conn, activity_id)


@router.patch("/{activity_id}")
async def update_activity(
    activity_id: uuid.UUID, body: ActivityPatch, database: DatabaseDep, principal: PrincipalDep
) -> Activity:
    """Change the fields sent; a status change to `done` sets `completed_at`, away from it clears it."""
    async with agency_transaction(database, principal) as conn:
        return await service.update(conn, activity_id, body)


@router.delete("/{activity_id}", status_code=204)
async def delete_activity(
    activity_id: uuid.UUID,
    database: DatabaseDep,
    principal: PrincipalDep,
    storage: StorageDep,
    with_attachments: WithAttachments = None,
) -> Response:
    """Delete the activity. One with attachments answers 409 unless `with_attachments` says what
    becomes of them (true: deleted with it; false: kept)."""
    async with agency_transaction(database, principal) as conn:
        await service.delete(conn, activity_id)
        removed = await attachments.on_delete(
            conn, principal.require_agency(), "activities", activity_id, with_attachments
        )
    await storage.delete_blobs(removed)
    return Response(status_code=204)


@router.get("/{activity_id}/attachments")
async def list_activity_attachments(
    activity_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep, storage: StorageDep
) -> list[Attachment]:
    """The files attached to the activity (storage bucket `attachments`, folder `activities/<id>/`)."""
    async with agency_transaction(database, principal) as conn:
        await service.get(conn, activity_id)
    scope = attachments.caller_scope(principal)
    files = await attachments.list_files(storage, scope, "activities", activity_id)
    return [Attachment.model_validate(f) for f in files]


@router.post("/{activity_id}/attachments", status_code=201)
async def add_activity_attachment(
    activity_id: uuid.UUID,
    options: Annotated[AttachmentUpload, Query()],
    request: Request,
    database: DatabaseDep,
    principal: PrincipalDep,
    storage: StorageDep,
) -> Attachment:
    """Attach a file to the activity: the body is the file (raw, or multipart with a `file` part),
    `filename` its name."""
    async with agency_transaction(database, principal) as conn:
        await service.get(conn, activity_id)
    scope = attachments.caller_scope(principal)
    stored = await attachments.upload_request(storage, scope, "activities", activity_id, options, request)
    return Attachment.model_validate(stored)


@router.post("/{activity_id}/complete")
async def complete_activity(
    activity_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep
) -> Activity:
    """Mark the activity done now (a task ticked off). Idempotent; a cancelled one answers 409."""
    async with agency_transaction(database, principal) as conn:
        return await service.complete(conn, activity_id)
