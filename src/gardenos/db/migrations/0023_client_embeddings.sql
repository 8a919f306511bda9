-- A client created by any door (/api/v1, /rest/v1, a conversion, the demo data) queues its embedding in
-- the transaction that creates it, as a lead does since 0018: one trigger function for both tables, instead
-- of clients waiting for the sweep. Its arguments: the subject the embed agent reads, and the expression
-- naming the import that created the rows (leads only: an import's tasks keep its id in their key, so
-- that reverting the import cancels them). Dynamic SQL because only leads have an import_id; the
-- arguments are the triggers' own constants.
CREATE FUNCTION gardenos.enqueue_embeddings() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path TO ''
AS $$
BEGIN
    EXECUTE format($sql$
        INSERT INTO public.agent_tasks (agency_id, agent_type, priority, payload, idempotency_key, created_by)
        SELECT b.agency_id, 'embed', 2,
            jsonb_build_object('subject', %1$L, 'ids', jsonb_agg(b.id ORDER BY b.id)),
            coalesce('import:' || b.import_id || ':', 'embed:' || %1$L || ':') || min(b.id::text), auth.uid()
        FROM (
            SELECT n.agency_id, %2$s AS import_id, n.id,
                (row_number() OVER (PARTITION BY n.agency_id, %2$s ORDER BY n.id) - 1) / 1000 AS batch
            FROM new_rows n
        ) b
        GROUP BY b.agency_id, b.import_id, b.batch
        ON CONFLICT ON CONSTRAINT agent_tasks_idempotency_key DO NOTHING
    $sql$, TG_ARGV[0], TG_ARGV[1]);
    RETURN NULL;
END
$$;

DROP TRIGGER leads_enqueue_embeddings ON public.leads;
DROP FUNCTION gardenos.enqueue_lead_embeddings();
CREATE TRIGGER leads_enqueue_embeddings AFTER INSERT ON public.leads
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION gardenos.enqueue_embeddings('lead', 'n.import_id');
CREATE TRIGGER clients_enqueue_embeddings AFTER INSERT ON public.clients
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT
    EXECUTE FUNCTION gardenos.enqueue_embeddings('client', 'NULL::uuid');
