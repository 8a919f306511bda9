-- The trail of who holds power, written by the database at every door (issue 14): membership changes,
-- an agency's own row (name, settings: phone region, custom-field definitions) and the tables only admins
-- write (price lists, agent subscriptions). Until now /api/v1 wrote membership entries from Python and a
-- change through /rest/v1 left none.

-- One function for every audited table. Its two optional arguments name the row's key and its agency
-- column: a membership is keyed by its user, and an agency is its own agency.
CREATE OR REPLACE FUNCTION gardenos.audit_row() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    record_key text := coalesce(TG_ARGV[0], 'id');
    agency_key text := coalesce(TG_ARGV[1], 'agency_id');
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
    row_agency := (coalesce(new_row, old_row) ->> agency_key)::uuid;
    -- Rows removed because their agency is being deleted: the trail goes with the agency.
    IF TG_OP = 'DELETE' AND NOT EXISTS (SELECT FROM public.agencies a WHERE a.id = row_agency) THEN
        RETURN NULL;
    END IF;
    INSERT INTO public.audit_log (agency_id, actor_id, actor_role, action, table_name, record_id, before, after)
    VALUES (row_agency, auth.uid(), auth.role(), lower(TG_OP), TG_TABLE_NAME,
            (coalesce(new_row, old_row) ->> record_key)::uuid, old_row, new_row);
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION gardenos.audit_row() FROM PUBLIC;

CREATE TRIGGER memberships_audit AFTER INSERT OR UPDATE OR DELETE ON public.memberships
    FOR EACH ROW EXECUTE FUNCTION gardenos.audit_row('user_id');
-- An agency's deletion takes its trail with it, so only its creation and changes are recorded.
CREATE TRIGGER agencies_audit AFTER INSERT OR UPDATE ON public.agencies
    FOR EACH ROW EXECUTE FUNCTION gardenos.audit_row('id', 'id');
CREATE TRIGGER price_list_items_audit AFTER INSERT OR UPDATE OR DELETE ON public.price_list_items
    FOR EACH ROW EXECUTE FUNCTION gardenos.audit_row();
CREATE TRIGGER agent_subscriptions_audit AFTER INSERT OR UPDATE OR DELETE ON public.agent_subscriptions
    FOR EACH ROW EXECUTE FUNCTION gardenos.audit_row();
