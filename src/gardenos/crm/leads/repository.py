"""SQL for what only leads have: their own filters and orders, and tags. Run as the caller: row-level
security confines every statement to the agency."""

from __future__ import annotations

from gardenos.crm.common import Sort, SortKey
from gardenos.crm.contacts import lists
from gardenos.crm.contacts.fields import LEAD, text

# The answer's columns, from the one list (crm/contacts/fields.py); reads and writes by id are
# crm/contacts/store.py's.
COLUMNS = text(LEAD.select_list())
# Both change nothing (no row) when the tag is already there, or already gone.
ADD_TAG = f"""
UPDATE public.leads l SET tags = array_append(l.tags, %(tag)s::text)
WHERE l.id = %(id)s AND NOT %(tag)s::text = ANY (l.tags) AND cardinality(l.tags) < %(max)s
RETURNING {COLUMNS}
"""
REMOVE_TAG = f"""
UPDATE public.leads l SET tags = array_remove(l.tags, %(tag)s::text)
WHERE l.id = %(id)s AND %(tag)s::text = ANY (l.tags)
RETURNING {COLUMNS}
"""

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
