"""SQL for activities and timelines. Run as the caller: row-level security keeps it in the agency, and the
composite foreign keys keep an activity on a lead or client of the same agency."""

from __future__ import annotations

from gardenos.crm.common import Sort, SortKey, keyset_query

COLUMNS = """
a.id, a.lead_id, a.client_id, a.kind, a.subject, a.body, a.status, a.due_at, a.completed_at, a.created_by,
a.metadata, a.occurred_at, a.created_at, a.updated_at
"""
# What PATCH may change, in the order of both sides of its SET.
WRITABLE = "kind, subject, body, status, due_at, occurred_at, metadata"

LEAD_EXISTS = "SELECT EXISTS (SELECT FROM public.leads l WHERE l.id = %s) AS found"
CLIENT_EXISTS = "SELECT EXISTS (SELECT FROM public.clients c WHERE c.id = %s) AS found"
INSERT = f"""
INSERT INTO public.activities AS a (lead_id, client_id, kind, subject, body, status, due_at, completed_at,
    created_by, metadata, occurred_at)
VALUES (%(lead_id)s, %(client_id)s, %(kind)s, %(subject)s, %(body)s, %(status)s::text, %(due_at)s,
    CASE WHEN %(status)s::text = 'done' THEN now() END, (SELECT auth.uid()), %(metadata)s,
    coalesce(%(occurred_at)s::timestamptz, now()))
RETURNING {COLUMNS}
"""
GET = f"SELECT {COLUMNS} FROM public.activities a WHERE a.id = %s"
LOCK = GET + " FOR UPDATE"
# The patch is a JSON object of the fields sent: populating the row from it keeps the others.
UPDATE = f"""
UPDATE public.activities a
SET ({WRITABLE}) = (SELECT p.kind, p.subject, p.body, p.status, p.due_at, p.occurred_at, p.metadata
                    FROM jsonb_populate_record(a, %(patch)s::jsonb) p),
    completed_at = CASE %(completion)s::text WHEN 'set' THEN now() WHEN 'clear' THEN NULL
                   ELSE a.completed_at END
WHERE a.id = %(id)s
RETURNING {COLUMNS}
"""
COMPLETE = f"""
UPDATE public.activities a SET status = 'done', completed_at = now() WHERE a.id = %s RETURNING {COLUMNS}
"""
DELETE = "DELETE FROM public.activities a WHERE a.id = %s RETURNING a.id"

# An activity moves its record's last_activity_at forward (never into the future, never back).
# An approved email draft, as sent now: the subject and body that left, and where it went in `metadata`.
MARK_SENT = f"""
UPDATE public.activities a
SET status = 'done', subject = %(subject)s, body = %(body)s, completed_at = now(), occurred_at = now(),
    metadata = a.metadata || %(meta)s
WHERE a.id = %(id)s
RETURNING {COLUMNS}
"""
TOUCH_LEAD = """
UPDATE public.leads l SET last_activity_at = least(%(at)s::timestamptz, now())
WHERE l.id = %(id)s AND (l.last_activity_at IS NULL OR l.last_activity_at < least(%(at)s::timestamptz, now()))
"""
TOUCH_CLIENT = """
UPDATE public.clients c SET last_activity_at = least(%(at)s::timestamptz, now())
WHERE c.id = %(id)s AND (c.last_activity_at IS NULL OR c.last_activity_at < least(%(at)s::timestamptz, now()))
"""

FILTERS = """
    (%(kind)s::text[] IS NULL OR a.kind = ANY (%(kind)s::text[]))
    AND (%(status)s::text[] IS NULL OR a.status = ANY (%(status)s::text[]))
    AND (%(lead_id)s::uuid IS NULL OR a.lead_id = %(lead_id)s::uuid)
    AND (%(client_id)s::uuid IS NULL OR a.client_id = %(client_id)s::uuid)
    AND (%(created_by)s::uuid IS NULL OR a.created_by = %(created_by)s::uuid)
    AND (%(due_before)s::timestamptz IS NULL OR a.due_at < %(due_before)s::timestamptz)
    AND (%(due_after)s::timestamptz IS NULL OR a.due_at > %(due_after)s::timestamptz)
    AND (%(occurred_after)s::timestamptz IS NULL OR a.occurred_at > %(occurred_after)s::timestamptz)
    AND (%(occurred_before)s::timestamptz IS NULL OR a.occurred_at < %(occurred_before)s::timestamptz)
"""
_ID = SortKey("a.id", "uuid")
SORTS = {
    "-occurred_at": Sort("-occurred_at", (SortKey("a.occurred_at", "timestamptz"), _ID), True),
    "occurred_at": Sort("occurred_at", (SortKey("a.occurred_at", "timestamptz"), _ID), False),
    "-created_at": Sort("-created_at", (SortKey("a.created_at", "timestamptz"), _ID), True),
    # Soonest first, undated last; the second key is a placeholder for the undated.
    "due_at": Sort(
        "due_at",
        (
            SortKey("a.due_at IS NULL", "bool"),
            SortKey("coalesce(a.due_at, 'epoch'::timestamptz)", "timestamptz"),
            _ID,
        ),
        False,
    ),
}
LIST = {
    name: keyset_query(COLUMNS, f"public.activities a WHERE {FILTERS}", sort) for name, sort in SORTS.items()
}

# A lead's or client's activities and the audit entries of the record itself, merged newest first.
TIMELINE_SOURCE = """(
    SELECT 'activity' AS type, a.occurred_at AS at, a.id::text AS key, to_jsonb(a) AS activity,
           NULL::jsonb AS audit
    FROM public.activities a WHERE a.lead_id = %(lead_id)s::uuid OR a.client_id = %(client_id)s::uuid
    UNION ALL
    SELECT 'audit', g.created_at, g.id::text, NULL, to_jsonb(g)
    FROM public.audit_log g WHERE g.record_id = %(record_id)s::uuid AND g.table_name = %(table)s::text
) t"""
TIMELINE_ORDER = Sort(
    "timeline",
    (SortKey("t.at", "timestamptz"), SortKey("t.type", "text"), SortKey("t.key", "text")),
    True,
)
TIMELINE = {
    TIMELINE_ORDER.name: keyset_query("t.type, t.at, t.activity, t.audit", TIMELINE_SOURCE, TIMELINE_ORDER)
}
