-- Extensions live in their own schema, as in Supabase, so that `public` (the API's schema) holds only
-- our tables and functions.
CREATE SCHEMA IF NOT EXISTS extensions;
CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA extensions;
CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA extensions;

DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET search_path = public, extensions', current_database());
END
$$;

-- The Supabase role model. The API logs in as `authenticator` (NOINHERIT: it has no privileges of its
-- own) and switches, per request and inside one transaction, to the role named by the verified JWT.
-- Roles are cluster-wide: create them only where they are missing.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
        CREATE ROLE anon NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
        CREATE ROLE authenticated NOLOGIN NOINHERIT;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
        CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticator') THEN
        CREATE ROLE authenticator LOGIN NOINHERIT;
    END IF;
END
$$;

GRANT anon, authenticated, service_role TO authenticator;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public, extensions TO anon, authenticated, service_role;

-- GardenOS's own bookkeeping (the migrations table lives here); the API may read it for /ready.
CREATE SCHEMA IF NOT EXISTS gardenos;
GRANT USAGE ON SCHEMA gardenos TO authenticator, anon, authenticated, service_role;
GRANT SELECT ON gardenos.schema_migrations TO authenticator;

-- `updated_at` maintenance for every table that has the column.
CREATE FUNCTION gardenos.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;
