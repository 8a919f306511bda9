"""SQL for reading the audit trail; row-level security shows the caller its own agency's entries only."""

from __future__ import annotations

from gardenos.crm.common import Sort, SortKey, keyset_query

COLUMNS = """
g.id, g.actor_id, g.actor_role, g.action, g.table_name, g.record_id, g.before, g.after, g.context,
g.created_at
"""
FILTERS = """
    (%(record_id)s::uuid IS NULL OR g.record_id = %(record_id)s::uuid)
    AND (%(table_name)s::text IS NULL OR g.table_name = %(table_name)s::text)
    AND (%(action)s::text[] IS NULL OR g.action = ANY (%(action)s::text[]))
    AND (%(actor_id)s::uuid IS NULL OR g.actor_id = %(actor_id)s::uuid)
    AND (%(created_after)s::timestamptz IS NULL OR g.created_at > %(created_after)s::timestamptz)
    AND (%(created_before)s::timestamptz IS NULL OR g.created_at < %(created_before)s::timestamptz)
"""
NEWEST_FIRST = Sort("-created_at", (SortKey("g.created_at", "timestamptz"), SortKey("g.id", "bigint")), True)
LIST = {NEWEST_FIRST.name: keyset_query(COLUMNS, f"public.audit_log g WHERE {FILTERS}", NEWEST_FIRST)}
