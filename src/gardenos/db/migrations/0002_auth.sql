-- The `auth` schema: users, sessions, refresh tokens (GoTrue's layout, first cut) and the helpers that
-- read the verified JWT claims a request put in `request.jwt.claims` (transaction-local).
CREATE SCHEMA IF NOT EXISTS auth;
GRANT USAGE ON SCHEMA auth TO anon, authenticated, service_role;

CREATE FUNCTION auth.jwt() RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb
$$;

CREATE FUNCTION auth.uid() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(
        coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), auth.jwt() ->> 'sub'),
        ''
    )::uuid
$$;

CREATE FUNCTION auth.role() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''), auth.jwt() ->> 'role')
$$;

CREATE FUNCTION auth.email() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT auth.jwt() ->> 'email'
$$;

-- The tenant: `app_metadata` is written by the server only, never by the user (PUT /user cannot).
CREATE FUNCTION auth.agency_id() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(auth.jwt() -> 'app_metadata' ->> 'agency_id', '')::uuid
$$;

CREATE FUNCTION auth.agency_role() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT auth.jwt() -> 'app_metadata' ->> 'agency_role'
$$;

GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA auth TO anon, authenticated, service_role;

CREATE TABLE auth.users (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    aud text NOT NULL DEFAULT 'authenticated',
    role text NOT NULL DEFAULT 'authenticated',
    email text,
    encrypted_password text,
    email_confirmed_at timestamptz,
    phone text,
    phone_confirmed_at timestamptz,
    confirmation_token text,
    confirmation_sent_at timestamptz,
    recovery_token text,
    recovery_sent_at timestamptz,
    email_change text,
    email_change_token text,
    email_change_sent_at timestamptz,
    raw_app_meta_data jsonb NOT NULL DEFAULT '{}',
    raw_user_meta_data jsonb NOT NULL DEFAULT '{}',
    is_super_admin boolean NOT NULL DEFAULT false,
    is_anonymous boolean NOT NULL DEFAULT false,
    banned_until timestamptz,
    last_sign_in_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    CONSTRAINT users_app_meta_is_object CHECK (jsonb_typeof(raw_app_meta_data) = 'object'),
    CONSTRAINT users_user_meta_is_object CHECK (jsonb_typeof(raw_user_meta_data) = 'object')
);
CREATE UNIQUE INDEX users_email_key ON auth.users (lower(email)) WHERE email IS NOT NULL AND NOT is_anonymous;
CREATE UNIQUE INDEX users_phone_key ON auth.users (phone) WHERE phone IS NOT NULL;
CREATE TRIGGER users_updated_at BEFORE UPDATE ON auth.users
    FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

CREATE TABLE auth.sessions (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    aal text NOT NULL DEFAULT 'aal1',
    factor_id uuid,
    not_after timestamptz,
    refreshed_at timestamptz,
    user_agent text,
    ip inet,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user_id_idx ON auth.sessions (user_id);
CREATE TRIGGER sessions_updated_at BEFORE UPDATE ON auth.sessions
    FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

CREATE TABLE auth.refresh_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token text NOT NULL UNIQUE,
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    session_id uuid NOT NULL REFERENCES auth.sessions (id) ON DELETE CASCADE,
    parent text,
    revoked boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_session_idx ON auth.refresh_tokens (session_id, revoked);
CREATE INDEX refresh_tokens_parent_idx ON auth.refresh_tokens (parent);
CREATE TRIGGER refresh_tokens_updated_at BEFORE UPDATE ON auth.refresh_tokens
    FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

-- Only the server (as the owner or service_role) touches auth tables; end users go through /auth/v1.
ALTER TABLE auth.users ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE auth.refresh_tokens ENABLE ROW LEVEL SECURITY;
GRANT ALL ON auth.users, auth.sessions, auth.refresh_tokens TO service_role;
