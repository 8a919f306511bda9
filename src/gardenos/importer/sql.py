"""The importer's SQL. Every statement runs as `authenticated` with the importing member's claims, so
row-level security confines it to that agency: `public.leads` below is the agency's leads only."""

from __future__ import annotations

from gardenos.crm.contacts.fields import PERSON, column_list, text
from gardenos.db.pool import SCOPE
from gardenos.importer.rows import STAGE as STAGE_ROW

# Two-key advisory locks: (IMPORT_LOCK, hashtext(agency id '/' import id)) is held by whoever runs an
# import, for the whole run (an import id is unique within its agency only: migration 0017);
# (AGENCY_LOCK, hashtext(agency id)) serialises the imports of one agency (duplicate checks
# against rows another import is about to commit would miss them).
IMPORT_LOCK = 70071
AGENCY_LOCK = 70072

TRY_LOCK = "SELECT pg_try_advisory_lock(%s, hashtext(%s::text || '/' || %s::text))"
UNLOCK = "SELECT pg_advisory_unlock(%s, hashtext(%s::text || '/' || %s::text))"
LOCK_AGENCY = "SELECT pg_advisory_xact_lock(%s, hashtext(auth.agency_id()::text))"
AUDIT_OFF = "SELECT set_config('gardenos.audit', 'off', true)"
# `lead.created` subscriptions (0011) would queue one agent task per imported row; the import queues its
# own embedding jobs instead, a thousand leads a job.
SUBSCRIPTIONS_OFF = "SELECT set_config('gardenos.subscriptions', 'off', true)"
AUDIT_ON = "SELECT set_config('gardenos.audit', 'on', true)"
WORK_MEM = "SELECT set_config('work_mem', '64MB', true)"

# Every transaction of the importer that writes public.imports says so first: only the importer writes that
# table (migration 0033's trigger refuses members' writes through any other door).
AS_IMPORTER = "SELECT set_config('gardenos.writer', 'importer', true)"
# The member's scope and the mark above, in one round trip (service.py's transactions).
SCOPE_AS_IMPORTER = f"{SCOPE}, set_config('gardenos.writer', 'importer', true)"

IMPORT_COLUMNS = """
i.id, i.kind, i.filename, i.status, i.on_duplicate, i.mapping, i.options, i.detected, i.rows_total,
i.rows_imported, i.rows_updated, i.rows_invalid, i.rows_duplicate, i.rows_warned, i.rows_possible_duplicate,
i.error, i.file_size, i.file_sha256,
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
# Taking an interrupted import of the same file over, for an upload: it now reads the new file (its old
# one, if left behind, is returned for the caller to remove) and waits for its run.
TAKE_OVER = f"""
UPDATE public.imports i SET status = 'pending', error = NULL, finished_at = NULL, filename = %(filename)s,
    file_size = %(file_size)s, file_path = %(file_path)s, on_duplicate = %(on_duplicate)s,
    options = %(options)s
FROM (
    SELECT o.id, o.file_path FROM public.imports o
    WHERE o.file_sha256 = %(file_sha256)s AND o.status = 'failed' AND o.error = %(error)s
    ORDER BY o.created_at DESC LIMIT 1 FOR UPDATE
) old
WHERE i.id = old.id
RETURNING {IMPORT_COLUMNS}, old.file_path AS old_file_path
"""
START = """
UPDATE public.imports SET status = 'running', started_at = now(), finished_at = NULL, error = NULL,
    attempts = attempts + 1, rows_total = 0, rows_imported = 0, rows_updated = 0, rows_invalid = 0,
    rows_duplicate = 0, rows_warned = 0, rows_possible_duplicate = 0, on_duplicate = %(on_duplicate)s,
    options = %(options)s
