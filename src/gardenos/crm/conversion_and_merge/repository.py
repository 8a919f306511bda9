"""SQL for conversion, duplicate detection and merging. Every statement runs in the caller's transaction,
as `authenticated`, so row-level security limits it to the caller's agency: another agency's rows are
simply not there.

Records are returned as `to_jsonb(row)` without the search vector: that is also the shape the audit
trail stores, so what a caller sees and what the trail keeps are the same thing.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.rows import DictRow
from psycopg.types.json import Jsonb

from gardenos.crm.contacts.fields import CLIENT as CLIENT_KIND
from gardenos.crm.contacts.fields import LEAD as LEAD_KIND
from gardenos.crm.contacts.fields import Kind, text
from gardenos.db.pool import Conn
from gardenos.db.rows import fetch_all, fetch_one

# The answer's columns of a lead, from the one list; conversion and merge write through crm/contacts/store.py.
LEAD_COLUMNS = text(LEAD_KIND.select_list())
# The keys duplicate detection compares; the name key is the exact expression of the trigram indexes.
LEAD = f"""
SELECT {LEAD_COLUMNS}, to_jsonb(l) - 'search_vector' AS record, l.email_normalized, l.phone_normalized,
    nullif(btrim(gardenos.name_key(l.first_name, l.last_name)), '') IS NOT NULL
        AS has_name,
    gardenos.name_key(l.first_name, l.last_name) AS name_key,
    lower(nullif(btrim(l.company), '')) AS company_key
FROM public.leads l WHERE l.id = %s
"""
LOCK_LEAD = LEAD + "FOR UPDATE\n"
# In id order, so two merges over overlapping leads queue up instead of deadlocking.
LOCK_LEADS = f"""
SELECT {LEAD_COLUMNS}, to_jsonb(l) - 'search_vector' AS record
FROM public.leads l WHERE l.id = ANY(%s::uuid[]) ORDER BY l.id FOR UPDATE
"""
CLIENTS_OF_LEADS = "SELECT c.id, c.lead_id FROM public.clients c WHERE c.lead_id = ANY(%s::uuid[])"
# memberships' policy shows the caller the members of their active agency.
IS_MEMBER = """
SELECT 1 FROM public.memberships m WHERE m.agency_id = (SELECT auth.agency_id()) AND m.user_id = %s
"""

# The activities stay on the lead too (lead_id is kept): the lead's history reads as before. Activities
# already attached to some other client are left there.
ATTACH_ACTIVITIES_TO_CLIENT = """
UPDATE public.activities SET client_id = %(client_id)s WHERE lead_id = %(lead_id)s AND client_id IS NULL
"""

# A converted survivor's client gets the moved activities too, as conversion would have given them.
MOVE_ACTIVITIES = """
UPDATE public.activities SET lead_id = %(survivor)s, client_id = coalesce(client_id, %(client_id)s)
WHERE lead_id = ANY(%(duplicates)s::uuid[])
"""
# Agent memory names its subject without a foreign key: without this it would point at deleted leads.
MOVE_MEMORY = """
UPDATE public.agent_memory SET subject_id = %(survivor)s
WHERE subject_type = 'lead' AND subject_id = ANY(%(duplicates)s::uuid[])
"""
DELETE_LEADS = "DELETE FROM public.leads WHERE id = ANY(%s::uuid[])"

# The trail's entry for a merge or conversion as a whole (the agency and actor are the database's own).
AUDIT = """
SELECT gardenos.record_event(%(action)s, 'leads', %(record_id)s, %(before)s, %(after)s, %(context)s)
"""

# `%` is pg_trgm's similarity operator: it serves the trigram indexes, with this threshold.
SET_SIMILARITY_THRESHOLD = "SELECT set_config('pg_trgm.similarity_threshold', %s, true)"


def _matches(kind: Kind) -> str:
    """The ids of the kind's records that share a key with the lead: one index lookup a branch."""
    a, table = kind.alias, kind.table
    return f"""
    SELECT {a}.id FROM public.{table} {a} WHERE {a}.email_normalized = %(email)s
    UNION
    SELECT {a}.id FROM public.{table} {a} WHERE {a}.phone_normalized = %(phone)s
    UNION
    SELECT {a}.id FROM public.{table} {a}
    WHERE gardenos.name_key({a}.first_name, {a}.last_name) %% %(name)s
    UNION
    SELECT {a}.id FROM public.{table} {a} WHERE %(name)s::text IS NULL AND lower({a}.company) %% %(company)s
"""


def _candidate(kind: Kind) -> str:
    """A matched record, with what the score and the reasons are made of."""
    a = kind.alias
    return f"""SELECT '{kind.singular}' AS kind, {a}.id, to_jsonb({a}) - 'search_vector' AS record,
        coalesce({a}.email_normalized = %(email)s, false) AS same_email,
        coalesce({a}.phone_normalized = %(phone)s, false) AS same_phone,
        similarity(gardenos.name_key({a}.first_name, {a}.last_name), %(name)s)::float8 AS name_similarity,
        similarity(lower(nullif(btrim({a}.company), '')), %(company)s)::float8 AS company_similarity,
        btrim(coalesce({a}.first_name, '') || coalesce({a}.last_name, '')) = '' AS nameless
    FROM public.{kind.table} {a} JOIN {kind.table}_matches m ON m.id = {a}.id"""


