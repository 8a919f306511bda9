-- The audit trail, file storage metadata (Supabase Storage's layout, per agency) and CSV imports.

CREATE TABLE public.audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agency_id uuid NOT NULL DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    actor_id uuid,
    actor_role text,
    action text NOT NULL CHECK (action IN ('read', 'insert', 'update', 'delete', 'merge', 'convert', 'import',
                                           'export', 'login', 'invite', 'remove_member')),
    table_name text,
    record_id uuid,
    before jsonb,
    after jsonb,
    context jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_agency_created_idx ON public.audit_log (agency_id, created_at DESC);
CREATE INDEX audit_log_record_idx ON public.audit_log (record_id, created_at DESC) WHERE record_id IS NOT NULL;
-- The trail is append-only for tenants: members read their agency's entries and add new ones, never
-- change or remove them.
ALTER TABLE public.audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_log_read ON public.audit_log FOR SELECT TO authenticated
    USING (agency_id = (SELECT auth.agency_id()));
CREATE POLICY audit_log_append ON public.audit_log FOR INSERT TO authenticated
    WITH CHECK (agency_id = (SELECT auth.agency_id()) AND actor_id IS NOT DISTINCT FROM (SELECT auth.uid()));
GRANT SELECT, INSERT ON public.audit_log TO anon, authenticated;
GRANT ALL ON public.audit_log TO service_role;

CREATE SCHEMA IF NOT EXISTS storage;
GRANT USAGE ON SCHEMA storage TO anon, authenticated, service_role;

CREATE TABLE storage.buckets (
    id text NOT NULL,
    agency_id uuid NOT NULL DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    name text NOT NULL,
    public boolean NOT NULL DEFAULT false,
    file_size_limit bigint CHECK (file_size_limit > 0),
    allowed_mime_types text[],
    owner uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agency_id, id)
);
CREATE TRIGGER buckets_updated_at BEFORE UPDATE ON storage.buckets
    FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();
SELECT gardenos.enable_tenant_rls('storage.buckets');

CREATE TABLE storage.objects (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    agency_id uuid NOT NULL DEFAULT auth.agency_id(),
    bucket_id text NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 1024),
    owner uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    size bigint NOT NULL DEFAULT 0 CHECK (size >= 0),
    mime_type text,
    etag text,
    metadata jsonb NOT NULL DEFAULT '{}',
    user_metadata jsonb NOT NULL DEFAULT '{}',
    last_accessed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT objects_bucket_fkey FOREIGN KEY (agency_id, bucket_id)
        REFERENCES storage.buckets (agency_id, id) ON DELETE CASCADE,
    CONSTRAINT objects_bucket_name_key UNIQUE (agency_id, bucket_id, name)
);
CREATE INDEX objects_name_prefix_idx ON storage.objects (agency_id, bucket_id, name text_pattern_ops);
CREATE TRIGGER objects_updated_at BEFORE UPDATE ON storage.objects
    FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();
SELECT gardenos.enable_tenant_rls('storage.objects');

CREATE TABLE public.imports (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    agency_id uuid NOT NULL DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    kind text NOT NULL DEFAULT 'leads' CHECK (kind IN ('leads', 'clients')),
    filename text NOT NULL,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'reverted')),
    on_duplicate text NOT NULL DEFAULT 'skip' CHECK (on_duplicate IN ('skip', 'update', 'merge')),
    mapping jsonb NOT NULL DEFAULT '{}',
    rows_total bigint NOT NULL DEFAULT 0,
    rows_imported bigint NOT NULL DEFAULT 0,
    rows_invalid bigint NOT NULL DEFAULT 0,
    rows_duplicate bigint NOT NULL DEFAULT 0,
    error text,
    created_by uuid REFERENCES auth.users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT imports_agency_id_id_key UNIQUE (agency_id, id)
);
CREATE INDEX imports_agency_created_idx ON public.imports (agency_id, created_at DESC);
CREATE TRIGGER imports_updated_at BEFORE UPDATE ON public.imports
    FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();
SELECT gardenos.enable_tenant_rls('public.imports');

CREATE TABLE public.import_errors (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agency_id uuid NOT NULL DEFAULT auth.agency_id(),
    import_id uuid NOT NULL,
    line_number bigint NOT NULL CHECK (line_number >= 1),
    column_name text,
    reason text NOT NULL,
    raw_row text,
    CONSTRAINT import_errors_import_fkey FOREIGN KEY (agency_id, import_id)
        REFERENCES public.imports (agency_id, id) ON DELETE CASCADE
);
CREATE INDEX import_errors_import_idx ON public.import_errors (import_id, line_number);
SELECT gardenos.enable_tenant_rls('public.import_errors');
