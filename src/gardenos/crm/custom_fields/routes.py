"""`/api/v1/custom-fields`: the agency's custom field definitions for leads and clients."""

from __future__ import annotations

from fastapi import APIRouter

from gardenos.api.deps import DatabaseDep
from gardenos.auth.principal import PrincipalDep
from gardenos.crm.common import agency_transaction
from gardenos.crm.custom_fields import service
from gardenos.crm.custom_fields.schemas import CustomFieldDefinitions

router = APIRouter(prefix="/api/v1/custom-fields", tags=["custom fields"])


@router.get("")
async def get_definitions(database: DatabaseDep, principal: PrincipalDep) -> CustomFieldDefinitions:
    async with agency_transaction(database, principal) as conn:
        return await service.definitions(conn)


@router.put("")
async def put_definitions(
    body: CustomFieldDefinitions, database: DatabaseDep, principal: PrincipalDep
) -> CustomFieldDefinitions:
    """Replace the definitions (owners and admins). Lead and client writes then check their
    `custom_fields`: unknown names are refused, types checked, required fields enforced."""
    async with agency_transaction(database, principal) as conn:
        return await service.replace_definitions(conn, body)
