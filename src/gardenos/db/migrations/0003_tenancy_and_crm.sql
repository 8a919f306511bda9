-- Agencies (the tenants), their members, and the CRM core: leads, clients, activities.

-- Every tenant table gets the same treatment through this one function: RLS on, one policy that keys
-- every read and write on the caller's agency from the verified JWT, and the grants the API roles need.
-- `anon` gets grants but no policy, so it sees nothing; `service_role` has BYPASSRLS.
CREATE FUNCTION gardenos.enable_tenant_rls(tbl regclass) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    EXECUTE format(
        'CREATE POLICY tenant_isolation ON %s AS PERMISSIVE FOR ALL TO authenticated '
        'USING (agency_id = (SELECT auth.agency_id())) '
        'WITH CHECK (agency_id = (SELECT auth.agency_id()))',
        tbl
    );
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO anon, authenticated, service_role', tbl);
END
$$;

CREATE TABLE public.agencies (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    name text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    settings jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TRIGGER agencies_updated_at BEFORE UPDATE ON public.agencies
    FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

CREATE TABLE public.memberships (
    agency_id uuid NOT NULL REFERENCES public.agencies (id) ON DELETE CASCADE,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    role text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
    invited_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, user_id)
);
CREATE INDEX memberships_user_idx ON public.memberships (user_id);

-- The agencies the caller belongs to, whatever agency is active in the token. SECURITY DEFINER so that
-- policies on agencies can ask without recursing through memberships' own policy.
CREATE FUNCTION auth.agency_ids() RETURNS SETOF uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT m.agency_id FROM public.memberships m WHERE m.user_id = auth.uid()
$$;
REVOKE ALL ON FUNCTION auth.agency_ids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth.agency_ids() TO authenticated, service_role;

ALTER TABLE public.agencies ENABLE ROW LEVEL SECURITY;
CREATE POLICY agencies_member_read ON public.agencies FOR SELECT TO authenticated
    USING (id = (SELECT auth.agency_id()) OR id IN (SELECT auth.agency_ids()));
CREATE POLICY agencies_admin_update ON public.agencies FOR UPDATE TO authenticated
    USING (id = (SELECT auth.agency_id()) AND (SELECT auth.agency_role()) IN ('owner', 'admin'))
    WITH CHECK (id = (SELECT auth.agency_id()));
GRANT SELECT, UPDATE ON public.agencies TO anon, authenticated;
GRANT ALL ON public.agencies TO service_role;

ALTER TABLE public.memberships ENABLE ROW LEVEL SECURITY;
CREATE POLICY memberships_read ON public.memberships FOR SELECT TO authenticated
    USING (agency_id = (SELECT auth.agency_id()) OR user_id = (SELECT auth.uid()));
CREATE POLICY memberships_admin_write ON public.memberships FOR ALL TO authenticated
    USING (agency_id = (SELECT auth.agency_id()) AND (SELECT auth.agency_role()) IN ('owner', 'admin'))
    WITH CHECK (agency_id = (SELECT auth.agency_id()) AND (SELECT auth.agency_role()) IN ('owner', 'admin'));
GRANT SELECT, INSERT, UPDATE, DELETE ON public.memberships TO anon, authenticated;
GRANT ALL ON public.memberships TO service_role;

CREATE TABLE public.leads (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    agency_id uuid NOT NULL DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    first_name text,
    last_name text,
    email text,
    phone text,
    company text,
    job_title text,
    website text,
    city text,
    country text,
    source text,
    status text NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'contacted', 'qualified', 'proposal', 'negotiation', 'converted', 'lost')),
    owner_id uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    score smallint CHECK (score BETWEEN 0 AND 100),
    estimated_value numeric(14, 2) CHECK (estimated_value >= 0),
    tags text[] NOT NULL DEFAULT '{}',
    custom_fields jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
    notes text,
    last_activity_at timestamptz,
    converted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    -- Keys for duplicate detection and search, kept by PostgreSQL itself.
    email_normalized text GENERATED ALWAYS AS (lower(btrim(email))) STORED,
    phone_normalized text GENERATED ALWAYS AS (nullif(regexp_replace(phone, '[^0-9+]', '', 'g'), '')) STORED,
    search_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('simple', coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' '
            || coalesce(company, '') || ' ' || coalesce(email, ''))
    ) STORED,
    CONSTRAINT leads_has_identity CHECK (num_nonnulls(first_name, last_name, email, phone, company) > 0),
    -- Lets child tables reference a lead *within the same agency* (a foreign key alone would not).
    CONSTRAINT leads_agency_id_id_key UNIQUE (agency_id, id)
);
CREATE INDEX leads_agency_status_created_idx ON public.leads (agency_id, status, created_at DESC);
CREATE INDEX leads_agency_created_idx ON public.leads (agency_id, created_at DESC);
CREATE INDEX leads_agency_owner_idx ON public.leads (agency_id, owner_id) WHERE owner_id IS NOT NULL;
CREATE INDEX leads_agency_email_idx ON public.leads (agency_id, email_normalized)
    WHERE email_normalized IS NOT NULL;
