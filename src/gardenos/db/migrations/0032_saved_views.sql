-- Saved views of the web app's tables (a leads table's filters, sort and columns, under a name): one user's
-- own, in one agency, so that they follow the user to every device. Reached through /rest/v1 by the app.
CREATE TABLE public.saved_views (
    id uuid NOT NULL DEFAULT uuidv7(),
    -- Defaults from the verified token: the app sends only the name and the state.
    agency_id uuid NOT NULL DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    user_id uuid NOT NULL DEFAULT auth.uid() REFERENCES auth.users (id) ON DELETE CASCADE,
    screen text NOT NULL DEFAULT 'leads' CHECK (screen IN ('leads', 'clients')),
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    -- What the screen restores; the app owns its shape. Bounded: a view is a few filters, not a document.
    state jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(state) = 'object' AND pg_column_size(state) <= 16384),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- An id is unique within its agency, as on every tenant table (see 0017).
    PRIMARY KEY (agency_id, id),
    UNIQUE (agency_id, user_id, screen, name)
);
CREATE TRIGGER saved_views_updated_at BEFORE UPDATE ON public.saved_views
    FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

-- Owner only: not the agency's (enable_tenant_rls), since a colleague's views are theirs alone. Both keys
-- come from the token, so a view made in one agency does not show in another the user belongs to.
ALTER TABLE public.saved_views ENABLE ROW LEVEL SECURITY;
CREATE POLICY owner_only ON public.saved_views AS PERMISSIVE FOR ALL TO authenticated
    USING (user_id = (SELECT auth.uid()) AND agency_id = (SELECT auth.agency_id()))
    WITH CHECK (user_id = (SELECT auth.uid()) AND agency_id = (SELECT auth.agency_id()));
GRANT SELECT, INSERT, UPDATE, DELETE ON public.saved_views TO anon, authenticated, service_role;
