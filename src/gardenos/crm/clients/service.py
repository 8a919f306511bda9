"""Clients: create, read, change, delete, list and search."""

from __future__ import annotations

import uuid

from psycopg.types.json import Jsonb

from gardenos.crm.clients import repository as repo
from gardenos.crm.clients.schemas import Client, ClientFilters, ClientPage, ClientPatch, NewClient
from gardenos.crm.common import (
    IDENTITY,
    InvalidField,
    check_owner,
    fetch_one,
    fetch_page,
    no_identity,
    normalized_phone,
)
from gardenos.crm.custom_fields import service as custom_fields
from gardenos.db.pool import Conn
from gardenos.errors import NotFound

NOT_FOUND = "client not found (or not in your agency)"


async def create(conn: Conn, body: NewClient, phone_region: str) -> Client:
    await check_owner(conn, body.owner_id)
    values = await custom_fields.checked(conn, "clients", body.custom_fields)
    phone = await normalized_phone(conn, body.phone, phone_region)
    row = await fetch_one(
        conn, repo.INSERT, body.model_dump() | {"custom_fields": Jsonb(values), "phone": phone}
    )
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
    if "owner_id" in changes:
        await check_owner(conn, patch.owner_id)
    if "phone" in changes:
        changes["phone"] = await normalized_phone(conn, changes["phone"], phone_region)
    if "custom_fields" in changes:
        merged = current["custom_fields"] | changes["custom_fields"]
        changes["custom_fields"] = await custom_fields.checked(conn, "clients", merged)
    if all((changes[name] if name in changes else current[name]) is None for name in IDENTITY):
        raise InvalidField(no_identity("client"))
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
