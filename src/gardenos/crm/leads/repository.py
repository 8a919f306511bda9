"""SQL for leads. Run as the caller: row-level security confines every statement to the agency."""

from __future__ import annotations

from gardenos.crm.common import Sort, SortKey, keyset_query

COLUMNS = """
l.id, l.first_name, l.last_name, l.email, l.phone, l.company, l.job_title, l.website, l.city, l.country,
l.source, l.status, l.owner_id, l.score, l.estimated_value, l.tags, l.custom_fields, l.notes,
l.last_activity_at, l.converted_at, l.created_at, l.updated_at
"""
# What a body may set, in the order of both sides of UPDATE's SET.
WRITABLE = """
first_name, last_name, email, phone, company, job_title, website, city, country, source, status, owner_id,
score, estimated_value, tags, custom_fields, notes
"""

INSERT = f"""
INSERT INTO public.leads AS l ({WRITABLE})
VALUES (%(first_name)s, %(last_name)s, %(email)s, %(phone)s, %(company)s, %(job_title)s, %(website)s,
    %(city)s, %(country)s, %(source)s, %(status)s, %(owner_id)s, %(score)s, %(estimated_value)s, %(tags)s,
    %(custom_fields)s, %(notes)s)
RETURNING {COLUMNS}
"""
GET = f"SELECT {COLUMNS} FROM public.leads l WHERE l.id = %s"
LOCK = GET + " FOR UPDATE"
# The patch is a JSON object of the fields sent: populating the row from it keeps the others.
UPDATE = f"""
UPDATE public.leads l
SET ({WRITABLE}) = (
    SELECT p.first_name, p.last_name, p.email, p.phone, p.company, p.job_title, p.website, p.city,
           p.country, p.source, p.status, p.owner_id, p.score, p.estimated_value, p.tags, p.custom_fields,
           p.notes
    FROM jsonb_populate_record(l, %(patch)s::jsonb) p
)
WHERE l.id = %(id)s
RETURNING {COLUMNS}
"""
DELETE = "DELETE FROM public.leads l WHERE l.id = %s RETURNING l.id"
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
