"""Clients: create, read, change, delete, list and search."""

from __future__ import annotations

import uuid

from psycopg.types.json import Jsonb

from gardenos.crm.clients import repository as repo
from gardenos.crm.clients.schemas import Client, ClientFilters, ClientPage, ClientPatch, NewClient
from gardenos.crm.common import (
    fetch_one,
    fetch_page,
)
from gardenos.crm.contacts import service as contacts
from gardenos.db.pool import Conn
from gardenos.errors import NotFound

NOT_FOUND = "client not found (or not in your agency)"


async def create(conn: Conn, body: NewClient, phone_region: str) -> Client:
    values = await contacts.new_values(conn, "clients", body.model_dump(), phone_region)
    row = await fetch_one(conn, repo.INSERT, values | {"custom_fields": Jsonb(values["custom_fields"])})
    assert row is not None
    return Client.model_validate(row)


async def get(conn: Conn, client_id: uuid.UUID) -> Client:
    row = await fetch_one(conn, repo.GET, (client_id,))
    if row is None:
        raise NotFound(NOT_FOUND)
    return Client.model_validate(row)


async def update(conn: Conn, client_id: uuid.UUID, patch: ClientPatch, phone_region: str) -> Client:
    current = await fetch_one(conn, repo.LOCK, (client_id,))
    if current is None:
        raise NotFound(NOT_FOUND)
    changes = patch.model_dump(mode="json", exclude_unset=True)
    if not changes:
        return Client.model_validate(current)
    changes = await contacts.changed_values(conn, "clients", current, changes, patch.owner_id, phone_region)
    row = await fetch_one(conn, repo.UPDATE, {"id": client_id, "patch": Jsonb(changes)})
    assert row is not None
    return Client.model_validate(row)


async def delete(conn: Conn, client_id: uuid.UUID) -> None:
    """Delete the client and its activities."""
    if await fetch_one(conn, repo.DELETE, (client_id,)) is None:
        raise NotFound(NOT_FOUND)


async def list_clients(conn: Conn, filters: ClientFilters) -> ClientPage:
    sort = repo.SORTS[filters.sort or ("relevance" if filters.q else "-created_at")]
    params = filters.model_dump(exclude={"limit", "cursor", "sort", "tag"}) | {"tags": filters.tag}
    rows, next_cursor = await fetch_page(conn, repo.LIST, sort, params, filters.cursor, filters.limit)
    return ClientPage(items=[Client.model_validate(row) for row in rows], next_cursor=next_cursor)
