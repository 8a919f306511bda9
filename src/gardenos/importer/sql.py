"""The importer's SQL. Every statement runs as `authenticated` with the importing member's claims, so
row-level security confines it to that agency: `public.leads` below is the agency's leads only."""

from __future__ import annotations

# Two-key advisory locks: (IMPORT_LOCK, hashtext(import id)) is held by whoever runs an import, for the
# whole run; (AGENCY_LOCK, hashtext(agency id)) serialises the imports of one agency (duplicate checks
# against rows another import is about to commit would miss them).
IMPORT_LOCK = 70071
AGENCY_LOCK = 70072

TRY_LOCK = "SELECT pg_try_advisory_lock(%s, hashtext(%s::text))"
UNLOCK = "SELECT pg_advisory_unlock(%s, hashtext(%s::text))"
LOCK_AGENCY = "SELECT pg_advisory_xact_lock(%s, hashtext(auth.agency_id()::text))"
AUDIT_OFF = "SELECT set_config('gardenos.audit', 'off', true)"
# `lead.created` subscriptions (0011) would queue one agent task per imported row; the import queues its
# own embedding jobs instead, a thousand leads a job.
SUBSCRIPTIONS_OFF = "SELECT set_config('gardenos.subscriptions', 'off', true)"
AUDIT_ON = "SELECT set_config('gardenos.audit', 'on', true)"
WORK_MEM = "SELECT set_config('work_mem', '64MB', true)"

IMPORT_COLUMNS = """
i.id, i.kind, i.filename, i.status, i.on_duplicate, i.mapping, i.options, i.detected, i.rows_total,
i.rows_imported, i.rows_updated, i.rows_invalid, i.rows_duplicate, i.error, i.file_size, i.file_sha256,
i.attempts, i.created_by, i.created_at, i.started_at, i.finished_at
"""
CREATE_IMPORT = f"""
INSERT INTO public.imports AS i (filename, status, on_duplicate, mapping, options, file_size, file_sha256,
    file_path, created_by)
VALUES (%(filename)s, 'pending', %(on_duplicate)s, %(mapping)s, %(options)s, %(file_size)s, %(file_sha256)s,
    %(file_path)s, auth.uid())
RETURNING {IMPORT_COLUMNS}
"""
GET_IMPORT = f"SELECT {IMPORT_COLUMNS}, i.file_path FROM public.imports i WHERE i.id = %s"
LIST_IMPORTS = f"SELECT {IMPORT_COLUMNS} FROM public.imports i ORDER BY i.created_at DESC LIMIT %s"
# An interrupted import of the same file, to take over rather than start a second one.
FIND_INTERRUPTED = """
SELECT i.id FROM public.imports i
WHERE i.file_sha256 = %s AND (i.status IN ('pending', 'running') OR (i.status = 'failed' AND i.error = %s))
ORDER BY i.created_at DESC LIMIT 1
"""
START = """
UPDATE public.imports SET status = 'running', started_at = now(), finished_at = NULL, error = NULL,
    attempts = attempts + 1, rows_total = 0, rows_imported = 0, rows_updated = 0, rows_invalid = 0,
    rows_duplicate = 0, on_duplicate = %(on_duplicate)s, options = %(options)s
WHERE id = %(id)s AND status IN ('pending', 'running', 'failed')
RETURNING id
"""
PROGRESS = "UPDATE public.imports SET rows_total = %s, rows_invalid = %s WHERE id = %s AND status = 'running'"
FINISH = """
UPDATE public.imports SET status = 'succeeded', finished_at = now(), file_path = NULL,
    detected = %(detected)s, mapping = %(mapping)s, rows_total = %(total)s, rows_imported = %(inserted)s,
    rows_updated = %(updated)s, rows_invalid = %(invalid)s, rows_duplicate = %(duplicate)s
WHERE id = %(id)s
"""
FAIL = """
UPDATE public.imports SET status = 'failed', finished_at = now(), error = %s, rows_imported = 0,
    rows_updated = 0, rows_duplicate = 0
WHERE id = %s AND status IN ('pending', 'running')
"""
# An import marked running whose lock nobody holds has lost its process (killed, crashed): its transaction
# rolled back with it, so nothing of it was kept. Pending imports wait for a worker for an hour at most.
REAP = f"""
UPDATE public.imports i SET status = 'failed', finished_at = now(), error = %(error)s, rows_imported = 0,
    rows_updated = 0, rows_duplicate = 0
WHERE (i.status = 'running' OR (i.status = 'pending' AND i.created_at < now() - interval '1 hour'))
    AND NOT EXISTS (
        SELECT FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.classid = {IMPORT_LOCK}
            AND l.objid = hashtext(i.id::text)::oid AND l.objsubid = 2 AND l.granted
    )
RETURNING i.id
"""
INTERRUPTED = (
    "the import stopped before it finished (its process was stopped or crashed); nothing of it was kept: "
    "import the file again to resume"
)