# Candidates for one lead: every branch of the UNIONs is one index lookup (email, phone, name trigram,
# company trigram for a lead without a name), so the cost follows the matches, not the agency's size.
# The score: 1.0 for the same email, 0.9 for the same phone, else a name similarity (which must itself
# reach the threshold) weighed with the company's when both have one.
LEAD_DUPLICATES = f"""
WITH leads_matches AS ({_matches(LEAD_KIND)}),
clients_matches AS ({_matches(CLIENT_KIND)}),
candidates AS (
    {_candidate(LEAD_KIND)}
    WHERE l.id <> %(lead_id)s
    UNION ALL
    {_candidate(CLIENT_KIND)}
    -- The client this lead became is not a duplicate of it.
    WHERE c.lead_id IS DISTINCT FROM %(lead_id)s
),
scored AS (
    SELECT *, greatest(
        CASE WHEN same_email THEN 1.0::float8 END,
        CASE WHEN same_phone THEN 0.9::float8 END,
        CASE
            WHEN %(name)s::text IS NULL THEN CASE WHEN nameless THEN company_similarity END
            WHEN name_similarity < %(threshold)s THEN NULL
            WHEN company_similarity IS NULL THEN 0.85 * name_similarity
            ELSE 0.6 * name_similarity + 0.4 * company_similarity
        END
    ) AS score
    FROM candidates
)
SELECT kind, id, record, same_email, same_phone, name_similarity, company_similarity, score
FROM scored WHERE score >= %(threshold)s
ORDER BY score DESC, kind, id
LIMIT %(limit)s
"""


def _groups(name: str, column: str) -> str:
    """The first `limit` keys of `column` shared by several leads, and each key's first leads."""
    return f"""{name}_keys AS (
    SELECT {column} AS key FROM public.leads WHERE {column} IS NOT NULL
    GROUP BY {column} HAVING count(*) > 1
    ORDER BY {column} LIMIT %(limit)s
),
{name}_groups AS (
    SELECT k.key, g.ids FROM {name}_keys k CROSS JOIN LATERAL (
        SELECT array_agg(l.id ORDER BY l.id) AS ids FROM (
            SELECT id FROM public.leads WHERE {column} = k.key ORDER BY id LIMIT %(limit)s + 1
        ) AS l
    ) AS g
)"""


# Likely duplicates across the agency: leads sharing a normalised email or phone. The keys come from an
# index-only walk of (agency_id, email_normalized) / (agency_id, phone_normalized) in key order, which
# stops once `limit` duplicated keys are found; each key's leads are then one index lookup. No pairwise
# comparison. Each group becomes pairs of its oldest lead (the natural survivor) with each of the others.
AGENCY_DUPLICATES = f"""
WITH {_groups("email", "email_normalized")},
{_groups("phone", "phone_normalized")},
pairs AS (
    SELECT g.ids[1] AS first_id, d.id AS second_id, g.key AS email_key, NULL::text AS phone_key
    FROM email_groups g CROSS JOIN LATERAL unnest(g.ids[2:]) AS d(id)
    UNION ALL
    SELECT g.ids[1], d.id, NULL, g.key FROM phone_groups g CROSS JOIN LATERAL unnest(g.ids[2:]) AS d(id)
),
merged AS (
    SELECT first_id, second_id, min(email_key) AS email_key, min(phone_key) AS phone_key
    FROM pairs GROUP BY first_id, second_id
)
SELECT m.email_key IS NOT NULL AS same_email, m.phone_key IS NOT NULL AS same_phone,
    to_jsonb(a) - 'search_vector' AS first, to_jsonb(b) - 'search_vector' AS second
FROM merged m
JOIN public.leads a ON a.id = m.first_id
JOIN public.leads b ON b.id = m.second_id
ORDER BY m.email_key IS NULL, m.email_key, m.phone_key, m.second_id
LIMIT %(limit)s
"""


async def execute(conn: Conn, query: str, params: Sequence[Any] | Mapping[str, Any]) -> int:
    """Runs a write; returns how many rows it touched."""
    cur = await conn.execute(query, params)
    return cur.rowcount


async def lead(conn: Conn, lead_id: uuid.UUID, *, lock: bool = False) -> DictRow | None:
    return await fetch_one(conn, LOCK_LEAD if lock else LEAD, (lead_id,))


async def lock_leads(conn: Conn, lead_ids: Sequence[uuid.UUID]) -> list[DictRow]:
    return await fetch_all(conn, LOCK_LEADS, (list(lead_ids),))


async def clients_of_leads(conn: Conn, lead_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID]:
    """{lead id: id of the client it became}."""
    rows = await fetch_all(conn, CLIENTS_OF_LEADS, (list(lead_ids),))
    return {row["lead_id"]: row["id"] for row in rows}


async def audit(
    conn: Conn,
    action: str,
    record_id: uuid.UUID,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    context: dict[str, Any],
) -> None:
    await conn.execute(
        AUDIT,
        {
            "action": action,
            "record_id": record_id,
            "before": Jsonb(before) if before is not None else None,
            "after": Jsonb(after) if after is not None else None,
            "context": Jsonb(context),
        },
    )
