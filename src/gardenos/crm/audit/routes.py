"""`/api/v1/audit`: who changed what in the agency's leads, clients and activities, and when."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gardenos.api.deps import DatabaseDep
from gardenos.auth.principal import PrincipalDep
from gardenos.crm.audit import service
from gardenos.crm.audit.schemas import AuditFilters, AuditPage
from gardenos.crm.common import agency_transaction

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("")
async def list_audit(
    filters: Annotated[AuditFilters, Query()], database: DatabaseDep, principal: PrincipalDep
) -> AuditPage:
    """The agency's audit entries, newest first; `record_id` narrows them to one lead, client or
    activity. Every insert, update and delete of those is here, whether it came through /api/v1 or
    /rest/v1, with the row before and after."""
    async with agency_transaction(database, principal) as conn:
        return await service.list_entries(conn, filters)