WHERE id = %(id)s AND status IN ('pending', 'running', 'failed')
RETURNING id
"""
PROGRESS = "UPDATE public.imports SET rows_total = %s, rows_invalid = %s WHERE id = %s AND status = 'running'"
FINISH = """
UPDATE public.imports SET status = 'succeeded', finished_at = now(), file_path = NULL,
    detected = %(detected)s, mapping = %(mapping)s, rows_total = %(total)s, rows_imported = %(inserted)s,
    rows_updated = %(updated)s, rows_invalid = %(invalid)s, rows_duplicate = %(duplicate)s,
    rows_warned = %(warned)s, rows_possible_duplicate = %(possible_duplicate)s
WHERE id = %(id)s
"""
FAIL = """
UPDATE public.imports SET status = 'failed', finished_at = now(), error = %s, rows_imported = 0,
    rows_updated = 0, rows_duplicate = 0
WHERE id = %s AND status IN ('pending', 'running')
"""
# An import marked running whose lock nobody holds has lost its process (killed, crashed): its transaction
# rolled back with it, so nothing of it was kept. Pending imports wait for a worker for an hour at most
# (since queued: a take-over queues it again). The upload an API import left behind is returned, for the
# caller to remove (an import of the same file takes the failed one over with its own upload).
REAP = f"""
UPDATE public.imports i SET status = 'failed', finished_at = now(), error = %(error)s, rows_imported = 0,
    rows_updated = 0, rows_duplicate = 0
WHERE (i.status = 'running' OR (i.status = 'pending' AND i.updated_at < now() - interval '1 hour'))
    AND NOT EXISTS (
        SELECT FROM pg_locks l
        WHERE l.locktype = 'advisory' AND l.classid = {IMPORT_LOCK}
            AND l.objid = hashtext(i.agency_id::text || '/' || i.id::text)::oid
            AND l.objsubid = 2 AND l.granted
    )
RETURNING i.id, i.file_path
"""
# The uploads imports name, and whether an import may still read each (after reaping): pending or running.
UPLOAD_PATHS = """
SELECT file_path, bool_or(status IN ('pending', 'running')) FROM public.imports
WHERE file_path IS NOT NULL GROUP BY file_path
"""
INTERRUPTED = (
    "the import stopped before it finished (its process was stopped or crashed); nothing of it was kept: "
    "import the file again to resume"
)

# The file goes through in chunks: while the server matches and writes one, the importer reads and checks
# the next. The stage holds one chunk at a time; what later chunks must know of earlier ones is kept in
# the other tables: every key seen in the file (a row repeating one is a duplicate), and under
# update/merge the leads already changed by the import, with the keys they had before (a later row
# matching one of them is a duplicate, as it would be had the whole file been matched at once).
# The stage's columns are rows.py's STAGE, text unless typed here.
_STAGE_TYPES = {
    "line": "bigint NOT NULL",
    "phone_keys": "text[]",
    "tags": "text[]",
    "custom_fields": "jsonb",
    "created_at": "timestamptz",
}
_STAGE_COLUMNS = ",\n    ".join(f"{c} {_STAGE_TYPES.get(c, 'text')}" for c in STAGE_ROW)
STAGE = f"""
CREATE TEMP TABLE import_stage (
    {_STAGE_COLUMNS}
) ON COMMIT DROP;
CREATE TEMP TABLE import_plan (line bigint PRIMARY KEY, lead_id uuid, action text NOT NULL,
    possible_kind text, possible_id uuid, possible_line bigint) ON COMMIT DROP;
CREATE TEMP TABLE import_keys (key text PRIMARY KEY) ON COMMIT DROP;
CREATE TEMP TABLE import_updated (lead_id uuid PRIMARY KEY) ON COMMIT DROP;
CREATE TEMP TABLE import_claimed (kind "char" NOT NULL, key text NOT NULL, lead_id uuid NOT NULL)
    ON COMMIT DROP;
CREATE INDEX ON import_claimed (kind, key)
"""
# Local buffers for the temp tables above (the keys of a million-row file are ~100 MB): settable only
# before the session's first temporary table.
TEMP_BUFFERS = "SELECT set_config('temp_buffers', '128MB', true) WHERE pg_my_temp_schema() = 0"
STAGE_ERRORS = """
CREATE TEMP TABLE import_stage_errors (line bigint NOT NULL, column_name text, reason text NOT NULL,
    raw_row text, level text NOT NULL) ON COMMIT DROP
