"""SQL the agents run. Always in a transaction under the task's agency claims: row-level security keeps
every statement inside that agency, so a payload naming another agency's record finds nothing."""

from __future__ import annotations

from gardenos.crm.contacts import fields
from gardenos.crm.contacts.fields import PERSON, Kind, column_list, text

# A lead or client as the agents read it: the person and what the agency keeps, from the one column list
# (crm/contacts/fields.py), without the custom fields (free-form, they would only swell a prompt); then
# the kind's own columns, and its age and quiet time in days.
RECORD = (
    "id",
    *PERSON,
    "status",
    "owner_id",
    "tags",
    "notes",
    "last_activity_at",
    "created_at",
    "updated_at",
)


def _record(kind: Kind) -> str:
    columns = text(column_list((*RECORD, *kind.own), "r"))
    return f"""
SELECT {columns},
       extract(epoch FROM now() - r.created_at) / 86400 AS age_days,
       extract(epoch FROM now() - r.last_activity_at) / 86400 AS days_since_activity
FROM public.{kind.table} r WHERE r.id = %s
"""


LEAD = _record(fields.LEAD)
CLIENT = _record(fields.CLIENT)
# Newest first; `days_ago` and `due_in_days` make the context self-contained (the offline rules never
# read the clock).
ACTIVITIES = """
SELECT a.id, a.kind, a.subject, left(a.body, 500) AS body, a.status, a.occurred_at,
       extract(epoch FROM now() - a.occurred_at) / 86400 AS days_ago,
       extract(epoch FROM a.due_at - now()) / 86400 AS due_in_days
FROM public.activities a
WHERE (%(lead_id)s::uuid IS NOT NULL AND a.lead_id = %(lead_id)s::uuid)
   OR (%(client_id)s::uuid IS NOT NULL AND a.client_id = %(client_id)s::uuid)
ORDER BY a.occurred_at DESC, a.id DESC
LIMIT %(limit)s
"""
AGENCY = "SELECT a.id, a.name, a.settings FROM public.agencies a WHERE a.id = auth.agency_id()"

# Similar past leads that ended (converted or lost), by the lead's own vector.
NEIGHBOURS = """
SELECT n.lead_id AS id, l.status, 1 - (n.embedding OPERATOR(extensions.<=>) e.embedding) AS similarity
FROM public.record_embeddings e
JOIN public.record_embeddings n ON n.embedding_model = e.embedding_model AND n.lead_id IS NOT NULL
    AND n.lead_id <> e.lead_id
JOIN public.leads l ON l.id = n.lead_id AND l.status IN ('converted', 'lost')
WHERE e.lead_id = %(lead_id)s
ORDER BY n.embedding::extensions.halfvec(384) OPERATOR(extensions.<=>) e.embedding::extensions.halfvec(384)
LIMIT %(limit)s
"""

SAVE_ANALYSIS = """
INSERT INTO public.lead_analyses (agency_id, lead_id, task_id, quality_score, conversion_probability,
    next_actions, reasons, model)
VALUES (auth.agency_id(), %(lead_id)s, %(task_id)s, %(quality_score)s, %(conversion_probability)s,
    %(next_actions)s, %(reasons)s, %(model)s)
RETURNING id
"""

DRAFT_ACTIVITY = """
INSERT INTO public.activities (id, agency_id, lead_id, client_id, kind, subject, body, status, created_by,
    metadata)
VALUES (%(id)s, auth.agency_id(), %(lead_id)s, %(client_id)s, %(kind)s, %(subject)s, %(body)s, 'draft',
    (SELECT auth.uid()), %(metadata)s)
RETURNING id
"""

PRICE_LIST = """
SELECT p.sku, p.name, p.description, p.unit, p.unit_price, p.currency, p.keywords
FROM public.price_list_items p WHERE p.active ORDER BY p.sku
"""

# Insight: the agency's pipeline in numbers.
INSIGHT_TOTALS = """
SELECT count(*) AS total_leads,
       count(*) FILTER (WHERE l.status = 'converted') AS converted_leads,
       count(*) FILTER (WHERE l.status = 'lost') AS lost_leads,
       count(*) FILTER (WHERE l.status NOT IN ('converted', 'lost')
                        AND coalesce(l.last_activity_at, l.created_at)
                            < now() - make_interval(days => %(stale_days)s))
           AS stale_leads
FROM public.leads l
"""
INSIGHT_BY_SOURCE = """
SELECT coalesce(nullif(l.source, ''), '(none)') AS source, count(*) AS leads,
       count(*) FILTER (WHERE l.status = 'converted') AS converted,
       round(count(*) FILTER (WHERE l.status = 'converted')::numeric / count(*), 4)::float8 AS rate
FROM public.leads l GROUP BY 1 ORDER BY 2 DESC LIMIT 20
"""
INSIGHT_BY_STAGE = """
SELECT l.status, count(*) AS leads, coalesce(sum(l.estimated_value), 0)::float8 AS estimated_value
FROM public.leads l GROUP BY 1 ORDER BY 2 DESC
"""
INSIGHT_RESPONSE = """
SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM f.first_at - l.created_at) / 3600)
    AS median_first_response_hours
FROM public.leads l
JOIN LATERAL (SELECT min(a.occurred_at) AS first_at FROM public.activities a
              WHERE a.lead_id = l.id AND a.status = 'done') f ON f.first_at IS NOT NULL
WHERE l.created_at > now() - interval '180 days'
"""

