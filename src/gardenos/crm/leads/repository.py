"""SQL for what only leads have: their list filters and sorts, and tags. Run as the caller: row-level security
confines every statement to the agency."""

from __future__ import annotations

from gardenos.crm.common import Sort, SortKey, keyset_query
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

# The search expressions are those of the trigram and full-text indexes (0003), so that the indexes
# can serve them.
NAME = "gardenos.name_key(l.first_name, l.last_name)"
SEARCH = f"""
    l.search_vector @@ websearch_to_tsquery('simple', %(q)s::text)
    OR {NAME} OPERATOR(extensions.%%>) lower(%(q)s::text)
    OR lower(l.company) OPERATOR(extensions.%%>) lower(%(q)s::text)
    OR l.email_normalized ^@ lower(%(q)s::text)
"""
RELEVANCE = f"""greatest(
    extensions.word_similarity(lower(%(q)s::text), {NAME}),
    extensions.word_similarity(lower(%(q)s::text), lower(coalesce(l.company, ''))),
    ts_rank(l.search_vector, websearch_to_tsquery('simple', %(q)s::text)),
    CASE WHEN l.email_normalized ^@ lower(%(q)s::text) THEN 0.5 ELSE 0 END
)::float8"""
FILTERS = f"""
    (%(status)s::text[] IS NULL OR l.status = ANY (%(status)s::text[]))
    AND (%(source)s::text IS NULL OR l.source = %(source)s::text)
    AND (%(owner_id)s::uuid IS NULL OR l.owner_id = %(owner_id)s::uuid)
    AND (%(tags)s::text[] IS NULL OR l.tags @> %(tags)s::text[])
    AND (%(score_min)s::int IS NULL OR l.score >= %(score_min)s::int)
    AND (%(score_max)s::int IS NULL OR l.score <= %(score_max)s::int)
    AND (%(created_after)s::timestamptz IS NULL OR l.created_at > %(created_after)s::timestamptz)
    AND (%(created_before)s::timestamptz IS NULL OR l.created_at < %(created_before)s::timestamptz)
    AND (%(q)s::text IS NULL OR {SEARCH})
"""
_ID = SortKey("l.id", "uuid")
SORTS = {
    "-created_at": Sort("-created_at", (SortKey("l.created_at", "timestamptz"), _ID), True),
    "created_at": Sort("created_at", (SortKey("l.created_at", "timestamptz"), _ID), False),
    "-updated_at": Sort("-updated_at", (SortKey("l.updated_at", "timestamptz"), _ID), True),
    # Unscored leads last either way.
    "-score": Sort("-score", (SortKey("coalesce(l.score, -1)", "int"), _ID), True),
    "score": Sort("score", (SortKey("coalesce(l.score, 101)", "int"), _ID), False),
    # Case-insensitive, leads without a last name last.
    "last_name": Sort(
        "last_name",
        (SortKey("l.last_name IS NULL", "bool"), SortKey("lower(coalesce(l.last_name, ''))", "text"), _ID),
        False,
    ),
    "relevance": Sort("relevance", (SortKey(RELEVANCE, "float8"), _ID), True),
}
LIST = {name: keyset_query(COLUMNS, f"public.leads l WHERE {FILTERS}", sort) for name, sort in SORTS.items()}