"""
NEXT_CHUNK = "TRUNCATE import_stage, import_plan"
COPY_STAGE = "COPY import_stage ({columns}) FROM STDIN WITH (NULL '')"
COPY_ERRORS = "COPY import_stage_errors (line, column_name, reason, raw_row, level) FROM STDIN"
SAVE_ERRORS = """
INSERT INTO public.import_errors (import_id, line_number, column_name, reason, raw_row, level)
SELECT %s, e.line, e.column_name, e.reason, e.raw_row, e.level FROM import_stage_errors e ORDER BY e.line
"""
ANALYZE_PLAN = "ANALYZE import_plan"

# What becomes of each row of the chunk, under the import's duplicate rule (crm/contacts/rules.py): the
# comparisons it makes are bind parameters (by_email, by_phone) or, for the name rule, which costs a sort
# and a probe per row, parts of the statement. A row repeats an earlier one of the file when the rule
# matches them (the earlier one wins): an earlier row of the chunk, a row of an earlier chunk that became a
# lead (the probes below find it, by its import id) or one that did not (its keys are kept in
# import_keys). Otherwise it matches an existing lead, then an existing client; among several leads, the
# first by id. Two different emails are two people whatever the rule. Under update/merge, the first row
# matching a lead changes that lead; clients are never changed by a lead import.
# A new row sharing a phone with a lead, a client or an earlier row that the rule does not call the same
# person is a possible duplicate: imported, and listed for review (POSSIBLE below).
# Each lookup is one probe of an (agency_id, key) index, made only for the rows that need it. New rows get
# their ids here (uuidv7, in order), so that the review list can name the leads they become.
_SAME_EMAIL = "({a} IS NULL OR {b} IS NULL OR {a} = {b})"
_PLAN = """
INSERT INTO import_plan (line, lead_id, action, possible_kind, possible_id, possible_line)
WITH firsts AS (
    SELECT s.line, s.email_key, s.phone_keys, s.first_name, s.last_name, s.company,
        (%(by_email)s AND s.email_key IS NOT NULL AND (min(s.line) OVER (PARTITION BY s.email_key) < s.line
            OR EXISTS (SELECT FROM import_keys k WHERE k.key = 'e' || s.email_key)))
        OR (%(by_phone)s AND s.phone IS NOT NULL
            AND ((min(s.line) OVER wp < s.line AND {same_first_email})
                OR (s.email_key IS NULL AND EXISTS (SELECT FROM import_keys k WHERE k.key = 'p' || s.phone))))
        {name_repeated} AS repeated,
        CASE WHEN s.phone IS NOT NULL THEN nullif(min(s.line) OVER wp, s.line) END AS phone_line
    FROM import_stage s
    WINDOW wp AS (PARTITION BY s.phone ORDER BY s.line){name_window}
),
probed AS (
    SELECT f.line, f.email_key, f.phone_keys, f.phone_line, f.first_name, f.last_name, f.company,
        f.repeated OR coalesce(e.ours, false) OR coalesce(p.same AND p.ours, false){name_ours} AS repeated,
        coalesce({email_lead}, CASE WHEN p.same THEN {phone_lead} END{name_lead}) AS lead_id,
        CASE WHEN NOT p.same THEN p.id END AS possible_lead
    FROM firsts f
    LEFT JOIN LATERAL (
        SELECT l.id, l.import_id IS NOT DISTINCT FROM %(import_id)s AS ours FROM public.leads l
        WHERE %(by_email)s AND NOT f.repeated AND l.email_normalized = f.email_key
        ORDER BY 2 DESC, 1 LIMIT 1
    ) e ON true
    LEFT JOIN LATERAL (
        SELECT l.id, l.import_id IS NOT DISTINCT FROM %(import_id)s AS ours,
            %(by_phone)s AND {same_lead_email} AS same
        FROM public.leads l
        WHERE NOT f.repeated AND NOT coalesce(e.ours, false) AND l.phone_normalized = ANY (f.phone_keys)
        ORDER BY 3 DESC, 2 DESC, 1 LIMIT 1
    ) p ON true{name_probe}
),
decided AS (
    SELECT d.line, d.lead_id, d.repeated, d.phone_line, d.possible_lead, c.id AS client_id,
        c.same AS client_same,
        NOT d.repeated AND (d.lead_id IS NOT NULL
            OR (%(by_email)s AND EXISTS (SELECT FROM public.clients c WHERE c.email_normalized = d.email_key))
            OR coalesce(c.same, false){name_client}) AS matched
    FROM probed d
    LEFT JOIN LATERAL (
        SELECT c.id, %(by_phone)s AND {same_client_email} AS same
        FROM public.clients c
        WHERE NOT d.repeated AND d.lead_id IS NULL AND c.phone_normalized = ANY (d.phone_keys)
        ORDER BY 2 DESC, 1 LIMIT 1
    ) c ON true
),
acted AS (
    SELECT d.line, d.lead_id, d.possible_lead, d.client_id, d.client_same, d.phone_line,
        CASE
            WHEN d.repeated THEN 'duplicate'
            WHEN NOT d.matched THEN 'insert'
            WHEN %(policy)s <> 'skip' AND d.lead_id IS NOT NULL
                AND d.line = min(d.line) OVER (PARTITION BY d.repeated, d.lead_id)
                AND NOT EXISTS (SELECT FROM import_updated u WHERE u.lead_id = d.lead_id) THEN 'update'
            ELSE 'duplicate'
        END AS action
    FROM decided d
)
SELECT a.line, CASE WHEN a.action = 'insert' THEN uuidv7() ELSE a.lead_id END, a.action,
    CASE WHEN a.action <> 'insert' THEN NULL
        WHEN a.possible_lead IS NOT NULL THEN 'lead'
        WHEN a.client_id IS NOT NULL AND NOT a.client_same THEN 'client' END,
    CASE WHEN a.action = 'insert'
        THEN coalesce(a.possible_lead, CASE WHEN NOT a.client_same THEN a.client_id END) END,
    CASE WHEN a.action = 'insert' THEN a.phone_line END
