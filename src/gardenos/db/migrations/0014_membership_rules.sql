-- Powers decided by the current rows, at every door: the caller's agency and role come from `memberships`
-- (not from a token that may be an hour old), membership changes follow one set of rules in a trigger,
-- audit rows come from the database alone, and no row can point at another agency's rows or users.

-- --- the caller's agency and role ------------------------------------------------------------------------

-- The agency the token claims counts only while the caller is still a member of it: one probe of the
-- memberships primary key. Policies call it as `(SELECT auth.agency_id())`, an InitPlan run once per
-- statement. SECURITY DEFINER so that it reads memberships past their own policy, which calls it (and
-- so it is never inlined into a policy). PL/pgSQL rather than SQL: a SQL function that is not inlined
-- costs twice as much per call (measured 11 µs against 24 µs; the token-only version took 3 µs).
--
-- Agents run in-process with the claims of their task (`agents/base.py` `tenant_claims`): the agency, the
-- role `agent`, and as `sub` the user who asked, if any. With a user, that user's membership decides as
-- for anyone; without one, the agency must exist. No token a user can obtain lacks a `sub`: only the
-- holder of the signing secret can present such claims, and it could sign a service_role key anyway.
CREATE OR REPLACE FUNCTION auth.agency_id() RETURNS uuid
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    claims jsonb := auth.jwt();
    claimed uuid := nullif(claims -> 'app_metadata' ->> 'agency_id', '')::uuid;
    caller uuid := auth.uid();
    agency uuid;
BEGIN
    IF caller IS NOT NULL THEN
        SELECT m.agency_id INTO agency FROM public.memberships m WHERE m.agency_id = claimed AND m.user_id = caller;
    ELSIF claims -> 'app_metadata' ->> 'agency_role' = 'agent' THEN
        SELECT a.id INTO agency FROM public.agencies a WHERE a.id = claimed;
    END IF;
    RETURN agency;
END
$$;

-- The caller's role in that agency, as its membership row says now. An agent is an `agent`, whoever
-- asked for its task: it never holds an owner's or admin's powers.
CREATE OR REPLACE FUNCTION auth.agency_role() RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    agency uuid := auth.agency_id();
    agency_role text;
BEGIN
    IF agency IS NULL THEN
        RETURN NULL;
    ELSIF auth.jwt() -> 'app_metadata' ->> 'agency_role' = 'agent' THEN
        RETURN 'agent';
    END IF;
    SELECT m.role INTO agency_role FROM public.memberships m WHERE m.agency_id = agency AND m.user_id = auth.uid();
    RETURN agency_role;
END
$$;

-- --- memberships -----------------------------------------------------------------------------------------

