"""`/api/v1/agencies`: the caller's agencies, members, invites, and switching the active agency."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from gardenos.auth.principal import PrincipalDep
from gardenos.auth.routes import ClientDep, auth_of
from gardenos.tenancy.service import TenancyService

router = APIRouter(prefix="/api/v1/agencies", tags=["agencies"])


async def get_tenancy(request: Request) -> TenancyService:
    return TenancyService(auth_of(request))


TenancyDep = Annotated[TenancyService, Depends(get_tenancy)]


class NewAgency(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(default=None, max_length=63)


class Invite(BaseModel):
    email: str = Field(max_length=254)
    role: Literal["owner", "admin", "member"] = "member"


@router.post("", status_code=201)
async def create_agency(body: NewAgency, tenancy: TenancyDep, principal: PrincipalDep) -> dict[str, Any]:
    """Create an agency; the caller becomes its owner (and, if they had none, it becomes their active
    agency: refresh the session to get a token that carries it)."""
    return await tenancy.create_agency(principal, body.name, body.slug)


@router.get("")
async def list_agencies(tenancy: TenancyDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    return await tenancy.list_agencies(principal)


@router.get("/{agency_id}")
async def get_agency(agency_id: uuid.UUID, tenancy: TenancyDep, principal: PrincipalDep) -> dict[str, Any]:
    return await tenancy.get_agency(principal, agency_id)


@router.get("/{agency_id}/members")
async def list_members(
    agency_id: uuid.UUID, tenancy: TenancyDep, principal: PrincipalDep
) -> list[dict[str, Any]]:
    return await tenancy.members(principal, agency_id)


@router.post("/{agency_id}/invites", status_code=201)
async def invite_member(
    agency_id: uuid.UUID, body: Invite, tenancy: TenancyDep, principal: PrincipalDep, client: ClientDep
) -> dict[str, Any]:
    return await tenancy.invite(principal, agency_id, body.email, body.role, client)


@router.delete("/{agency_id}/members/{user_id}", status_code=204)
async def remove_member(
    agency_id: uuid.UUID, user_id: uuid.UUID, tenancy: TenancyDep, principal: PrincipalDep
) -> Response:
    await tenancy.remove_member(principal, agency_id, user_id)
    return Response(status_code=204)


@router.post("/{agency_id}/switch")
async def switch_agency(agency_id: uuid.UUID, tenancy: TenancyDep, principal: PrincipalDep) -> dict[str, Any]:
    """Make this the active agency: the answer holds a new access token carrying it."""
    return await tenancy.switch(principal, agency_id)