FROM acted a
ORDER BY a.line
"""
_NAME_KEY = "gardenos.name_key({p}.first_name, {p}.last_name) || '|' || lower({p}.company)"
_NAME = {
    "name_repeated": (
        "OR (%(by_name)s AND s.company IS NOT NULL AND coalesce(s.first_name, s.last_name) IS NOT NULL\n"
        "            AND ((min(s.line) OVER wn < s.line AND "
        + _SAME_EMAIL.format(a="first_value(s.email_key) OVER wn", b="s.email_key")
        + ")\n                OR (s.email_key IS NULL\n"
        "                    AND EXISTS (SELECT FROM import_keys k WHERE k.key = 'n' || "
        + _NAME_KEY.format(p="s")
        + "))))"
    ),
    "name_window": ",\n        wn AS (PARTITION BY gardenos.name_key(s.first_name, s.last_name), "
    "lower(s.company) ORDER BY s.line)",
    "name_ours": " OR coalesce(n.ours, false)",
    "name_lead": ", n.id",
    "name_probe": """
    LEFT JOIN LATERAL (
        SELECT l.id, l.import_id IS NOT DISTINCT FROM %(import_id)s AS ours FROM public.leads l
        WHERE %(by_name)s AND NOT f.repeated AND f.company IS NOT NULL
            AND coalesce(f.first_name, f.last_name) IS NOT NULL
            AND gardenos.name_key(l.first_name, l.last_name) = gardenos.name_key(f.first_name, f.last_name)
            AND lower(l.company) = lower(f.company) AND """
    + _SAME_EMAIL.format(a="l.email_normalized", b="f.email_key")
    + """
        ORDER BY 2 DESC, 1 LIMIT 1
    ) n ON true""",
    "name_client": """
            OR (%(by_name)s AND d.company IS NOT NULL AND coalesce(d.first_name, d.last_name) IS NOT NULL
                AND EXISTS (SELECT FROM public.clients c
                    WHERE gardenos.name_key(c.first_name, c.last_name)
                        = gardenos.name_key(d.first_name, d.last_name)
                    AND lower(c.company) = lower(d.company) AND """
    + _SAME_EMAIL.format(a="c.email_normalized", b="d.email_key")
    + "))",
}
_NO_NAME = dict.fromkeys(_NAME, "")
_EMAILS = {
    "same_first_email": _SAME_EMAIL.format(a="first_value(s.email_key) OVER wp", b="s.email_key"),
    "same_lead_email": _SAME_EMAIL.format(a="l.email_normalized", b="f.email_key"),
    "same_client_email": _SAME_EMAIL.format(a="c.email_normalized", b="d.email_key"),
}
_LEADS = {"email_lead": "e.id", "phone_lead": "p.id"}
# Under update/merge, a lead an earlier chunk changed is matched by the keys it had before, too.
_CLAIMED = {
    "email_lead": "least(e.id, (SELECT c.lead_id FROM import_claimed c WHERE c.kind = 'e' "
    "AND c.key = f.email_key ORDER BY c.lead_id LIMIT 1))",
    "phone_lead": "least(p.id, (SELECT c.lead_id FROM import_claimed c WHERE c.kind = 'p' "
    "AND c.key = ANY (f.phone_keys) ORDER BY c.lead_id LIMIT 1))",
}
# (claimed, by name) -> the statement.
PLANS = {
    (claimed, by_name): _PLAN.format(
        **(_CLAIMED if claimed else _LEADS), **_EMAILS, **(_NAME if by_name else _NO_NAME)
    )
    for claimed in (False, True)
    for by_name in (False, True)
}
# The review list: each new lead sharing a phone with a lead or client the rule does not call the same
# person (an existing one, else the lead an earlier row of the chunk became or matched).
POSSIBLE = """
INSERT INTO public.import_possible_duplicates (agency_id, import_id, line_number, lead_id, match_kind,
    match_id, reason)
SELECT %(agency)s, %(import_id)s, p.line, p.lead_id, coalesce(p.possible_kind, 'lead'),
    coalesce(p.possible_id, e.lead_id), 'phone'
FROM import_plan p LEFT JOIN import_plan e ON e.line = p.possible_line
WHERE p.action = 'insert' AND coalesce(p.possible_id, e.lead_id) IS NOT NULL
"""
# The keys of the chunk's rows that did not become leads, for the chunks after it.
REMEMBER_KEYS = """
INSERT INTO import_keys (key)
SELECT 'e' || s.email_key FROM import_stage s JOIN import_plan p USING (line)
WHERE p.action <> 'insert' AND s.email_key IS NOT NULL
UNION
SELECT 'p' || s.phone FROM import_stage s JOIN import_plan p USING (line)
WHERE p.action <> 'insert' AND s.phone IS NOT NULL
UNION
SELECT 'n' || gardenos.name_key(s.first_name, s.last_name) || '|' || lower(s.company)
FROM import_stage s JOIN import_plan p USING (line)
WHERE p.action <> 'insert' AND s.company IS NOT NULL AND coalesce(s.first_name, s.last_name) IS NOT NULL
ON CONFLICT DO NOTHING
"""
COUNT_PLAN = """
SELECT count(*) FILTER (WHERE action = 'insert'), count(*) FILTER (WHERE action = 'update'),
    count(*) FILTER (WHERE action = 'duplicate')
FROM import_plan
"""
# Before the chunk changes them: the leads it updates, with the keys they have now.
CLAIM_UPDATED = """
WITH updated AS (
    INSERT INTO import_updated (lead_id) SELECT p.lead_id FROM import_plan p WHERE p.action = 'update'
    RETURNING lead_id
)
INSERT INTO import_claimed (kind, key, lead_id)
SELECT k.kind, k.key, l.id
FROM updated u JOIN public.leads l ON l.id = u.lead_id
CROSS JOIN LATERAL (VALUES ('e'::"char", l.email_normalized), ('p'::"char", l.phone_normalized))
    AS k (kind, key)
WHERE k.key IS NOT NULL
"""

# Update: the file's values win where it has one. Merge: the lead's values win, the file fills the gaps.
# Both add the file's tags and custom fields (merge keeps the lead's value of a field both have).
_CONTACT = (*PERSON, "phone_raw")
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
# The chunk's new leads, with the ids the plan drew for them (in order: the primary key grows at its
# right edge); their embedding jobs come from the table's own trigger (0018), as for leads created by any
# other door. The leads the chunk updated are queued here, at most 1000 ids a job. The agency is given
# once rather than left to the column's default, which would read the JWT claims again for every row.
_FROM_FILE = (*_CONTACT, "source", "notes")
INSERT_LEADS = f"""
INSERT INTO public.leads (id, agency_id, {text(column_list(_FROM_FILE))}, status, tags, custom_fields,
    created_at, import_id)
SELECT p.lead_id, %(agency)s, {text(column_list(_FROM_FILE, "s"))}, coalesce(s.status, 'new'),
    coalesce(s.tags, '{{}}'), coalesce(s.custom_fields, '{{}}'), coalesce(s.created_at, now()), %(import_id)s
FROM import_stage s JOIN import_plan p USING (line)
WHERE p.action = 'insert'
"""
EMBED_UPDATED = """
INSERT INTO public.agent_tasks (agent_type, priority, payload, idempotency_key, created_by)
SELECT 'embed', 2, jsonb_build_object('subject', 'lead', 'ids', jsonb_agg(e.lead_id ORDER BY e.lead_id)),
    %(key)s || e.batch, auth.uid()
FROM (
    SELECT p.lead_id, (row_number() OVER (ORDER BY p.lead_id) - 1) / 1000 AS batch
    FROM import_plan p WHERE p.action = 'update'
) e
GROUP BY e.batch
ON CONFLICT (agency_id, idempotency_key) DO NOTHING
"""
AGENCY = "SELECT auth.agency_id()"
# The trail's entry for the import as a whole (the agency and actor are the database's own).
AUDIT = "SELECT gardenos.record_event('import', 'leads', %s, context => %s)"

ERRORS_PAGE = """
SELECT e.id, e.line_number, e.column_name, e.reason, e.raw_row FROM public.import_errors e
WHERE e.import_id = %s AND e.level = %s AND e.id > %s ORDER BY e.id LIMIT %s
"""
# The review list, with both records as they are now (one deleted since drops out).
POSSIBLE_PAGE = """
SELECT p.id, p.line_number AS line, p.reason, p.match_kind,
    to_jsonb(l) - 'search_vector' AS lead,
    coalesce(to_jsonb(ml) - 'search_vector', to_jsonb(mc) - 'search_vector') AS match
FROM public.import_possible_duplicates p
JOIN public.leads l ON l.id = p.lead_id
LEFT JOIN public.leads ml ON p.match_kind = 'lead' AND ml.id = p.match_id
LEFT JOIN public.clients mc ON p.match_kind = 'client' AND mc.id = p.match_id
WHERE p.import_id = %s AND p.id > %s AND (ml.id IS NOT NULL OR mc.id IS NOT NULL)
ORDER BY p.id LIMIT %s
"""
# The agency's own choices an import follows unless it names its own.
AGENCY_RULES = """
SELECT upper(a.settings ->> 'phone_region'), a.settings -> 'duplicate_rule'
FROM public.agencies a WHERE a.id = auth.agency_id()
"""
# 0018: new names only, typed text; what the agency defined stays as it is.
DEFINE_FIELDS = "SELECT gardenos.define_imported_fields('leads', %s)"

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