-- Policies confine callers to the agencies they belong to now (any of them: /api/v1/agencies/{id} works on
-- any of the caller's agencies, not only the active one); what a member may do there is the trigger's
-- business, which answers with a reason instead of a silent no-op.
DROP POLICY memberships_read ON public.memberships;
DROP POLICY memberships_admin_write ON public.memberships;
CREATE POLICY memberships_read ON public.memberships FOR SELECT TO authenticated
    USING (agency_id IN (SELECT auth.agency_ids()) OR agency_id = (SELECT auth.agency_id()));
CREATE POLICY memberships_insert ON public.memberships FOR INSERT TO authenticated
    WITH CHECK (agency_id IN (SELECT auth.agency_ids()));
CREATE POLICY memberships_update ON public.memberships FOR UPDATE TO authenticated
    USING (agency_id IN (SELECT auth.agency_ids()))
    WITH CHECK (agency_id IN (SELECT auth.agency_ids()));
CREATE POLICY memberships_delete ON public.memberships FOR DELETE TO authenticated
    USING (agency_id IN (SELECT auth.agency_ids()));

-- The one implementation of the membership rules, for every role and door (/rest/v1, /api/v1, SQL):
-- - when a user acts (the claims name one, whatever the database role: /api/v1/agencies runs as
--   service_role with the caller's claims), only the agency's owners and admins add, change or remove
--   members, as the rows say now; anyone may leave; an admin cannot make an owner, cannot change or
--   remove an owner, and cannot change its own role;
-- - always: the last owner of an agency is never removed or demoted (an agency without an owner could
--   never be managed again), unless the agency itself is being deleted (ON DELETE CASCADE);
-- - a membership is a (agency, user) pair: it is never moved to another agency or user.
-- Refusals are 42501 (the API's 403) and, for the last owner, 23000 (409). Changes to one agency's
-- memberships are serialised on its row, so two owners removed at once cannot both be "not the last".
CREATE FUNCTION gardenos.membership_rules() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    actor uuid := auth.uid();
    agency uuid;
    actor_role text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        agency := NEW.agency_id;
    ELSE
        agency := OLD.agency_id;
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.agency_id, NEW.user_id) IS DISTINCT FROM (OLD.agency_id, OLD.user_id) THEN
        RAISE EXCEPTION 'a membership cannot be moved to another agency or user'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'remove the member and invite the new one';
    END IF;
    PERFORM FROM public.agencies a WHERE a.id = agency FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        -- The agency is being deleted (its memberships go with it), or does not exist (the foreign key
        -- refuses the insert).
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;

    IF actor IS NOT NULL THEN
        SELECT m.role INTO actor_role FROM public.memberships m WHERE m.agency_id = agency AND m.user_id = actor;
        IF TG_OP = 'DELETE' AND OLD.user_id = actor AND actor_role IS NOT NULL THEN
            NULL;  -- leaving the agency: anyone may (the last owner rule below still holds)
        ELSIF actor_role IS NULL OR actor_role NOT IN ('owner', 'admin') THEN
            RAISE EXCEPTION 'only the agency''s owners and admins can add, change or remove members'
                USING ERRCODE = 'insufficient_privilege';
        ELSIF actor_role = 'admin' THEN
            IF TG_OP <> 'INSERT' AND OLD.role = 'owner' THEN
                RAISE EXCEPTION 'only owners can change or remove an owner' USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF TG_OP <> 'DELETE' AND NEW.role = 'owner' THEN
                RAISE EXCEPTION 'only owners can make another owner' USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF TG_OP = 'UPDATE' AND OLD.user_id = actor THEN
                RAISE EXCEPTION 'admins cannot change their own role; ask an owner'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
        END IF;
        -- Who added whom, and when, is the database's record, not the caller's say.
        IF TG_OP = 'INSERT' THEN
            NEW.invited_by := actor;
            NEW.created_at := now();
        ELSIF TG_OP = 'UPDATE' THEN
            NEW.invited_by := OLD.invited_by;
            NEW.created_at := OLD.created_at;
        END IF;
    END IF;

    IF TG_OP <> 'INSERT' AND OLD.role = 'owner' AND (TG_OP = 'DELETE' OR NEW.role <> 'owner') THEN
        -- Sees the rows this statement already changed (a BEFORE trigger in a volatile function), and,
        -- under the agency's lock, whatever other transactions committed.
        IF NOT EXISTS (
            SELECT FROM public.memberships m
            WHERE m.agency_id = agency AND m.role = 'owner' AND m.user_id <> OLD.user_id
        ) THEN
            RAISE EXCEPTION 'the last owner of an agency cannot be removed or demoted'
                USING ERRCODE = 'integrity_constraint_violation',
                      HINT = 'make another member owner first, or delete the agency';
        END IF;
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END
$$;
REVOKE ALL ON FUNCTION gardenos.membership_rules() FROM PUBLIC;
CREATE TRIGGER memberships_rules BEFORE INSERT OR UPDATE OR DELETE ON public.memberships
    FOR EACH ROW EXECUTE FUNCTION gardenos.membership_rules();

-- --- other tables that grant power -----------------------------------------------------------------------

-- agencies (their settings hold the custom field definitions): `agencies_admin_update` reads
-- auth.agency_id() and auth.agency_role(), which now answer from the current rows.
-- Subscriptions start agents (and spend the agency's model budget) on every event; the price list is
-- what proposals quote. Members read them; owners and admins change them.
DO $$
DECLARE
    tbl regclass;
BEGIN
    FOREACH tbl IN ARRAY ARRAY['public.agent_subscriptions', 'public.price_list_items']::regclass[] LOOP
        EXECUTE format('DROP POLICY tenant_isolation ON %s', tbl);
        EXECUTE format(
            'CREATE POLICY tenant_read ON %s FOR SELECT TO authenticated '
            'USING (agency_id = (SELECT auth.agency_id()))', tbl);
        EXECUTE format(
            'CREATE POLICY admin_write ON %s FOR ALL TO authenticated '
            'USING (agency_id = (SELECT auth.agency_id()) AND (SELECT auth.agency_role()) IN (''owner'', ''admin'')) '
            'WITH CHECK (agency_id = (SELECT auth.agency_id()) AND (SELECT auth.agency_role()) IN (''owner'', ''admin''))',
            tbl);
    END LOOP;
END
$$;

-- --- the audit trail: written by the database only ---------------------------------------------------------

-- Row changes are recorded by `gardenos.audit_row()` (SECURITY DEFINER). Tenants no longer insert rows
-- themselves: anything they wrote would show in /api/v1/audit as if it had happened.
DROP POLICY audit_log_append ON public.audit_log;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON public.audit_log FROM anon, authenticated;

-- Events that are not one row's change (an import, a merge, a conversion) are recorded through this
-- function: the agency and the actor are the database's (the caller's current membership and verified
-- user), only what happened is the caller's. It lives outside `public`, so /rest/v1/rpc cannot reach it.
CREATE FUNCTION gardenos.record_event(
    action text, table_name text, record_id uuid, before jsonb DEFAULT NULL, after jsonb DEFAULT NULL,
    context jsonb DEFAULT '{}'
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    agency uuid := auth.agency_id();
BEGIN
    IF agency IS NULL THEN
        RAISE EXCEPTION 'no agency to record this in: the caller is not a member of the agency it claims'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF action NOT IN ('read', 'export', 'merge', 'convert', 'import') THEN
        RAISE EXCEPTION 'the % entries of the audit trail are written by the database itself', action
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    INSERT INTO public.audit_log (agency_id, actor_id, actor_role, action, table_name, record_id, before, after,
                                  context)
    VALUES (agency, auth.uid(), auth.role(), action, table_name, record_id, before, after,
            coalesce(context, '{}'));
END
$$;
REVOKE ALL ON FUNCTION gardenos.record_event(text, text, uuid, jsonb, jsonb, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION gardenos.record_event(text, text, uuid, jsonb, jsonb, jsonb) TO authenticated, service_role;

-- --- no reference across agencies ----------------------------------------------------------------------------

-- Tasks are referenced within their agency: (agency_id, task_id), as leads and clients already are. A
-- reference to another agency's task then fails exactly as one to a task that does not exist.
-- References that crossed agencies before this migration are cut.
ALTER TABLE public.agent_tasks ADD CONSTRAINT agent_tasks_agency_id_id_key UNIQUE (agency_id, id);
UPDATE public.lead_analyses x SET task_id = NULL
WHERE x.task_id IS NOT NULL
  AND NOT EXISTS (SELECT FROM public.agent_tasks t WHERE t.agency_id = x.agency_id AND t.id = x.task_id);
UPDATE public.ai_interactions x SET task_id = NULL
WHERE x.task_id IS NOT NULL
  AND NOT EXISTS (SELECT FROM public.agent_tasks t WHERE t.agency_id = x.agency_id AND t.id = x.task_id);
ALTER TABLE public.lead_analyses
    DROP CONSTRAINT lead_analyses_task_id_fkey,
    ADD CONSTRAINT lead_analyses_task_fkey FOREIGN KEY (agency_id, task_id)
        REFERENCES public.agent_tasks (agency_id, id) ON DELETE SET NULL (task_id);
ALTER TABLE public.ai_interactions
    DROP CONSTRAINT ai_interactions_task_id_fkey,
    ADD CONSTRAINT ai_interactions_task_fkey FOREIGN KEY (agency_id, task_id)
        REFERENCES public.agent_tasks (agency_id, id) ON DELETE SET NULL (task_id);

-- Unique keys on a reference alone answered another agency's insert with "already exists" before its
-- foreign key could refuse it: whether A's lead was converted, whether it had an embedding. Unique
-- within the agency, the insert reaches the (agency-scoped) foreign key, which cannot tell.
ALTER TABLE public.clients
    DROP CONSTRAINT clients_lead_id_key,
    ADD CONSTRAINT clients_lead_id_key UNIQUE (agency_id, lead_id);
ALTER TABLE public.record_embeddings
    DROP CONSTRAINT record_embeddings_lead_key,
    ADD CONSTRAINT record_embeddings_lead_key UNIQUE (agency_id, lead_id),
    DROP CONSTRAINT record_embeddings_client_key,
    ADD CONSTRAINT record_embeddings_client_key UNIQUE (agency_id, client_id);

-- A user named on a tenant row (its owner, who created it) must be a member of the row's agency. The
-- foreign key to auth.users alone let one agency name another's users (whose id then rode in its agent
-- tokens) and told it which user ids exist. This check runs before the foreign key and answers the same
-- for a user who does not exist and one of another agency, without echoing the id.
CREATE FUNCTION gardenos.require_member() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
    member uuid;
BEGIN
    -- Branches, not to_jsonb(NEW): only the named column is read (a trigger's record fields resolve at run time).
    IF TG_ARGV[0] = 'owner_id' THEN
        member := NEW.owner_id;
    ELSIF TG_ARGV[0] = 'owner' THEN
        member := NEW.owner;
    ELSE
        member := NEW.created_by;
    END IF;
    IF NOT EXISTS (SELECT FROM public.memberships m WHERE m.agency_id = NEW.agency_id AND m.user_id = member) THEN
        RAISE EXCEPTION '% must be a member of the agency', TG_ARGV[0]
            USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME, COLUMN = TG_ARGV[0],
                  HINT = 'name a user of this agency (GET /api/v1/agencies/{id}/members), or leave it empty';
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION gardenos.require_member() FROM PUBLIC;

-- Checked when the user is set or the row changes agency; a member who leaves stays on the rows that
-- named them (as a deleted user's id becomes NULL, a removed member is history, not a forgery).
DO $$
DECLARE
    ref record;
BEGIN
    FOR ref IN
        SELECT * FROM (VALUES
            ('public.leads'::regclass, 'leads', 'owner_id'),
            ('public.clients', 'clients', 'owner_id'),
            ('public.activities', 'activities', 'created_by'),
            ('public.agent_tasks', 'agent_tasks', 'created_by'),
            ('public.agent_memory', 'agent_memory', 'created_by'),
            ('public.agent_subscriptions', 'agent_subscriptions', 'created_by'),
            ('public.imports', 'imports', 'created_by'),
            ('storage.buckets', 'buckets', 'owner'),
            ('storage.objects', 'objects', 'owner')
        ) AS r(tbl, name, col)
    LOOP
        EXECUTE format(
            'CREATE TRIGGER %I BEFORE INSERT ON %s FOR EACH ROW WHEN (NEW.%I IS NOT NULL) '
            'EXECUTE FUNCTION gardenos.require_member(%L)',
            ref.name || '_' || ref.col || '_member', ref.tbl, ref.col, ref.col);
        EXECUTE format(
            'CREATE TRIGGER %I BEFORE UPDATE OF %I, agency_id ON %s FOR EACH ROW '
            'WHEN (NEW.%I IS NOT NULL AND (NEW.%I, NEW.agency_id) IS DISTINCT FROM (OLD.%I, OLD.agency_id)) '
            'EXECUTE FUNCTION gardenos.require_member(%L)',
            ref.name || '_' || ref.col || '_member_update', ref.col, ref.tbl, ref.col, ref.col, ref.col, ref.col);
    END LOOP;
END
$$;
