"""`/api/v1/clients`: the agency's clients and their timelines."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from gardenos.api.deps import DatabaseDep, SettingsDep, rate_limited
from gardenos.auth.principal import PrincipalDep
from gardenos.crm.activities import service as activities
from gardenos.crm.activities.schemas import TimelinePage
from gardenos.crm.clients import service
from gardenos.crm.clients.schemas import Client, ClientFilters, ClientPage, ClientPatch, NewClient
from gardenos.crm.common import ListFilters, agency_transaction

router = APIRouter(prefix="/api/v1/clients", tags=["clients"])


@router.post("", status_code=201)
async def create_client(
    body: NewClient, database: DatabaseDep, principal: PrincipalDep, settings: SettingsDep
) -> Client:
    async with agency_transaction(database, principal) as conn:
        return await service.CLIENTS.create(conn, body, settings.default_phone_region)


@router.get("", dependencies=[rate_limited("search", when_query="q")])
async def list_clients(
    filters: Annotated[ClientFilters, Query()], database: DatabaseDep, principal: PrincipalDep
) -> ClientPage:
    """Clients matching every filter given, one page at a time: pass `next_cursor` back as `cursor`."""
    async with agency_transaction(database, principal) as conn:
        return await service.CLIENTS.list(conn, filters)


@router.get("/{client_id}")
async def get_client(client_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep) -> Client:
    async with agency_transaction(database, principal) as conn:
        return await service.CLIENTS.get(conn, client_id)


@router.patch("/{client_id}")
async def update_client(
    client_id: uuid.UUID,
    body: ClientPatch,
    database: DatabaseDep,
    principal: PrincipalDep,
    settings: SettingsDep,
) -> Client:
    """Change the fields sent. `owner_id` must name a member of the agency (null unassigns)."""
    async with agency_transaction(database, principal) as conn:
        return await service.CLIENTS.update(conn, client_id, body, settings.default_phone_region)


@router.delete("/{client_id}", status_code=204)
async def delete_client(client_id: uuid.UUID, database: DatabaseDep, principal: PrincipalDep) -> Response:
    async with agency_transaction(database, principal) as conn:
        await service.CLIENTS.delete(conn, client_id)
    return Response(status_code=204)


@router.get("/{client_id}/timeline")
async def client_timeline(
    client_id: uuid.UUID,
    page: Annotated[ListFilters, Query()],
    database: DatabaseDep,
    principal: PrincipalDep,
) -> TimelinePage:
    """The client's activities and the changes to the client itself, newest first."""
    async with agency_transaction(database, principal) as conn:
        await service.CLIENTS.get(conn, client_id)
        return await activities.timeline(conn, "clients", client_id, page)
