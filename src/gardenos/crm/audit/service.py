"""Reading the audit trail, newest first."""

from __future__ import annotations

from gardenos.crm.audit import repository as repo
from gardenos.crm.audit.schemas import AuditEntry, AuditFilters, AuditPage
from gardenos.crm.common import fetch_page
from gardenos.db.pool import Conn


async def list_entries(conn: Conn, filters: AuditFilters) -> AuditPage:
    params = filters.model_dump(exclude={"limit", "cursor"})
    rows, next_cursor = await fetch_page(
        conn, repo.LIST, repo.NEWEST_FIRST, params, filters.cursor, filters.limit
    )
    return AuditPage(items=[AuditEntry.model_validate(row) for row in rows], next_cursor=next_cursor)