STAGE = """
CREATE TEMP TABLE import_stage (
    line bigint NOT NULL,
    first_name text, last_name text, email text, email_key text, phone text, phone_keys text[], company text,
    job_title text, website text, city text, country text, source text, status text, notes text, tags text[],
    custom_fields jsonb, created_at timestamptz,
    id uuid NOT NULL DEFAULT uuidv7()
) ON COMMIT DROP
"""
STAGE_ERRORS = """
CREATE TEMP TABLE import_stage_errors (line bigint NOT NULL, column_name text, reason text NOT NULL,
    raw_row text) ON COMMIT DROP
"""
COPY_STAGE = "COPY import_stage ({columns}) FROM STDIN WITH (NULL '')"
COPY_ERRORS = "COPY import_stage_errors (line, column_name, reason, raw_row) FROM STDIN"
SAVE_ERRORS = """
INSERT INTO public.import_errors (import_id, line_number, column_name, reason, raw_row)
SELECT %s, e.line, e.column_name, e.reason, e.raw_row FROM import_stage_errors e ORDER BY e.line
"""
ANALYZE_STAGE = "ANALYZE import_stage"

# What becomes of each staged row. A row repeats an earlier one of the file when it shares its email or
# its phone (the earlier one wins). Otherwise it matches an existing lead, then an existing client, by
# email first, then by phone in any of the forms it may be stored in. Under update/merge, the first row
# matching a lead changes that lead; clients are never changed by a lead import.
PLAN = """
CREATE TEMP TABLE import_plan ON COMMIT DROP AS
WITH firsts AS (
    SELECT s.line,
        CASE WHEN s.email_key IS NOT NULL THEN min(s.line) OVER (PARTITION BY s.email_key) END AS by_email,
        CASE WHEN s.phone IS NOT NULL THEN min(s.line) OVER (PARTITION BY s.phone) END AS by_phone
    FROM import_stage s
),
phones AS (
    SELECT s.line, k.key FROM import_stage s CROSS JOIN LATERAL unnest(s.phone_keys) AS k (key)
),
matches AS (
    SELECT DISTINCT ON (m.line) m.line, m.lead_id, m.client_id
    FROM (
        SELECT s.line, l.id AS lead_id, NULL::uuid AS client_id, 1 AS rank
        FROM import_stage s JOIN public.leads l ON l.email_normalized = s.email_key
        UNION ALL
        SELECT p.line, l.id, NULL, 2 FROM phones p JOIN public.leads l ON l.phone_normalized = p.key
        UNION ALL
        SELECT s.line, NULL, c.id, 3
        FROM import_stage s JOIN public.clients c ON c.email_normalized = s.email_key
        UNION ALL
        SELECT p.line, NULL, c.id, 4 FROM phones p JOIN public.clients c ON c.phone_normalized = p.key
    ) m
    ORDER BY m.line, m.rank, m.lead_id, m.client_id
),
decided AS (
    SELECT f.line, m.lead_id,
        CASE
            WHEN least(f.by_email, f.by_phone) < f.line THEN 'duplicate'
            WHEN m.lead_id IS NULL AND m.client_id IS NULL THEN 'insert'
            ELSE 'match'
        END AS action
    FROM firsts f LEFT JOIN matches m USING (line)
)
SELECT d.line, d.lead_id,
    CASE
        WHEN d.action <> 'match' THEN d.action
        WHEN %(policy)s <> 'skip' AND d.lead_id IS NOT NULL
            AND d.line = min(d.line) OVER (PARTITION BY d.action, d.lead_id) THEN 'update'
        ELSE 'duplicate'
    END AS action
FROM decided d
"""
COUNT_PLAN = """
SELECT count(*) FILTER (WHERE action = 'insert'), count(*) FILTER (WHERE action = 'update'),
    count(*) FILTER (WHERE action = 'duplicate')
FROM import_plan
"""

