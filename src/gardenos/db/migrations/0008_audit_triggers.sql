-- The audit trail of the CRM core, written by the database itself: whichever door a change comes through
-- (/api/v1, /rest/v1, an RPC, psql), its row lands in audit_log with who, what, when, before and after.

-- SECURITY DEFINER, so the trail is written whatever role made the change and whatever that role may
-- read or insert itself; the actor is taken from the verified JWT, never from the row.
CREATE FUNCTION gardenos.audit_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    old_row jsonb;
    new_row jsonb;
    row_agency uuid;
BEGIN
    -- Bulk loaders (the demo data) turn auditing off for their transaction: SET LOCAL gardenos.audit = 'off'.
    IF current_setting('gardenos.audit', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        old_row := to_jsonb(OLD) - 'search_vector';
    END IF;
    IF TG_OP <> 'DELETE' THEN
        new_row := to_jsonb(NEW) - 'search_vector';
    END IF;
    -- Bookkeeping alone is no change: `updated_at` moves on every UPDATE, and `last_activity_at` follows
    -- an activity, whose own entry already says what happened.
    IF TG_OP = 'UPDATE'
        AND old_row - '{updated_at,last_activity_at}'::text[] = new_row - '{updated_at,last_activity_at}'::text[]
    THEN
        RETURN NULL;
    END IF;
    row_agency := (coalesce(new_row, old_row) ->> 'agency_id')::uuid;
    -- Rows removed because their agency is being deleted: the trail goes with the agency.
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT FROM public.agencies a WHERE a.id = row_agency) THEN
        RETURN NULL;
    END IF;
    INSERT INTO public.audit_log (agency_id, actor_id, actor_role, action, table_name, record_id, before, after)
    VALUES (row_agency, auth.uid(), auth.role(), lower(TG_OP), TG_TABLE_NAME,
            (coalesce(new_row, old_row) ->> 'id')::uuid, old_row, new_row);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION gardenos.audit_row() FROM PUBLIC;

CREATE TRIGGER leads_audit AFTER INSERT OR UPDATE OR DELETE ON public.leads
    FOR EACH ROW EXECUTE FUNCTION gardenos.audit_row();
CREATE TRIGGER clients_audit AFTER INSERT OR UPDATE OR DELETE ON public.clients
    FOR EACH ROW EXECUTE FUNCTION gardenos.audit_row();
CREATE TRIGGER activities_audit AFTER INSERT OR UPDATE OR DELETE ON public.activities
    FOR EACH ROW EXECUTE FUNCTION gardenos.audit_row();