# Embeddings: the text a record is embedded from, and the upsert.
EMBED_SOURCE = {
    "lead": """
SELECT r.id, concat_ws(' | ', nullif(concat_ws(' ', r.first_name, r.last_name), ''), r.job_title, r.company,
       concat_ws(', ', r.city, r.country), 'source: ' || r.source, 'status: ' || r.status,
       nullif(array_to_string(r.tags, ', '), ''), r.email, left(r.notes, 1000)) AS text
FROM public.leads r WHERE r.id = ANY (%(ids)s::uuid[])
""",
    "client": """
SELECT r.id, concat_ws(' | ', nullif(concat_ws(' ', r.first_name, r.last_name), ''), r.job_title, r.company,
       concat_ws(', ', r.city, r.country), 'status: ' || r.status,
       nullif(array_to_string(r.tags, ', '), ''), r.email, left(r.notes, 1000)) AS text
FROM public.clients r WHERE r.id = ANY (%(ids)s::uuid[])
""",
}
# Records without a vector of the current model.
# Records without a vector of the model, by id from `after` on: a backfill passes the last id of each batch,
# so that each batch starts where the last one ended (from the start every time, the batches of a
# 100,000-lead backfill re-read 20 million rows in all).
NIL_UUID = "00000000-0000-0000-0000-000000000000"
MISSING_EMBEDDINGS = {
    "lead": """
SELECT r.id FROM public.leads r
WHERE r.id > %(after)s::uuid AND NOT EXISTS (
    SELECT FROM public.record_embeddings e WHERE e.lead_id = r.id AND e.embedding_model = %(model)s)
ORDER BY r.id LIMIT %(limit)s
""",
    "client": """
SELECT r.id FROM public.clients r
WHERE r.id > %(after)s::uuid AND NOT EXISTS (
    SELECT FROM public.record_embeddings e WHERE e.client_id = r.id AND e.embedding_model = %(model)s)
ORDER BY r.id LIMIT %(limit)s
""",
}
EXISTING_HASHES = {
    "lead": """SELECT e.lead_id, e.content_hash FROM public.record_embeddings e
               WHERE e.lead_id = ANY (%(ids)s::uuid[]) AND e.embedding_model = %(model)s""",
    "client": """SELECT e.client_id, e.content_hash FROM public.record_embeddings e
                 WHERE e.client_id = ANY (%(ids)s::uuid[]) AND e.embedding_model = %(model)s""",
}
UPSERT_EMBEDDINGS = {
    "lead": """
INSERT INTO public.record_embeddings AS e (agency_id, lead_id, embedding, embedding_model, content_hash)
SELECT auth.agency_id(), v.id, v.embedding::extensions.vector, %(model)s, v.hash
FROM unnest(%(ids)s::uuid[], %(vectors)s::text[], %(hashes)s::text[]) AS v (id, embedding, hash)
WHERE EXISTS (SELECT FROM public.leads r WHERE r.id = v.id)
ON CONFLICT ON CONSTRAINT record_embeddings_lead_key DO UPDATE
SET embedding = excluded.embedding, embedding_model = excluded.embedding_model,
    content_hash = excluded.content_hash, updated_at = now()
""",
    "client": """
INSERT INTO public.record_embeddings AS e (agency_id, client_id, embedding, embedding_model, content_hash)
SELECT auth.agency_id(), v.id, v.embedding::extensions.vector, %(model)s, v.hash
FROM unnest(%(ids)s::uuid[], %(vectors)s::text[], %(hashes)s::text[]) AS v (id, embedding, hash)
WHERE EXISTS (SELECT FROM public.clients r WHERE r.id = v.id)
ON CONFLICT ON CONSTRAINT record_embeddings_client_key DO UPDATE
SET embedding = excluded.embedding, embedding_model = excluded.embedding_model,
    content_hash = excluded.content_hash, updated_at = now()
""",
}
