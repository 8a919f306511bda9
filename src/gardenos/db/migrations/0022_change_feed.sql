-- The database-change feed of /realtime/v1 (realtime/changes/): a publication that logical decoding
-- (`pgoutput`) reads, over every table of the exposed schema, as /rest/v1 exposes them.
--
-- `FOR TABLES IN SCHEMA` also covers tables created later; it needs a superuser, so a migration run by
-- a non-superuser owner (an external database) lists the tables that exist now instead.
-- Stored generated columns are published too, so a change's record is the whole row.
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        CREATE PUBLICATION gardenos_changes FOR TABLES IN SCHEMA public
            WITH (publish = 'insert, update, delete', publish_generated_columns = stored);
    ELSE
        EXECUTE (
            SELECT 'CREATE PUBLICATION gardenos_changes FOR TABLE '
                   || string_agg(format('%I.%I', n.nspname, c.relname), ', ' ORDER BY c.relname)
                   || ' WITH (publish = ''insert, update, delete'', publish_generated_columns = stored)'
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p'));
    END IF;
END
$$;

-- REPLICA IDENTITY FULL: an UPDATE's and a DELETE's old row is written to the WAL whole, not only its
-- primary key, so `old_record` is complete: the CRM tables the web app follows live, and those that say
-- who belongs where. The others keep the default: their old row is their primary key, which for every
-- tenant table holds `agency_id`, enough to evaluate the tenant policy on a deleted row; the queue and
-- the embeddings (agent_tasks, agent_memory, record_embeddings) are updated often and wide.
ALTER TABLE public.leads REPLICA IDENTITY FULL;
ALTER TABLE public.clients REPLICA IDENTITY FULL;
ALTER TABLE public.activities REPLICA IDENTITY FULL;
ALTER TABLE public.agencies REPLICA IDENTITY FULL;
ALTER TABLE public.memberships REPLICA IDENTITY FULL;