# Update: the file's values win where it has one. Merge: the lead's values win, the file fills the gaps.
# Both add the file's tags and custom fields (merge keeps the lead's value of a field both have).
_CONTACT = ("first_name", "last_name", "email", "phone", "company", "job_title", "website", "city", "country")
_UPDATE_SET = ",\n    ".join(f"{c} = coalesce(s.{c}, l.{c})" for c in _CONTACT)
_MERGE_SET = ",\n    ".join(f"{c} = coalesce(l.{c}, s.{c})" for c in _CONTACT)
_APPLY = """
UPDATE public.leads l SET
    {sets},
    notes = {notes},
    status = {status},
    tags = ARRAY(SELECT DISTINCT t FROM unnest(l.tags || coalesce(s.tags, '{{}}')) AS t ORDER BY t),
    custom_fields = {fields}
FROM import_plan p JOIN import_stage s USING (line)
WHERE p.action = 'update' AND l.id = p.lead_id
"""
UPDATE_LEADS = _APPLY.format(
    sets=_UPDATE_SET,
    notes="coalesce(s.notes, l.notes)",
    status="coalesce(s.status, l.status)",
    fields="l.custom_fields || coalesce(s.custom_fields, '{}')",
)
MERGE_LEADS = _APPLY.format(
    sets=_MERGE_SET,
    notes="CASE WHEN s.notes IS NULL OR strpos(coalesce(l.notes, ''), s.notes) > 0 THEN l.notes "
    "ELSE concat_ws(E'\\n\\n', l.notes, s.notes) END",
    status="l.status",
    fields="coalesce(s.custom_fields, '{}') || l.custom_fields",
)
INSERT_LEADS = """
INSERT INTO public.leads (id, first_name, last_name, email, phone, company, job_title, website, city, country,
    source, status, notes, tags, custom_fields, created_at, import_id)
SELECT s.id, s.first_name, s.last_name, s.email, s.phone, s.company, s.job_title, s.website, s.city,
    s.country, s.source, coalesce(s.status, 'new'), s.notes, coalesce(s.tags, '{}'),
    coalesce(s.custom_fields, '{}'), coalesce(s.created_at, now()), %s
FROM import_stage s JOIN import_plan p USING (line)
WHERE p.action = 'insert'
"""
# The AI layer's embedding jobs, in the same transaction as the leads: at most 1000 ids a job.
ENQUEUE_EMBEDDINGS = """
INSERT INTO public.agent_tasks (agent_type, priority, payload, idempotency_key, created_by)
SELECT 'embed', 2, jsonb_build_object('subject', 'lead', 'ids', jsonb_agg(b.id ORDER BY b.id)),
    %(key)s || b.batch, auth.uid()
FROM (
    SELECT a.id, (row_number() OVER (ORDER BY a.id) - 1) / 1000 AS batch
    FROM (
        SELECT s.id FROM import_stage s JOIN import_plan p USING (line) WHERE p.action = 'insert'
        UNION
        SELECT p.lead_id FROM import_plan p WHERE p.action = 'update'
    ) a
) b
GROUP BY b.batch
ON CONFLICT (agency_id, idempotency_key) DO NOTHING
"""
AUDIT = """
INSERT INTO public.audit_log (actor_id, actor_role, action, table_name, record_id, context)
VALUES (auth.uid(), auth.role(), 'import', 'leads', %s, %s)
"""

ERRORS_PAGE = """
SELECT e.id, e.line_number, e.column_name, e.reason, e.raw_row FROM public.import_errors e
WHERE e.import_id = %s AND e.id > %s ORDER BY e.id LIMIT %s
"""

LOCK_IMPORT = f"SELECT {IMPORT_COLUMNS} FROM public.imports i WHERE i.id = %s FOR UPDATE"
# Leads that became clients since stay: their client points at them.
REVERT_LEADS = """
DELETE FROM public.leads l
WHERE l.import_id = %s AND NOT EXISTS (SELECT FROM public.clients c WHERE c.lead_id = l.id)
"""
CANCEL_EMBEDDINGS = """
UPDATE public.agent_tasks SET status = 'cancelled', finished_at = now()
WHERE status = 'queued' AND agent_type = 'embed' AND idempotency_key LIKE %s
"""
MARK_REVERTED = "UPDATE public.imports SET status = 'reverted' WHERE id = %s"
