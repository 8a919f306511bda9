-- Duplicate rules a user controls, possible duplicates listed for review, a phone kept as written when it
-- cannot be read, and the custom fields an import brings defined for the agency.

-- A phone that is not a number anyone can dial (an extension note, "call the front desk") is kept as the
-- person wrote it rather than losing the record over it; `phone` stays E.164 or empty.
ALTER TABLE public.leads ADD COLUMN phone_raw text CHECK (length(phone_raw) <= 200);
ALTER TABLE public.clients ADD COLUMN phone_raw text CHECK (length(phone_raw) <= 200);

-- Which fields make two records the same person: one rule or a list of them (any one matching is enough).
-- Checked here, as /rest/v1 writes agencies.settings directly.
CREATE FUNCTION gardenos.valid_duplicate_rule(rule jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path TO ''
AS $$
    SELECT CASE jsonb_typeof(rule)
        WHEN 'string' THEN rule #>> '{}' IN ('email', 'email_or_phone', 'phone', 'name_and_company')
        WHEN 'array' THEN jsonb_array_length(rule) > 0 AND NOT EXISTS (
            SELECT FROM jsonb_array_elements(rule) r
            WHERE jsonb_typeof(r) <> 'string'
                OR r #>> '{}' NOT IN ('email', 'email_or_phone', 'phone', 'name_and_company'))
        ELSE false
    END
$$;
ALTER TABLE public.agencies ADD CONSTRAINT agencies_duplicate_rule_check
    CHECK (NOT settings ? 'duplicate_rule' OR gardenos.valid_duplicate_rule(settings -> 'duplicate_rule'));

-- Warnings (a row imported with something set aside) next to the errors (a row refused).
ALTER TABLE public.import_errors ADD COLUMN level text NOT NULL DEFAULT 'error'
    CHECK (level IN ('error', 'warning'));
ALTER TABLE public.imports
    ADD COLUMN rows_warned bigint NOT NULL DEFAULT 0,
    ADD COLUMN rows_possible_duplicate bigint NOT NULL DEFAULT 0;

-- Rows imported as new people that share a phone with a lead or client (one already there, or an earlier
-- row of the file): not the same person by the rule the import used, but worth a look.
-- `match_id` is a lead or a client (no foreign key: it names either); the listing drops one deleted since.
CREATE TABLE public.import_possible_duplicates (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agency_id uuid NOT NULL DEFAULT auth.agency_id(),
    import_id uuid NOT NULL,
    line_number bigint NOT NULL CHECK (line_number >= 1),
    lead_id uuid NOT NULL,
    match_kind text NOT NULL CHECK (match_kind IN ('lead', 'client')),
    match_id uuid NOT NULL,
    reason text NOT NULL CHECK (reason IN ('phone')),
    CONSTRAINT import_possible_duplicates_import_fkey FOREIGN KEY (agency_id, import_id)
        REFERENCES public.imports (agency_id, id) ON DELETE CASCADE,
    CONSTRAINT import_possible_duplicates_lead_fkey FOREIGN KEY (agency_id, lead_id)
        REFERENCES public.leads (agency_id, id) ON DELETE CASCADE
);
CREATE INDEX import_possible_duplicates_import_idx
    ON public.import_possible_duplicates (import_id, line_number);
CREATE INDEX import_possible_duplicates_lead_idx ON public.import_possible_duplicates (agency_id, lead_id);
SELECT gardenos.enable_tenant_rls('public.import_possible_duplicates');

-- Columns an import keeps in custom_fields become text fields of the agency, so the records can be edited
-- afterwards (the API refuses fields the agency has not defined). Any current member may import, so any
-- current member may add these, and only these: new names, typed text; a field already defined is never
-- changed. Names that definitions do not allow, and those past the limit of 100, are left out.
CREATE FUNCTION gardenos.define_imported_fields(entity text, names text[]) RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER
SET search_path TO ''
AS $$
DECLARE
    agency uuid := auth.agency_id();  -- the caller's membership as it is now
    defined jsonb;
    added text[];
BEGIN
    IF agency IS NULL THEN
        RAISE EXCEPTION 'no active agency' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF entity NOT IN ('leads', 'clients') THEN
        RAISE EXCEPTION 'custom fields are defined for leads or clients, not %', entity
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(a.settings -> 'custom_fields' -> entity, '{}') INTO defined
    FROM public.agencies a WHERE a.id = agency FOR UPDATE;
    SELECT array_agg(n ORDER BY n) INTO added FROM (
        SELECT n FROM (SELECT DISTINCT n FROM unnest(names) AS n) d
        WHERE n ~ '^[a-z][a-z0-9_]{0,62}$' AND NOT defined ? n
        ORDER BY n LIMIT greatest(0, 100 - (SELECT count(*) FROM jsonb_object_keys(defined)))
    ) s;
    IF added IS NULL THEN
        RETURN '{}';
    END IF;
    UPDATE public.agencies a SET settings = jsonb_set(
        a.settings, '{custom_fields}',
        coalesce(a.settings -> 'custom_fields', '{}') || jsonb_build_object(
            entity, defined || (SELECT jsonb_object_agg(n, '{"type": "text"}'::jsonb) FROM unnest(added) AS n)))
    WHERE a.id = agency;
    RETURN added;
END
$$;
REVOKE ALL ON FUNCTION gardenos.define_imported_fields(text, text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gardenos.define_imported_fields(text, text[]) TO authenticated;

-- A lead created by any door (/api/v1, /rest/v1, an import, an agent, the demo data) queues its embedding
-- in the transaction that creates it: one statement-level trigger, a task per 1000 new leads of an agency
-- (the payload the embed agent reads), instead of a sweep finding API-created leads a minute later. An
-- import's tasks keep its id in their key, so that reverting the import cancels them.
CREATE FUNCTION gardenos.enqueue_lead_embeddings() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path TO ''
AS $$
BEGIN
    INSERT INTO public.agent_tasks (agency_id, agent_type, priority, payload, idempotency_key, created_by)
    SELECT b.agency_id, 'embed', 2, jsonb_build_object('subject', 'lead', 'ids', jsonb_agg(b.id ORDER BY b.id)),
        coalesce('import:' || b.import_id || ':', 'embed:lead:') || min(b.id::text), auth.uid()
    FROM (
        SELECT n.agency_id, n.import_id, n.id,
            (row_number() OVER (PARTITION BY n.agency_id, n.import_id ORDER BY n.id) - 1) / 1000 AS batch
        FROM new_leads n
    ) b
    GROUP BY b.agency_id, b.import_id, b.batch
    ON CONFLICT ON CONSTRAINT agent_tasks_idempotency_key DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER leads_enqueue_embeddings AFTER INSERT ON public.leads
    REFERENCING NEW TABLE AS new_leads FOR EACH STATEMENT EXECUTE FUNCTION gardenos.enqueue_lead_embeddings();
