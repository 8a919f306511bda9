"""`/api/v1/activities`: notes, calls, emails, meetings and tasks on the agency's leads and clients."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

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
from gardenos.crm.common import agency_transaction

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
async def delete_activity(activity_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep) -> Response:
    async with agency_transaction(database, principal) as conn:
        await service.delete(conn, activity_id)
    return Response(status_code=204)


@router.post("/{activity_id}/complete")
async def complete_activity(
    activity_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep
) -> Activity:
    """Mark the activity done now (a task ticked off). Idempotent; a cancelled one answers 409."""
    async with agency_transaction(database, principal) as conn:
        return await service.complete(conn, activity_id)
