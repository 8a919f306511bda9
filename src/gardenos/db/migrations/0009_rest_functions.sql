-- Functions exposed at /rest/v1/rpc: everything in `public` is callable by the roles granted EXECUTE.
-- They run as the caller (SECURITY INVOKER), so row-level security applies inside them too.

-- Search vectors are built with the `simple` configuration (names and companies in any language, no
-- stemming): make it the default, so `fts`/`plfts`/… filters without a language match them.
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET default_text_search_config = %L', current_database(), 'pg_catalog.simple');
END
$$;

-- The pipeline at a glance: leads and their estimated value per status, for the caller's agency.
CREATE FUNCTION public.pipeline_summary()
RETURNS TABLE (status text, leads bigint, estimated_value numeric)
LANGUAGE sql STABLE AS $$
    SELECT s.status, count(l.id), coalesce(sum(l.estimated_value), 0)
    FROM unnest(ARRAY['new', 'contacted', 'qualified', 'proposal', 'negotiation', 'converted', 'lost'])
        WITH ORDINALITY AS s(status, position)
    LEFT JOIN public.leads l ON l.status = s.status
    GROUP BY s.status, s.position
    ORDER BY s.position
$$;

-- Leads whose name or company is like the search text (trigram similarity), best first.
CREATE FUNCTION public.search_leads(query text, max_results integer DEFAULT 20)
RETURNS SETOF public.leads
LANGUAGE sql STABLE AS $$
    SELECT l.* FROM public.leads l
    WHERE lower(coalesce(l.first_name, '') || ' ' || coalesce(l.last_name, '')) OPERATOR(extensions.%) lower(query)
       OR lower(l.company) OPERATOR(extensions.%) lower(query)
    ORDER BY greatest(
        extensions.similarity(lower(coalesce(l.first_name, '') || ' ' || coalesce(l.last_name, '')), lower(query)),
        extensions.similarity(lower(coalesce(l.company, '')), lower(query))) DESC
    LIMIT least(greatest(max_results, 1), 200)
$$;

-- Move a lead along the pipeline; returns the new status. VOLATILE: POST only.
CREATE FUNCTION public.set_lead_status(lead_id uuid, new_status text)
RETURNS text
LANGUAGE sql VOLATILE AS $$
    UPDATE public.leads SET status = new_status WHERE id = lead_id RETURNING status
$$;

REVOKE EXECUTE ON FUNCTION public.pipeline_summary(), public.search_leads(text, integer),
    public.set_lead_status(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.pipeline_summary(), public.search_leads(text, integer),
    public.set_lead_status(uuid, text) TO authenticated, service_role;
