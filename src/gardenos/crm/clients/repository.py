"""SQL for what only clients have: their list filters and sorts. Run as the caller: row-level security
confines every statement to the agency."""

from __future__ import annotations

from gardenos.crm.common import Sort, SortKey, keyset_query
from gardenos.crm.contacts.fields import CLIENT, text

# The answer's columns, from the one list (crm/contacts/fields.py); reads and writes by id are
# crm/contacts/store.py's.
COLUMNS = text(CLIENT.select_list())

# The search expressions are those of the trigram and full-text indexes (0003), so that the indexes
# can serve them.
NAME = "gardenos.name_key(c.first_name, c.last_name)"
SEARCH = f"""
    c.search_vector @@ websearch_to_tsquery('simple', %(q)s::text)
    OR {NAME} OPERATOR(extensions.%%>) lower(%(q)s::text)
    OR lower(c.company) OPERATOR(extensions.%%>) lower(%(q)s::text)
    OR c.email_normalized ^@ lower(%(q)s::text)
"""
RELEVANCE = f"""greatest(
    extensions.word_similarity(lower(%(q)s::text), {NAME}),
    extensions.word_similarity(lower(%(q)s::text), lower(coalesce(c.company, ''))),
    ts_rank(c.search_vector, websearch_to_tsquery('simple', %(q)s::text)),
    CASE WHEN c.email_normalized ^@ lower(%(q)s::text) THEN 0.5 ELSE 0 END
)::float8"""
FILTERS = f"""
    (%(status)s::text[] IS NULL OR c.status = ANY (%(status)s::text[]))
    AND (%(owner_id)s::uuid IS NULL OR c.owner_id = %(owner_id)s::uuid)
    AND (%(tags)s::text[] IS NULL OR c.tags @> %(tags)s::text[])
    AND (%(lifetime_value_min)s::numeric IS NULL OR c.lifetime_value >= %(lifetime_value_min)s::numeric)
    AND (%(lifetime_value_max)s::numeric IS NULL OR c.lifetime_value <= %(lifetime_value_max)s::numeric)
    AND (%(created_after)s::timestamptz IS NULL OR c.created_at > %(created_after)s::timestamptz)
    AND (%(created_before)s::timestamptz IS NULL OR c.created_at < %(created_before)s::timestamptz)
    AND (%(q)s::text IS NULL OR {SEARCH})
"""
_ID = SortKey("c.id", "uuid")
SORTS = {
    "-created_at": Sort("-created_at", (SortKey("c.created_at", "timestamptz"), _ID), True),
    "created_at": Sort("created_at", (SortKey("c.created_at", "timestamptz"), _ID), False),
    "-updated_at": Sort("-updated_at", (SortKey("c.updated_at", "timestamptz"), _ID), True),
    "-lifetime_value": Sort("-lifetime_value", (SortKey("c.lifetime_value", "numeric"), _ID), True),
    "lifetime_value": Sort("lifetime_value", (SortKey("c.lifetime_value", "numeric"), _ID), False),
    # Case-insensitive, clients without a last name last.
    "last_name": Sort(
        "last_name",
        (SortKey("c.last_name IS NULL", "bool"), SortKey("lower(coalesce(c.last_name, ''))", "text"), _ID),
        False,
    ),
    "relevance": Sort("relevance", (SortKey(RELEVANCE, "float8"), _ID), True),
}
LIST = {
    name: keyset_query(COLUMNS, f"public.clients c WHERE {FILTERS}", sort) for name, sort in SORTS.items()
}
