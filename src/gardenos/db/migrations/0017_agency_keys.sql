-- An id is unique within its agency: every tenant table is keyed by (agency_id, id).
--
-- With a primary key on `id` alone, agency B that inserted (or upserted, or renamed a row to) an id of
-- agency A's got "already exists" (or, for an upsert, A's row under the update policy's error) where a
-- fresh id got 201: B learnt that A's row exists. Keyed by agency, B's row with that id is simply B's,
-- and a conflict can only be with a row the caller can see, as row-level security would have it.
--
-- Most of these tables already had UNIQUE (agency_id, id) for the composite foreign keys (0003, 0014):
-- it becomes the primary key, so no second identical index is left. The foreign keys that referenced it
-- are rebuilt on the primary key, unchanged (same names, columns and actions).
--
-- Left as they are, on purpose:
-- - `agencies`: the tenant itself, with one global id, chosen by the server. Members cannot insert
--   agencies through /rest/v1 (no grant) and the update policy keeps `id` the caller's agency, so a
--   client-chosen agency id is refused alike whether or not it exists; /api/v1 ignores one in a body.
--   Slugs stay globally unique: an agency's public name (as a username), not a key to its rows.
-- - `audit_log`, `import_errors`: ids GENERATED ALWAYS from a sequence. No client chooses them (an id
--   in an insert is refused alike for every value), so they stay globally unique and need no agency.
-- - `memberships` ((agency_id, user_id) already), `storage.buckets` ((agency_id, id) already),
--   `ai_agents` and `gardenos.mail_outbox` (no tenant: written by the server alone).
--
-- Code that reads or writes tenant rows by id outside one agency's row-level security (the agents'
-- queue, the embedding sweep, the importer's run lock, the CLI) names the agency too since this
-- migration.
DO $$
DECLARE
    tables regclass[] := ARRAY[
        'public.leads', 'public.clients', 'public.activities', 'public.imports', 'public.agent_tasks',
        'public.agent_memory', 'public.agent_subscriptions', 'public.ai_interactions', 'public.lead_analyses',
        'public.price_list_items', 'public.record_embeddings', 'storage.objects'
    ]::regclass[];
    tbl regclass;
    fk record;
    rebuild text[] := '{}';
    statement text;
BEGIN
    -- Foreign keys into these tables: dropped while their referenced key changes, then rebuilt as they were.
    FOR fk IN
        SELECT c.conrelid::regclass AS src, c.conname, pg_get_constraintdef(c.oid) AS definition
        FROM pg_constraint c
        WHERE c.contype = 'f' AND c.confrelid = ANY (tables)
        ORDER BY c.conrelid::regclass::text, c.conname
    LOOP
        rebuild := rebuild || format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.src, fk.conname, fk.definition);
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', fk.src, fk.conname);
    END LOOP;

    FOREACH tbl IN ARRAY tables LOOP
        -- The unique (agency_id, id) the composite foreign keys used, if the table had one.
        FOR statement IN
            SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', tbl, c.conname)
            FROM pg_constraint c
            WHERE c.conrelid = tbl AND c.contype IN ('p', 'u')
              AND c.conkey::int2[] IN (
                  ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = tbl AND attname = 'id')]::int2[],
                  ARRAY[(SELECT attnum FROM pg_attribute WHERE attrelid = tbl AND attname = 'agency_id'),
                        (SELECT attnum FROM pg_attribute WHERE attrelid = tbl AND attname = 'id')]::int2[])
        LOOP
            EXECUTE statement;
        END LOOP;
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I PRIMARY KEY (agency_id, id)',
                       tbl, (SELECT relname FROM pg_class WHERE oid = tbl) || '_pkey');
    END LOOP;

    FOREACH statement IN ARRAY rebuild LOOP
        EXECUTE statement;
    END LOOP;
END
$$;
