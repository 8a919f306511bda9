"""SQL for clients. Run as the caller: row-level security confines every statement to the agency."""

from __future__ import annotations

from gardenos.crm.common import Sort, SortKey, keyset_query

COLUMNS = """
c.id, c.lead_id, c.first_name, c.last_name, c.email, c.phone, c.company, c.job_title, c.website, c.city,
c.country, c.status, c.owner_id, c.lifetime_value, c.tags, c.custom_fields, c.notes, c.last_activity_at,
c.converted_at, c.created_at, c.updated_at
"""
# What a body may set, in the order of both sides of UPDATE's SET.
WRITABLE = """
first_name, last_name, email, phone, company, job_title, website, city, country, status, owner_id,
lifetime_value, tags, custom_fields, notes
"""

INSERT = f"""
INSERT INTO public.clients AS c ({WRITABLE})
VALUES (%(first_name)s, %(last_name)s, %(email)s, %(phone)s, %(company)s, %(job_title)s, %(website)s,
    %(city)s, %(country)s, %(status)s, %(owner_id)s, %(lifetime_value)s, %(tags)s, %(custom_fields)s,
    %(notes)s)
RETURNING {COLUMNS}
"""
GET = f"SELECT {COLUMNS} FROM public.clients c WHERE c.id = %s"
LOCK = GET + " FOR UPDATE"
# The patch is a JSON object of the fields sent: populating the row from it keeps the others.
UPDATE = f"""
UPDATE public.clients c
SET ({WRITABLE}) = (
    SELECT p.first_name, p.last_name, p.email, p.phone, p.company, p.job_title, p.website, p.city,
           p.country, p.status, p.owner_id, p.lifetime_value, p.tags, p.custom_fields, p.notes
    FROM jsonb_populate_record(c, %(patch)s::jsonb) p
)
WHERE c.id = %(id)s
RETURNING {COLUMNS}
"""
DELETE = "DELETE FROM public.clients c WHERE c.id = %s RETURNING c.id"

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
