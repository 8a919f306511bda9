"""SQL for what only leads have: their own filters and orders. Run as the caller: row-level
security confines every statement to the agency."""

from __future__ import annotations

from gardenos.crm.common import Sort, SortKey
from gardenos.crm.contacts import lists
from gardenos.crm.contacts.fields import LEAD

SEARCH = lists.search(LEAD)
FILTERS = """
    AND (%(source)s::text IS NULL OR l.source = %(source)s::text)
    AND (%(score_min)s::int IS NULL OR l.score >= %(score_min)s::int)
    AND (%(score_max)s::int IS NULL OR l.score <= %(score_max)s::int)"""
_ID = lists.by_id(LEAD)
SORTS = lists.sorts(LEAD) | {
    # Unscored leads last either way.
    "-score": Sort("-score", (SortKey("coalesce(l.score, -1)", "int"), _ID), True),
    "score": Sort("score", (SortKey("coalesce(l.score, 101)", "int"), _ID), False),
}
LIST = lists.queries(LEAD, FILTERS, SORTS)