CREATE INDEX leads_agency_phone_idx ON public.leads (agency_id, phone_normalized)
    WHERE phone_normalized IS NOT NULL;
CREATE INDEX leads_name_trgm_idx ON public.leads
    USING gin ((lower(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))) extensions.gin_trgm_ops);
CREATE INDEX leads_company_trgm_idx ON public.leads USING gin (lower(company) extensions.gin_trgm_ops);
CREATE INDEX leads_search_idx ON public.leads USING gin (search_vector);
CREATE INDEX leads_tags_idx ON public.leads USING gin (tags);
CREATE TRIGGER leads_updated_at BEFORE UPDATE ON public.leads
    FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();
SELECT gardenos.enable_tenant_rls('public.leads');

CREATE TABLE public.clients (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    agency_id uuid NOT NULL DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    lead_id uuid,
    first_name text,
    last_name text,
    email text,
    phone text,
    company text,
    job_title text,
    website text,
    city text,
    country text,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'churned')),
    owner_id uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    lifetime_value numeric(14, 2) NOT NULL DEFAULT 0 CHECK (lifetime_value >= 0),
    tags text[] NOT NULL DEFAULT '{}',
    custom_fields jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(custom_fields) = 'object'),
    notes text,
    last_activity_at timestamptz,
    converted_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    email_normalized text GENERATED ALWAYS AS (lower(btrim(email))) STORED,
    phone_normalized text GENERATED ALWAYS AS (nullif(regexp_replace(phone, '[^0-9+]', '', 'g'), '')) STORED,
    search_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('simple', coalesce(first_name, '') || ' ' || coalesce(last_name, '') || ' '
            || coalesce(company, '') || ' ' || coalesce(email, ''))
    ) STORED,
    CONSTRAINT clients_has_identity CHECK (num_nonnulls(first_name, last_name, email, phone, company) > 0),
    CONSTRAINT clients_agency_id_id_key UNIQUE (agency_id, id),
    -- A lead becomes at most one client, and only a client of its own agency.
    CONSTRAINT clients_lead_id_key UNIQUE (lead_id),
    CONSTRAINT clients_lead_fkey FOREIGN KEY (agency_id, lead_id)
        REFERENCES public.leads (agency_id, id) ON DELETE SET NULL (lead_id)
);
CREATE INDEX clients_agency_status_created_idx ON public.clients (agency_id, status, created_at DESC);
CREATE INDEX clients_agency_created_idx ON public.clients (agency_id, created_at DESC);
CREATE INDEX clients_agency_owner_idx ON public.clients (agency_id, owner_id) WHERE owner_id IS NOT NULL;
CREATE INDEX clients_agency_email_idx ON public.clients (agency_id, email_normalized)
    WHERE email_normalized IS NOT NULL;
CREATE INDEX clients_agency_phone_idx ON public.clients (agency_id, phone_normalized)
    WHERE phone_normalized IS NOT NULL;
CREATE INDEX clients_name_trgm_idx ON public.clients
    USING gin ((lower(coalesce(first_name, '') || ' ' || coalesce(last_name, ''))) extensions.gin_trgm_ops);
CREATE INDEX clients_company_trgm_idx ON public.clients USING gin (lower(company) extensions.gin_trgm_ops);
CREATE INDEX clients_search_idx ON public.clients USING gin (search_vector);
CREATE INDEX clients_tags_idx ON public.clients USING gin (tags);
CREATE TRIGGER clients_updated_at BEFORE UPDATE ON public.clients
    FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();
SELECT gardenos.enable_tenant_rls('public.clients');

CREATE TABLE public.activities (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    agency_id uuid NOT NULL DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    lead_id uuid,
    client_id uuid,
    kind text NOT NULL CHECK (kind IN ('note', 'call', 'email', 'meeting', 'task')),
    subject text,
    body text,
    status text NOT NULL DEFAULT 'done' CHECK (status IN ('draft', 'planned', 'done', 'cancelled')),
    due_at timestamptz,
    completed_at timestamptz,
    created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    occurred_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT activities_has_subject CHECK (num_nonnulls(lead_id, client_id) > 0),
    CONSTRAINT activities_lead_fkey FOREIGN KEY (agency_id, lead_id)
        REFERENCES public.leads (agency_id, id) ON DELETE CASCADE,
    CONSTRAINT activities_client_fkey FOREIGN KEY (agency_id, client_id)
        REFERENCES public.clients (agency_id, id) ON DELETE CASCADE
);
CREATE INDEX activities_lead_idx ON public.activities (lead_id, occurred_at DESC) WHERE lead_id IS NOT NULL;
CREATE INDEX activities_client_idx ON public.activities (client_id, occurred_at DESC)
    WHERE client_id IS NOT NULL;
CREATE INDEX activities_agency_due_idx ON public.activities (agency_id, due_at)
    WHERE kind = 'task' AND completed_at IS NULL;
CREATE TRIGGER activities_updated_at BEFORE UPDATE ON public.activities
    FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();
SELECT gardenos.enable_tenant_rls('public.activities');
