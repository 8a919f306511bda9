--
-- PostgreSQL database dump
--

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET transaction_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

--
-- Name: auth; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA auth;

--
-- Name: extensions; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA extensions;

--
-- Name: gardenos; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA gardenos;

--
-- Name: realtime; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA realtime;

--
-- Name: storage; Type: SCHEMA; Schema: -; Owner: -
--

CREATE SCHEMA storage;

--
-- Name: pg_stat_statements; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA extensions;

--
-- Name: EXTENSION pg_stat_statements; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION pg_stat_statements IS 'track planning and execution statistics of all SQL statements executed';

--
-- Name: pg_trgm; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA extensions;

--
-- Name: EXTENSION pg_trgm; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION pg_trgm IS 'text similarity measurement and index searching based on trigrams';

--
-- Name: vector; Type: EXTENSION; Schema: -; Owner: -
--

CREATE EXTENSION IF NOT EXISTS vector WITH SCHEMA extensions;

--
-- Name: EXTENSION vector; Type: COMMENT; Schema: -; Owner: -
--

COMMENT ON EXTENSION vector IS 'vector data type and ivfflat and hnsw access methods';

--
-- Name: agency_id(); Type: FUNCTION; Schema: auth; Owner: -
--

CREATE FUNCTION auth.agency_id() RETURNS uuid
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path TO ''
    AS $$
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

--
-- Name: agency_ids(); Type: FUNCTION; Schema: auth; Owner: -
--

CREATE FUNCTION auth.agency_ids() RETURNS SETOF uuid
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT m.agency_id FROM public.memberships m WHERE m.user_id = auth.uid()
$$;

--
-- Name: agency_role(); Type: FUNCTION; Schema: auth; Owner: -
--

CREATE FUNCTION auth.agency_role() RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER PARALLEL SAFE
    SET search_path TO ''
    AS $$
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

--
-- Name: email(); Type: FUNCTION; Schema: auth; Owner: -
--

CREATE FUNCTION auth.email() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT auth.jwt() ->> 'email'
$$;

--
-- Name: jwt(); Type: FUNCTION; Schema: auth; Owner: -
--

CREATE FUNCTION auth.jwt() RETURNS jsonb
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb
$$;

--
-- Name: role(); Type: FUNCTION; Schema: auth; Owner: -
--

CREATE FUNCTION auth.role() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''), auth.jwt() ->> 'role')
$$;

--
-- Name: uid(); Type: FUNCTION; Schema: auth; Owner: -
--

CREATE FUNCTION auth.uid() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT nullif(
        coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), auth.jwt() ->> 'sub'),
        ''
    )::uuid
$$;

--
-- Name: audit_row(); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.audit_row() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

--
-- Name: define_imported_fields(text, text[]); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.define_imported_fields(entity text, names text[]) RETURNS text[]
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
DECLARE
    agency uuid := auth.agency_id();  -- the caller's membership as it is now
    defined jsonb;
    added text[];
BEGIN
    IF agency IS NULL THEN
        RAISE EXCEPTION 'no active agency' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF entity NOT IN ('leads', 'clients') THEN
        RAISE EXCEPTION 'custom fields are defined for leads or clients, not %', entity
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT coalesce(a.settings -> 'custom_fields' -> entity, '{}') INTO defined
    FROM public.agencies a WHERE a.id = agency FOR UPDATE;
    SELECT array_agg(n ORDER BY n) INTO added FROM (
        SELECT n FROM (SELECT DISTINCT n FROM unnest(names) AS n) d
        WHERE n ~ '^[a-z][a-z0-9_]{0,62}$' AND NOT defined ? n
        ORDER BY n LIMIT greatest(0, 100 - (SELECT count(*) FROM jsonb_object_keys(defined)))
    ) s;
    IF added IS NULL THEN
        RETURN '{}';
    END IF;
    UPDATE public.agencies a SET settings = jsonb_set(
        a.settings, '{custom_fields}',
        coalesce(a.settings -> 'custom_fields', '{}') || jsonb_build_object(
            entity, defined || (SELECT jsonb_object_agg(n, '{"type": "text"}'::jsonb) FROM unnest(added) AS n)))
    WHERE a.id = agency;
    RETURN added;
END
$_$;

--
-- Name: email_address(text); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.email_address(value text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO ''
    AS $_$
DECLARE
    address text := regexp_replace(value, '^\s+|\s+$', '', 'g');
    at int;
BEGIN
    IF lower(left(address, 7)) = 'mailto:' THEN
        address := regexp_replace(substr(address, 8), '^\s+', '');
    END IF;
    IF address LIKE '<%>' THEN
        address := regexp_replace(substr(address, 2, length(address) - 2), '^\s+|\s+$', '', 'g');
    END IF;
    at := strpos(reverse(address), '@');
    IF at = 0 THEN
        RETURN nullif(address, '');
    END IF;
    RETURN left(address, length(address) - at + 1)
        || rtrim(lower(right(address, at - 1)), '.');
END
$_$;

--
-- Name: enable_tenant_rls(regclass); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.enable_tenant_rls(tbl regclass) RETURNS void
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: enqueue_embeddings(); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.enqueue_embeddings() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $_$
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
$_$;

--
-- Name: fire_lead_subscriptions(); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.fire_lead_subscriptions() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    event_name text;
    occurrence text;
BEGIN
    IF current_setting('gardenos.subscriptions', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        event_name := 'lead.created';
        occurrence := NEW.id::text;
    ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
        event_name := 'lead.status_changed';
        occurrence := NEW.id::text || ':' || NEW.status || ':' || extract(epoch FROM NEW.updated_at)::text;
    ELSE
        RETURN NULL;
    END IF;
    INSERT INTO public.agent_tasks (agency_id, agent_type, priority, payload, idempotency_key)
    SELECT s.agency_id, s.agent_type, coalesce((s.config ->> 'priority')::smallint, 5),
           jsonb_build_object('lead_id', NEW.id, 'event', event_name, 'subscription_id', s.id,
                              'status', NEW.status),
           'sub:' || s.id || ':' || occurrence
    FROM public.agent_subscriptions s
    WHERE s.agency_id = NEW.agency_id AND s.event = event_name AND s.enabled
    ON CONFLICT ON CONSTRAINT agent_tasks_idempotency_key DO NOTHING;
    RETURN NULL;
END
$$;

--
-- Name: imports_written_by_the_importer(); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.imports_written_by_the_importer() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
BEGIN
    IF current_user IN ('anon', 'authenticated')
        AND current_setting('gardenos.writer', true) IS DISTINCT FROM 'importer' THEN
        RAISE EXCEPTION 'imports are written by the importer only'
            USING ERRCODE = '42501',
                HINT = 'Start an import with POST /api/v1/imports (or `gardenos import`), and revert it with '
                    'POST /api/v1/imports/{id}/revert.';
    END IF;
    RETURN coalesce(NEW, OLD);
END
$$;

--
-- Name: membership_rules(); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.membership_rules() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

--
-- Name: name_key(text, text); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.name_key(first_name text, last_name text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN lower(((CASE WHEN (first_name IS NULL) THEN ''::text ELSE first_name END || ' '::text) || CASE WHEN (last_name IS NULL) THEN ''::text ELSE last_name END));

--
-- Name: name_part(text); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.name_part(part text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO ''
    AS $$
DECLARE
    mark text;
    head text;
    low text := lower(part);
BEGIN
    IF part = '' THEN
        RETURN part;
    END IF;
    FOREACH mark IN ARRAY ARRAY['''', '’'] LOOP
        IF strpos(substr(part, 2, 2), mark) > 0 THEN
            head := split_part(part, mark, 1);
            RETURN gardenos.name_part(head) || mark
                || gardenos.name_part(substr(part, length(head) + 2));
        END IF;
    END LOOP;
    IF low LIKE 'mc%' AND length(part) > 3 THEN
        RETURN 'Mc' || upper(substr(low, 3, 1)) || substr(low, 4);
    END IF;
    RETURN upper(left(low, 1)) || substr(low, 2);
END
$$;

--
-- Name: notify_agent_tasks(); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.notify_agent_tasks() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    PERFORM pg_notify('gardenos_agent_tasks', t.agent_type)
    FROM (SELECT DISTINCT n.agent_type FROM new_tasks n WHERE n.status = 'queued') t;
    RETURN NULL;
END
$$;

--
-- Name: notify_revocation(); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.notify_revocation() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    -- The column that holds the user's id: `id` on auth.users, `user_id` elsewhere.
    user_column text := TG_ARGV[0];
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('gardenos_revocation', '*');
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('gardenos_revocation', to_jsonb(OLD) ->> user_column);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND to_jsonb(NEW) ->> user_column <> to_jsonb(OLD) ->> user_column)
    THEN
        PERFORM pg_notify('gardenos_revocation', to_jsonb(NEW) ->> user_column);
    END IF;
    RETURN NULL;
END
$$;

--
-- Name: person_name(text); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.person_name(value text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
    SET search_path TO ''
    AS $$
DECLARE
    name text := gardenos.tidy_text(value);
    words text[];
    last int;
BEGIN
    IF name IS NULL OR name <> upper(name) OR name = lower(name)
        OR length(regexp_replace(name, '[^[:alpha:]]', '', 'g')) < 2 THEN
        RETURN name;
    END IF;
    words := string_to_array(name, ' ');
    last := cardinality(words);
    RETURN (
        SELECT string_agg(
            CASE WHEN n < last AND lower(w) = ANY ('{van,von,der,den,de,del,della,dei,di,da,das,dos,du,la,le,ten,ter,zu,zur,y,bin,ibn,al,el}')
                THEN lower(w)
                ELSE (SELECT string_agg(gardenos.name_part(p), '-' ORDER BY i)
                      FROM unnest(string_to_array(w, '-')) WITH ORDINALITY AS parts (p, i))
            END, ' ' ORDER BY n)
        FROM unnest(words) WITH ORDINALITY AS x (w, n)
    );
END
$$;

--
-- Name: record_event(text, text, uuid, jsonb, jsonb, jsonb); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.record_event(action text, table_name text, record_id uuid, before jsonb DEFAULT NULL::jsonb, after jsonb DEFAULT NULL::jsonb, context jsonb DEFAULT '{}'::jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

--
-- Name: require_member(); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.require_member() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
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

--
-- Name: set_updated_at(); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END
$$;

--
-- Name: shouted_name(text); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.shouted_name(name text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ((name = upper(name)) AND (name <> lower(name)));

--
-- Name: tidy_contact(); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.tidy_contact() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO ''
    AS $$
DECLARE
    source text;
BEGIN
    IF TG_TABLE_NAME = 'leads' THEN
        source := NEW.source;
    END IF;
    IF gardenos.untidy_texts(concat_ws(E'\x1f', NEW.first_name, NEW.last_name, NEW.email, NEW.company,
        NEW.job_title, NEW.website, NEW.city, NEW.country, source))
    THEN
        NEW.first_name := gardenos.person_name(NEW.first_name);
        NEW.last_name := gardenos.person_name(NEW.last_name);
        NEW.email := gardenos.email_address(NEW.email);
        NEW.company := gardenos.tidy_text(NEW.company);
        NEW.job_title := gardenos.tidy_text(NEW.job_title);
        NEW.website := gardenos.tidy_text(NEW.website);
        NEW.city := gardenos.tidy_text(NEW.city);
        NEW.country := gardenos.tidy_text(NEW.country);
        IF TG_TABLE_NAME = 'leads' THEN
            NEW.source := gardenos.tidy_text(NEW.source);
        END IF;
    ELSE
        IF gardenos.shouted_name(NEW.first_name) THEN
            NEW.first_name := gardenos.person_name(NEW.first_name);
        END IF;
        IF gardenos.shouted_name(NEW.last_name) THEN
            NEW.last_name := gardenos.person_name(NEW.last_name);
        END IF;
        IF gardenos.untidy_email(NEW.email) THEN
            NEW.email := gardenos.email_address(NEW.email);
        END IF;
    END IF;
    IF gardenos.untidy_tags(NEW.tags) THEN
        NEW.tags := gardenos.tidy_tags(NEW.tags);
    END IF;
    RETURN NEW;
END
$$;

--
-- Name: tidy_tags(text[]); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.tidy_tags(tags text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY(SELECT t.tag FROM (SELECT regexp_replace(u.x, '^\s+|\s+$'::text, ''::text, 'g'::text) AS tag, min(u.n) AS first FROM unnest(tidy_tags.tags) WITH ORDINALITY u(x, n) GROUP BY (regexp_replace(u.x, '^\s+|\s+$'::text, ''::text, 'g'::text))) t WHERE (t.tag <> ''::text) ORDER BY t.first);

--
-- Name: tidy_text(text); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.tidy_text(value text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN NULLIF(regexp_replace(regexp_replace(value, '\s+'::text, ' '::text, 'g'::text), '^ | $'::text, ''::text, 'g'::text), ''::text);

--
-- Name: untidy_email(text); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.untidy_email(email text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ((email <> lower(email)) OR (email ~~ '<%'::text) OR (email ~~* 'mailto:%'::text) OR (email ~~ '%.'::text));

--
-- Name: untidy_tags(text[]); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.untidy_tags(tags text[]) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN ((cardinality(tags) > 1) OR ((cardinality(tags) = 1) AND (array_to_string(tags, ''::text) ~ '(^|)(\s|$)|\s(|$)'::text)));

--
-- Name: untidy_texts(text); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.untidy_texts(texts text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (texts ~ '(^|)(\s||$)|\s(|$)|\s\s|[^\S ]'::text);

--
-- Name: untidy_contact(text, text, text, text, text, text, text, text, text, text[]); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.untidy_contact(first_name text, last_name text, email text, company text, job_title text, website text, city text, country text, source text, tags text[]) RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN (gardenos.untidy_texts(concat_ws(''::text, first_name, last_name, email, company, job_title, website, city, country, source)) OR gardenos.shouted_name(first_name) OR gardenos.shouted_name(last_name) OR gardenos.untidy_email(email) OR gardenos.untidy_tags(tags));

--
-- Name: valid_duplicate_rule(jsonb); Type: FUNCTION; Schema: gardenos; Owner: -
--

CREATE FUNCTION gardenos.valid_duplicate_rule(rule jsonb) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO ''
    AS $$
    SELECT CASE jsonb_typeof(rule)
        WHEN 'string' THEN rule #>> '{}' IN ('email', 'email_or_phone', 'phone', 'name_and_company')
        WHEN 'array' THEN jsonb_array_length(rule) > 0 AND NOT EXISTS (
            SELECT FROM jsonb_array_elements(rule) r
            WHERE jsonb_typeof(r) <> 'string'
                OR r #>> '{}' NOT IN ('email', 'email_or_phone', 'phone', 'name_and_company'))
        ELSE false
    END
$$;

--
-- Name: pipeline_summary(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.pipeline_summary() RETURNS TABLE(status text, leads bigint, estimated_value numeric)
    LANGUAGE sql STABLE
    AS $$
    SELECT s.status, count(l.id), coalesce(sum(l.estimated_value), 0)
    FROM unnest(ARRAY['new', 'contacted', 'qualified', 'proposal', 'negotiation', 'converted', 'lost'])
        WITH ORDINALITY AS s(status, position)
    LEFT JOIN public.leads l ON l.status = s.status
    GROUP BY s.status, s.position
    ORDER BY s.position
$$;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: leads; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.leads (
    id uuid DEFAULT uuidv7() NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
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
    status text DEFAULT 'new'::text NOT NULL,
    owner_id uuid,
    score smallint,
    estimated_value numeric(14,2),
    tags text[] DEFAULT '{}'::text[] NOT NULL,
    custom_fields jsonb DEFAULT '{}'::jsonb NOT NULL,
    notes text,
    last_activity_at timestamp with time zone,
    converted_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    email_normalized text GENERATED ALWAYS AS (lower(btrim(email))) STORED,
    phone_normalized text GENERATED ALWAYS AS (NULLIF(regexp_replace(phone, '[^0-9+]'::text, ''::text, 'g'::text), ''::text)) STORED,
    search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, ((((((COALESCE(first_name, ''::text) || ' '::text) || COALESCE(last_name, ''::text)) || ' '::text) || COALESCE(company, ''::text)) || ' '::text) || COALESCE(email, ''::text)))) STORED,
    import_id uuid,
    phone_raw text,
    CONSTRAINT leads_custom_fields_check CHECK ((jsonb_typeof(custom_fields) = 'object'::text)),
    CONSTRAINT leads_estimated_value_check CHECK ((estimated_value >= (0)::numeric)),
    CONSTRAINT leads_has_identity CHECK ((num_nonnulls(first_name, last_name, email, phone, company) > 0)),
    CONSTRAINT leads_phone_raw_check CHECK ((length(phone_raw) <= 200)),
    CONSTRAINT leads_score_check CHECK (((score >= 0) AND (score <= 100))),
    CONSTRAINT leads_status_check CHECK ((status = ANY (ARRAY['new'::text, 'contacted'::text, 'qualified'::text, 'proposal'::text, 'negotiation'::text, 'converted'::text, 'lost'::text])))
);

ALTER TABLE ONLY public.leads REPLICA IDENTITY FULL;

--
-- Name: search_leads(text, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.search_leads(query text, max_results integer DEFAULT 20) RETURNS SETOF public.leads
    LANGUAGE sql STABLE
    AS $$
    SELECT l.* FROM public.leads l
    WHERE gardenos.name_key(l.first_name, l.last_name) OPERATOR(extensions.%) lower(query)
       OR lower(l.company) OPERATOR(extensions.%) lower(query)
    ORDER BY greatest(
        extensions.similarity(gardenos.name_key(l.first_name, l.last_name), lower(query)),
        extensions.similarity(lower(coalesce(l.company, '')), lower(query))) DESC
    LIMIT least(greatest(max_results, 1), 200)
$$;

--
-- Name: set_lead_status(uuid, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.set_lead_status(lead_id uuid, new_status text) RETURNS text
    LANGUAGE sql
    AS $$
    UPDATE public.leads SET status = new_status WHERE id = lead_id RETURNING status
$$;

--
-- Name: _send(uuid, jsonb, text, text, boolean); Type: FUNCTION; Schema: realtime; Owner: -
--

CREATE FUNCTION realtime._send(agency uuid, payload jsonb, event text, topic text, private boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
BEGIN
    INSERT INTO realtime.messages (agency_id, payload, event, topic, private, extension)
    VALUES (agency, payload, event, topic, private, 'broadcast');
EXCEPTION WHEN OTHERS THEN
    -- As Supabase's: a broadcast that cannot be sent never fails the transaction that sent it.
    RAISE WARNING 'realtime.send failed: %', SQLERRM;
END
$$;

--
-- Name: authorization_probe(uuid, text, text); Type: FUNCTION; Schema: realtime; Owner: -
--

CREATE FUNCTION realtime.authorization_probe(agency uuid, topic text, extension text) RETURNS uuid
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    INSERT INTO realtime.messages (agency_id, topic, extension, private)
    VALUES (agency, topic, extension, true) RETURNING id
$$;

--
-- Name: broadcast_changes(text, text, text, text, text, record, record, text); Type: FUNCTION; Schema: realtime; Owner: -
--

CREATE FUNCTION realtime.broadcast_changes(topic_name text, event_name text, operation text, table_name text, table_schema text, new record, old record, level text DEFAULT 'ROW'::text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO ''
    AS $$
DECLARE
    new_row jsonb := CASE WHEN new IS NULL THEN NULL ELSE to_jsonb(new) END;
    old_row jsonb := CASE WHEN old IS NULL THEN NULL ELSE to_jsonb(old) END;
BEGIN
    PERFORM realtime._send(
        coalesce(auth.agency_id(), nullif(coalesce(new_row, old_row) ->> 'agency_id', '')::uuid),
        jsonb_build_object(
            'schema', table_schema, 'table', table_name, 'operation', operation,
            'record', new_row, 'old_record', old_row
        ),
        event_name, topic_name, true
    );
END
$$;

--
-- Name: notify_message(); Type: FUNCTION; Schema: realtime; Owner: -
--

CREATE FUNCTION realtime.notify_message() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    body text;
BEGIN
    IF NEW.extension <> 'broadcast' THEN
        RETURN NULL;
    END IF;
    body := json_build_object(
        'k', 'b', 'a', NEW.agency_id, 't', NEW.topic, 'e', NEW.event, 'p', NEW.payload, 'pv', NEW.private,
        -- The websocket connection that sent it (a client broadcast without `self`), set by the API.
        'x', nullif(current_setting('realtime.sender', true), '')
    )::text;
    IF octet_length(body) > 7900 THEN
        body := json_build_object('k', 'b', 'id', NEW.id)::text;
    END IF;
    PERFORM pg_notify('gardenos_realtime', body);
    RETURN NULL;
END
$$;

--
-- Name: send(jsonb, text, text, boolean); Type: FUNCTION; Schema: realtime; Owner: -
--

CREATE FUNCTION realtime.send(payload jsonb, event text, topic text, private boolean DEFAULT true) RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT realtime._send(auth.agency_id(), payload, event, topic, private)
$$;

--
-- Name: topic(); Type: FUNCTION; Schema: realtime; Owner: -
--

CREATE FUNCTION realtime.topic() RETURNS text
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$
    SELECT nullif(current_setting('realtime.topic', true), '')
$$;

--
-- Name: extension(text); Type: FUNCTION; Schema: storage; Owner: -
--

CREATE FUNCTION storage.extension(name text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT CASE WHEN storage.filename(name) LIKE '%.%'
                THEN reverse(split_part(reverse(storage.filename(name)), '.', 1)) ELSE '' END
$$;

--
-- Name: filename(text); Type: FUNCTION; Schema: storage; Owner: -
--

CREATE FUNCTION storage.filename(name text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT (string_to_array(name, '/'))[cardinality(string_to_array(name, '/'))]
$$;

--
-- Name: foldername(text); Type: FUNCTION; Schema: storage; Owner: -
--

CREATE FUNCTION storage.foldername(name text) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$
    SELECT (string_to_array(name, '/'))[1:cardinality(string_to_array(name, '/')) - 1]
$$;

--
-- Name: public_object(text, text); Type: FUNCTION; Schema: storage; Owner: -
--

CREATE FUNCTION storage.public_object(bucket text, object_name text) RETURNS TABLE(agency_id uuid, version text, size bigint, mime_type text, etag text, metadata jsonb, updated_at timestamp with time zone)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path TO ''
    AS $$
    SELECT o.agency_id, o.version, o.size, o.mime_type, o.etag, o.metadata, o.updated_at
    FROM storage.buckets b
    JOIN storage.objects o ON o.agency_id = b.agency_id AND o.bucket_id = b.id
    WHERE b.public AND b.id = bucket AND o.name = object_name
$$;

--
-- Name: one_time_tokens; Type: TABLE; Schema: auth; Owner: -
--

CREATE TABLE auth.one_time_tokens (
    id uuid DEFAULT uuidv7() NOT NULL,
    user_id uuid NOT NULL,
    token_type text NOT NULL,
    link_hash text NOT NULL,
    code_hash text NOT NULL,
    relates_to text NOT NULL,
    redirect_to text,
    expires_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT one_time_tokens_token_type_check CHECK ((token_type = ANY (ARRAY['signup'::text, 'invite'::text, 'magiclink'::text, 'recovery'::text, 'email_change'::text])))
);

--
-- Name: rate_limits; Type: TABLE; Schema: auth; Owner: -
--

CREATE UNLOGGED TABLE auth.rate_limits (
    key text NOT NULL,
    window_start timestamp with time zone NOT NULL,
    hits integer NOT NULL
);

--
-- Name: refresh_tokens; Type: TABLE; Schema: auth; Owner: -
--

CREATE TABLE auth.refresh_tokens (
    id bigint NOT NULL,
    token text NOT NULL,
    user_id uuid NOT NULL,
    session_id uuid NOT NULL,
    parent text,
    revoked boolean DEFAULT false NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: refresh_tokens_id_seq; Type: SEQUENCE; Schema: auth; Owner: -
--

ALTER TABLE auth.refresh_tokens ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME auth.refresh_tokens_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: sessions; Type: TABLE; Schema: auth; Owner: -
--

CREATE TABLE auth.sessions (
    id uuid DEFAULT uuidv7() NOT NULL,
    user_id uuid NOT NULL,
    aal text DEFAULT 'aal1'::text NOT NULL,
    factor_id uuid,
    not_after timestamp with time zone,
    refreshed_at timestamp with time zone,
    user_agent text,
    ip inet,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    amr text DEFAULT 'password'::text NOT NULL
);

--
-- Name: users; Type: TABLE; Schema: auth; Owner: -
--

CREATE TABLE auth.users (
    id uuid DEFAULT uuidv7() NOT NULL,
    aud text DEFAULT 'authenticated'::text NOT NULL,
    role text DEFAULT 'authenticated'::text NOT NULL,
    email text,
    encrypted_password text,
    email_confirmed_at timestamp with time zone,
    phone text,
    phone_confirmed_at timestamp with time zone,
    confirmation_token text,
    confirmation_sent_at timestamp with time zone,
    recovery_token text,
    recovery_sent_at timestamp with time zone,
    email_change text,
    email_change_token text,
    email_change_sent_at timestamp with time zone,
    raw_app_meta_data jsonb DEFAULT '{}'::jsonb NOT NULL,
    raw_user_meta_data jsonb DEFAULT '{}'::jsonb NOT NULL,
    is_super_admin boolean DEFAULT false NOT NULL,
    is_anonymous boolean DEFAULT false NOT NULL,
    banned_until timestamp with time zone,
    last_sign_in_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone,
    invited_at timestamp with time zone,
    CONSTRAINT users_app_meta_is_object CHECK ((jsonb_typeof(raw_app_meta_data) = 'object'::text)),
    CONSTRAINT users_user_meta_is_object CHECK ((jsonb_typeof(raw_user_meta_data) = 'object'::text))
);

--
-- Name: mail_outbox; Type: TABLE; Schema: gardenos; Owner: -
--

CREATE TABLE gardenos.mail_outbox (
    id uuid DEFAULT uuidv7() NOT NULL,
    to_address text NOT NULL,
    subject text NOT NULL,
    text_body text NOT NULL,
    html_body text NOT NULL,
    kind text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT mail_outbox_kind_check CHECK ((kind = ANY (ARRAY['confirmation'::text, 'magic_link'::text, 'otp'::text, 'recovery'::text, 'email_change'::text, 'invite'::text, 'follow_up'::text])))
);

--
-- Name: outgoing_mail; Type: TABLE; Schema: gardenos; Owner: -
--

CREATE TABLE gardenos.outgoing_mail (
    id uuid NOT NULL,
    agency_id uuid NOT NULL,
    activity_id uuid NOT NULL,
    to_address text NOT NULL,
    subject text NOT NULL,
    text_body text NOT NULL,
    html_body text NOT NULL,
    kind text NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    run_after timestamp with time zone DEFAULT now() NOT NULL,
    claimed_at timestamp with time zone,
    sent_at timestamp with time zone,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT outgoing_mail_kind_check CHECK ((kind = 'follow_up'::text)),
    CONSTRAINT outgoing_mail_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'sending'::text, 'sent'::text, 'failed'::text, 'unconfirmed'::text])))
);

--
-- Name: schema_migrations; Type: TABLE; Schema: gardenos; Owner: -
--

CREATE TABLE gardenos.schema_migrations (
    version integer NOT NULL,
    name text NOT NULL,
    checksum text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: activities; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.activities (
    id uuid DEFAULT uuidv7() NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    lead_id uuid,
    client_id uuid,
    kind text NOT NULL,
    subject text,
    body text,
    status text DEFAULT 'done'::text NOT NULL,
    due_at timestamp with time zone,
    completed_at timestamp with time zone,
    created_by uuid,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT activities_has_subject CHECK ((num_nonnulls(lead_id, client_id) > 0)),
    CONSTRAINT activities_kind_check CHECK ((kind = ANY (ARRAY['note'::text, 'call'::text, 'email'::text, 'meeting'::text, 'task'::text]))),
    CONSTRAINT activities_metadata_check CHECK ((jsonb_typeof(metadata) = 'object'::text)),
    CONSTRAINT activities_status_check CHECK ((status = ANY (ARRAY['draft'::text, 'planned'::text, 'done'::text, 'cancelled'::text])))
);

ALTER TABLE ONLY public.activities REPLICA IDENTITY FULL;

--
-- Name: agencies; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agencies (
    id uuid DEFAULT uuidv7() NOT NULL,
    name text NOT NULL,
    slug text NOT NULL,
    settings jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT agencies_duplicate_rule_check CHECK (((NOT (settings ? 'duplicate_rule'::text)) OR gardenos.valid_duplicate_rule((settings -> 'duplicate_rule'::text)))),
    CONSTRAINT agencies_name_check CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 200))),
    CONSTRAINT agencies_settings_check CHECK ((jsonb_typeof(settings) = 'object'::text)),
    CONSTRAINT agencies_slug_check CHECK ((slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'::text))
);

ALTER TABLE ONLY public.agencies REPLICA IDENTITY FULL;

--
-- Name: agent_memory; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agent_memory (
    id uuid DEFAULT uuidv7() NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    subject_type text NOT NULL,
    subject_id uuid,
    content text NOT NULL,
    embedding extensions.vector(384),
    embedding_model text,
    source text DEFAULT 'agent'::text NOT NULL,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT agent_memory_source_check CHECK ((source = ANY (ARRAY['agent'::text, 'person'::text, 'system'::text]))),
    CONSTRAINT agent_memory_subject CHECK (((subject_type = 'agency'::text) = (subject_id IS NULL))),
    CONSTRAINT agent_memory_subject_type_check CHECK ((subject_type = ANY (ARRAY['agency'::text, 'lead'::text, 'client'::text])))
);

--
-- Name: agent_subscriptions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agent_subscriptions (
    id uuid DEFAULT uuidv7() NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    event text NOT NULL,
    agent_type text NOT NULL,
    config jsonb DEFAULT '{}'::jsonb NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT agent_subscriptions_agent_type_check CHECK ((agent_type = ANY (ARRAY['lead_analysis'::text, 'follow_up'::text, 'insight'::text, 'design'::text, 'embed'::text]))),
    CONSTRAINT agent_subscriptions_config_check CHECK ((jsonb_typeof(config) = 'object'::text)),
    CONSTRAINT agent_subscriptions_event_check CHECK ((event = ANY (ARRAY['lead.created'::text, 'lead.status_changed'::text, 'lead.stale'::text])))
);

--
-- Name: agent_tasks; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.agent_tasks (
    id uuid DEFAULT uuidv7() NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    agent_type text NOT NULL,
    priority smallint DEFAULT 5 NOT NULL,
    payload jsonb DEFAULT '{}'::jsonb NOT NULL,
    status text DEFAULT 'queued'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    max_retries integer DEFAULT 3 NOT NULL,
    run_after timestamp with time zone DEFAULT now() NOT NULL,
    locked_by uuid,
    lease_expires_at timestamp with time zone,
    idempotency_key text,
    result jsonb,
    last_error text,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    agent_id uuid,
    heartbeat_at timestamp with time zone,
    CONSTRAINT agent_tasks_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT agent_tasks_max_retries_check CHECK ((max_retries >= 0)),
    CONSTRAINT agent_tasks_priority_check CHECK (((priority >= 0) AND (priority <= 9))),
    CONSTRAINT agent_tasks_status_check CHECK ((status = ANY (ARRAY['queued'::text, 'running'::text, 'succeeded'::text, 'failed'::text, 'dead'::text, 'cancelled'::text])))
);

--
-- Name: ai_agents; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.ai_agents (
    id uuid DEFAULT uuidv7() NOT NULL,
    agent_type text NOT NULL,
    worker text NOT NULL,
    status text DEFAULT 'idle'::text NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    heartbeat_at timestamp with time zone DEFAULT now() NOT NULL,
    stopped_at timestamp with time zone,
    pid integer,
    tasks_done bigint DEFAULT 0 NOT NULL,
    CONSTRAINT ai_agents_status_check CHECK ((status = ANY (ARRAY['idle'::text, 'busy'::text, 'draining'::text, 'stopped'::text])))
);

--
-- Name: ai_interactions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.ai_interactions (
    id uuid DEFAULT uuidv7() NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    agent_type text NOT NULL,
    agent_id uuid,
    task_id uuid,
    input jsonb NOT NULL,
    output jsonb,
    model text NOT NULL,
    prompt_tokens integer DEFAULT 0 NOT NULL,
    completion_tokens integer DEFAULT 0 NOT NULL,
    cost_usd numeric(12,6) DEFAULT 0 NOT NULL,
    latency_ms integer,
    outcome text NOT NULL,
    error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    attempt integer,
    CONSTRAINT ai_interactions_completion_tokens_check CHECK ((completion_tokens >= 0)),
    CONSTRAINT ai_interactions_latency_ms_check CHECK ((latency_ms >= 0)),
    CONSTRAINT ai_interactions_outcome_check CHECK ((outcome = ANY (ARRAY['ok'::text, 'invalid_output'::text, 'error'::text, 'timeout'::text]))),
    CONSTRAINT ai_interactions_prompt_tokens_check CHECK ((prompt_tokens >= 0))
);

--
-- Name: audit_log; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_log (
    id bigint NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    actor_id uuid,
    actor_role text,
    action text NOT NULL,
    table_name text,
    record_id uuid,
    before jsonb,
    after jsonb,
    context jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT audit_log_action_check CHECK ((action = ANY (ARRAY['read'::text, 'insert'::text, 'update'::text, 'delete'::text, 'merge'::text, 'convert'::text, 'import'::text, 'export'::text, 'login'::text, 'invite'::text, 'remove_member'::text])))
);

--
-- Name: audit_log_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.audit_log ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.audit_log_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: clients; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.clients (
    id uuid DEFAULT uuidv7() NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
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
    status text DEFAULT 'active'::text NOT NULL,
    owner_id uuid,
    lifetime_value numeric(14,2) DEFAULT 0 NOT NULL,
    tags text[] DEFAULT '{}'::text[] NOT NULL,
    custom_fields jsonb DEFAULT '{}'::jsonb NOT NULL,
    notes text,
    last_activity_at timestamp with time zone,
    converted_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    email_normalized text GENERATED ALWAYS AS (lower(btrim(email))) STORED,
    phone_normalized text GENERATED ALWAYS AS (NULLIF(regexp_replace(phone, '[^0-9+]'::text, ''::text, 'g'::text), ''::text)) STORED,
    search_vector tsvector GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, ((((((COALESCE(first_name, ''::text) || ' '::text) || COALESCE(last_name, ''::text)) || ' '::text) || COALESCE(company, ''::text)) || ' '::text) || COALESCE(email, ''::text)))) STORED,
    phone_raw text,
    CONSTRAINT clients_custom_fields_check CHECK ((jsonb_typeof(custom_fields) = 'object'::text)),
    CONSTRAINT clients_has_identity CHECK ((num_nonnulls(first_name, last_name, email, phone, company) > 0)),
    CONSTRAINT clients_lifetime_value_check CHECK ((lifetime_value >= (0)::numeric)),
    CONSTRAINT clients_phone_raw_check CHECK ((length(phone_raw) <= 200)),
    CONSTRAINT clients_status_check CHECK ((status = ANY (ARRAY['active'::text, 'inactive'::text, 'churned'::text])))
);

ALTER TABLE ONLY public.clients REPLICA IDENTITY FULL;

--
-- Name: import_errors; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.import_errors (
    id bigint NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    import_id uuid NOT NULL,
    line_number bigint NOT NULL,
    column_name text,
    reason text NOT NULL,
    raw_row text,
    level text DEFAULT 'error'::text NOT NULL,
    CONSTRAINT import_errors_level_check CHECK ((level = ANY (ARRAY['error'::text, 'warning'::text]))),
    CONSTRAINT import_errors_line_number_check CHECK ((line_number >= 1))
);

--
-- Name: import_errors_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.import_errors ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.import_errors_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: import_possible_duplicates; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.import_possible_duplicates (
    id bigint NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    import_id uuid NOT NULL,
    line_number bigint NOT NULL,
    lead_id uuid NOT NULL,
    match_kind text NOT NULL,
    match_id uuid NOT NULL,
    reason text NOT NULL,
    CONSTRAINT import_possible_duplicates_line_number_check CHECK ((line_number >= 1)),
    CONSTRAINT import_possible_duplicates_match_kind_check CHECK ((match_kind = ANY (ARRAY['lead'::text, 'client'::text]))),
    CONSTRAINT import_possible_duplicates_reason_check CHECK ((reason = 'phone'::text))
);

--
-- Name: import_possible_duplicates_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

ALTER TABLE public.import_possible_duplicates ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME public.import_possible_duplicates_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: imports; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.imports (
    id uuid DEFAULT uuidv7() NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    kind text DEFAULT 'leads'::text NOT NULL,
    filename text NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    on_duplicate text DEFAULT 'skip'::text NOT NULL,
    mapping jsonb DEFAULT '{}'::jsonb NOT NULL,
    rows_total bigint DEFAULT 0 NOT NULL,
    rows_imported bigint DEFAULT 0 NOT NULL,
    rows_invalid bigint DEFAULT 0 NOT NULL,
    rows_duplicate bigint DEFAULT 0 NOT NULL,
    error text,
    created_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    file_sha256 text,
    file_size bigint,
    file_path text,
    options jsonb DEFAULT '{}'::jsonb NOT NULL,
    detected jsonb DEFAULT '{}'::jsonb NOT NULL,
    rows_updated bigint DEFAULT 0 NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    rows_warned bigint DEFAULT 0 NOT NULL,
    rows_possible_duplicate bigint DEFAULT 0 NOT NULL,
    CONSTRAINT imports_attempts_check CHECK ((attempts >= 0)),
    CONSTRAINT imports_detected_check CHECK ((jsonb_typeof(detected) = 'object'::text)),
    CONSTRAINT imports_file_size_check CHECK ((file_size >= 0)),
    CONSTRAINT imports_kind_check CHECK ((kind = ANY (ARRAY['leads'::text, 'clients'::text]))),
    CONSTRAINT imports_on_duplicate_check CHECK ((on_duplicate = ANY (ARRAY['skip'::text, 'update'::text, 'merge'::text]))),
    CONSTRAINT imports_options_check CHECK ((jsonb_typeof(options) = 'object'::text)),
    CONSTRAINT imports_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'running'::text, 'succeeded'::text, 'failed'::text, 'reverted'::text])))
);

--
-- Name: lead_analyses; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.lead_analyses (
    id uuid DEFAULT uuidv7() NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    lead_id uuid NOT NULL,
    task_id uuid,
    quality_score smallint NOT NULL,
    conversion_probability real NOT NULL,
    next_actions jsonb DEFAULT '[]'::jsonb NOT NULL,
    reasons jsonb DEFAULT '[]'::jsonb NOT NULL,
    model text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT lead_analyses_conversion_probability_check CHECK (((conversion_probability >= (0)::double precision) AND (conversion_probability <= (1)::double precision))),
    CONSTRAINT lead_analyses_next_actions_check CHECK ((jsonb_typeof(next_actions) = 'array'::text)),
    CONSTRAINT lead_analyses_quality_score_check CHECK (((quality_score >= 0) AND (quality_score <= 100))),
    CONSTRAINT lead_analyses_reasons_check CHECK ((jsonb_typeof(reasons) = 'array'::text))
);

--
-- Name: memberships; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.memberships (
    agency_id uuid NOT NULL,
    user_id uuid NOT NULL,
    role text DEFAULT 'member'::text NOT NULL,
    invited_by uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT memberships_role_check CHECK ((role = ANY (ARRAY['owner'::text, 'admin'::text, 'member'::text])))
);

ALTER TABLE ONLY public.memberships REPLICA IDENTITY FULL;

--
-- Name: price_list_items; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.price_list_items (
    id uuid DEFAULT uuidv7() NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    sku text NOT NULL,
    name text NOT NULL,
    description text,
    unit text DEFAULT 'unit'::text NOT NULL,
    unit_price numeric(14,2) NOT NULL,
    currency text DEFAULT 'EUR'::text NOT NULL,
    keywords text[] DEFAULT '{}'::text[] NOT NULL,
    active boolean DEFAULT true NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT price_list_items_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT price_list_items_name_check CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 200))),
    CONSTRAINT price_list_items_sku_check CHECK (((length(btrim(sku)) >= 1) AND (length(btrim(sku)) <= 64))),
    CONSTRAINT price_list_items_unit_price_check CHECK ((unit_price >= (0)::numeric))
);

--
-- Name: record_embeddings; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.record_embeddings (
    id uuid DEFAULT uuidv7() NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    lead_id uuid,
    client_id uuid,
    embedding extensions.vector(384) NOT NULL,
    embedding_model text NOT NULL,
    content_hash text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT record_embeddings_one_subject CHECK ((num_nonnulls(lead_id, client_id) = 1))
);

--
-- Name: saved_views; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.saved_views (
    id uuid DEFAULT uuidv7() NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    user_id uuid DEFAULT auth.uid() NOT NULL,
    screen text DEFAULT 'leads'::text NOT NULL,
    name text NOT NULL,
    state jsonb DEFAULT '{}'::jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT saved_views_name_check CHECK (((length(btrim(name)) >= 1) AND (length(btrim(name)) <= 100))),
    CONSTRAINT saved_views_screen_check CHECK ((screen = ANY (ARRAY['leads'::text, 'clients'::text]))),
    CONSTRAINT saved_views_state_check CHECK (((jsonb_typeof(state) = 'object'::text) AND (pg_column_size(state) <= 16384)))
);

--
-- Name: connections; Type: TABLE; Schema: realtime; Owner: -
--

CREATE TABLE realtime.connections (
    node_id uuid NOT NULL,
    tag text NOT NULL,
    agency_id uuid
);

--
-- Name: messages; Type: TABLE; Schema: realtime; Owner: -
--

CREATE TABLE realtime.messages (
    id uuid DEFAULT uuidv7() NOT NULL,
    agency_id uuid DEFAULT auth.agency_id(),
    topic text NOT NULL,
    extension text NOT NULL,
    event text,
    payload jsonb,
    private boolean DEFAULT false NOT NULL,
    inserted_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT messages_extension_check CHECK ((extension = ANY (ARRAY['broadcast'::text, 'presence'::text])))
);

--
-- Name: nodes; Type: TABLE; Schema: realtime; Owner: -
--

CREATE TABLE realtime.nodes (
    id uuid NOT NULL,
    seen_at timestamp with time zone DEFAULT now() NOT NULL,
    connections integer DEFAULT 0 NOT NULL,
    channels integer DEFAULT 0 NOT NULL,
    expires_at timestamp with time zone DEFAULT (now() + '00:00:30'::interval) NOT NULL
);

--
-- Name: presences; Type: TABLE; Schema: realtime; Owner: -
--

CREATE TABLE realtime.presences (
    ref text NOT NULL,
    node_id uuid NOT NULL,
    agency_id uuid,
    topic text NOT NULL,
    private boolean NOT NULL,
    key text NOT NULL,
    meta jsonb NOT NULL,
    inserted_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: buckets; Type: TABLE; Schema: storage; Owner: -
--

CREATE TABLE storage.buckets (
    id text NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    name text NOT NULL,
    public boolean DEFAULT false NOT NULL,
    file_size_limit bigint,
    allowed_mime_types text[],
    owner uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT buckets_file_size_limit_check CHECK ((file_size_limit > 0))
);

--
-- Name: objects; Type: TABLE; Schema: storage; Owner: -
--

CREATE TABLE storage.objects (
    id uuid DEFAULT uuidv7() NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    bucket_id text NOT NULL,
    name text NOT NULL,
    owner uuid,
    size bigint DEFAULT 0 NOT NULL,
    mime_type text,
    etag text,
    metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    user_metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    last_accessed_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    version text,
    CONSTRAINT objects_name_check CHECK (((length(name) >= 1) AND (length(name) <= 1024))),
    CONSTRAINT objects_size_check CHECK ((size >= 0))
);

--
-- Name: uploads; Type: TABLE; Schema: storage; Owner: -
--

CREATE TABLE storage.uploads (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    agency_id uuid DEFAULT auth.agency_id() NOT NULL,
    bucket_id text NOT NULL,
    name text NOT NULL,
    owner uuid,
    upload_length bigint NOT NULL,
    upload_offset bigint DEFAULT 0 NOT NULL,
    upsert boolean DEFAULT false NOT NULL,
    mime_type text NOT NULL,
    cache_control text NOT NULL,
    user_metadata jsonb DEFAULT '{}'::jsonb NOT NULL,
    upload_metadata text DEFAULT ''::text NOT NULL,
    version text NOT NULL,
    staging jsonb DEFAULT '{}'::jsonb NOT NULL,
    md5s text[] DEFAULT '{}'::text[] NOT NULL,
    lease uuid,
    lease_until timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    CONSTRAINT uploads_name_check CHECK (((length(name) >= 1) AND (length(name) <= 1024))),
    CONSTRAINT uploads_offset_check CHECK (((upload_offset >= 0) AND (upload_offset <= upload_length))),
    CONSTRAINT uploads_upload_length_check CHECK ((upload_length >= 0)),
    CONSTRAINT uploads_user_metadata_check CHECK ((jsonb_typeof(user_metadata) = 'object'::text))
);

--
-- Name: one_time_tokens one_time_tokens_link_hash_key; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.one_time_tokens
    ADD CONSTRAINT one_time_tokens_link_hash_key UNIQUE (link_hash);

--
-- Name: one_time_tokens one_time_tokens_pkey; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.one_time_tokens
    ADD CONSTRAINT one_time_tokens_pkey PRIMARY KEY (id);

--
-- Name: one_time_tokens one_time_tokens_user_type_key; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.one_time_tokens
    ADD CONSTRAINT one_time_tokens_user_type_key UNIQUE (user_id, token_type);

--
-- Name: rate_limits rate_limits_pkey; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.rate_limits
    ADD CONSTRAINT rate_limits_pkey PRIMARY KEY (key);

--
-- Name: refresh_tokens refresh_tokens_pkey; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.refresh_tokens
    ADD CONSTRAINT refresh_tokens_pkey PRIMARY KEY (id);

--
-- Name: refresh_tokens refresh_tokens_token_key; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.refresh_tokens
    ADD CONSTRAINT refresh_tokens_token_key UNIQUE (token);

--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);

--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

--
-- Name: mail_outbox mail_outbox_pkey; Type: CONSTRAINT; Schema: gardenos; Owner: -
--

ALTER TABLE ONLY gardenos.mail_outbox
    ADD CONSTRAINT mail_outbox_pkey PRIMARY KEY (id);

--
-- Name: outgoing_mail outgoing_mail_activity_id_key; Type: CONSTRAINT; Schema: gardenos; Owner: -
--

ALTER TABLE ONLY gardenos.outgoing_mail
    ADD CONSTRAINT outgoing_mail_activity_id_key UNIQUE (activity_id);

--
-- Name: outgoing_mail outgoing_mail_pkey; Type: CONSTRAINT; Schema: gardenos; Owner: -
--

ALTER TABLE ONLY gardenos.outgoing_mail
    ADD CONSTRAINT outgoing_mail_pkey PRIMARY KEY (id);

--
-- Name: schema_migrations schema_migrations_pkey; Type: CONSTRAINT; Schema: gardenos; Owner: -
--

ALTER TABLE ONLY gardenos.schema_migrations
    ADD CONSTRAINT schema_migrations_pkey PRIMARY KEY (version);

--
-- Name: activities activities_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.activities
    ADD CONSTRAINT activities_pkey PRIMARY KEY (agency_id, id);

--
-- Name: agencies agencies_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agencies
    ADD CONSTRAINT agencies_pkey PRIMARY KEY (id);

--
-- Name: agencies agencies_slug_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agencies
    ADD CONSTRAINT agencies_slug_key UNIQUE (slug);

--
-- Name: agent_memory agent_memory_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_memory
    ADD CONSTRAINT agent_memory_pkey PRIMARY KEY (agency_id, id);

--
-- Name: agent_subscriptions agent_subscriptions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_subscriptions
    ADD CONSTRAINT agent_subscriptions_pkey PRIMARY KEY (agency_id, id);

--
-- Name: agent_tasks agent_tasks_idempotency_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_tasks
    ADD CONSTRAINT agent_tasks_idempotency_key UNIQUE (agency_id, idempotency_key);

--
-- Name: agent_tasks agent_tasks_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_tasks
    ADD CONSTRAINT agent_tasks_pkey PRIMARY KEY (agency_id, id);

--
-- Name: ai_agents ai_agents_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ai_agents
    ADD CONSTRAINT ai_agents_pkey PRIMARY KEY (id);

--
-- Name: ai_interactions ai_interactions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ai_interactions
    ADD CONSTRAINT ai_interactions_pkey PRIMARY KEY (agency_id, id);

--
-- Name: audit_log audit_log_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_log
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (id);

--
-- Name: clients clients_lead_id_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.clients
    ADD CONSTRAINT clients_lead_id_key UNIQUE (agency_id, lead_id);

--
-- Name: clients clients_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.clients
    ADD CONSTRAINT clients_pkey PRIMARY KEY (agency_id, id);

--
-- Name: import_errors import_errors_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.import_errors
    ADD CONSTRAINT import_errors_pkey PRIMARY KEY (id);

--
-- Name: import_possible_duplicates import_possible_duplicates_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.import_possible_duplicates
    ADD CONSTRAINT import_possible_duplicates_pkey PRIMARY KEY (id);

--
-- Name: imports imports_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.imports
    ADD CONSTRAINT imports_pkey PRIMARY KEY (agency_id, id);

--
-- Name: lead_analyses lead_analyses_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_analyses
    ADD CONSTRAINT lead_analyses_pkey PRIMARY KEY (agency_id, id);

--
-- Name: leads leads_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leads
    ADD CONSTRAINT leads_pkey PRIMARY KEY (agency_id, id);

--
-- Name: memberships memberships_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.memberships
    ADD CONSTRAINT memberships_pkey PRIMARY KEY (agency_id, user_id);

--
-- Name: price_list_items price_list_items_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.price_list_items
    ADD CONSTRAINT price_list_items_pkey PRIMARY KEY (agency_id, id);

--
-- Name: price_list_items price_list_items_sku_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.price_list_items
    ADD CONSTRAINT price_list_items_sku_key UNIQUE (agency_id, sku);

--
-- Name: record_embeddings record_embeddings_client_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.record_embeddings
    ADD CONSTRAINT record_embeddings_client_key UNIQUE (agency_id, client_id);

--
-- Name: record_embeddings record_embeddings_lead_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.record_embeddings
    ADD CONSTRAINT record_embeddings_lead_key UNIQUE (agency_id, lead_id);

--
-- Name: record_embeddings record_embeddings_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.record_embeddings
    ADD CONSTRAINT record_embeddings_pkey PRIMARY KEY (agency_id, id);

--
-- Name: saved_views saved_views_agency_id_user_id_screen_name_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.saved_views
    ADD CONSTRAINT saved_views_agency_id_user_id_screen_name_key UNIQUE (agency_id, user_id, screen, name);

--
-- Name: saved_views saved_views_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.saved_views
    ADD CONSTRAINT saved_views_pkey PRIMARY KEY (agency_id, id);

--
-- Name: connections connections_tag_agency_id_key; Type: CONSTRAINT; Schema: realtime; Owner: -
--

ALTER TABLE ONLY realtime.connections
    ADD CONSTRAINT connections_tag_agency_id_key UNIQUE NULLS NOT DISTINCT (tag, agency_id);

--
-- Name: messages messages_pkey; Type: CONSTRAINT; Schema: realtime; Owner: -
--

ALTER TABLE ONLY realtime.messages
    ADD CONSTRAINT messages_pkey PRIMARY KEY (id);

--
-- Name: nodes nodes_pkey; Type: CONSTRAINT; Schema: realtime; Owner: -
--

ALTER TABLE ONLY realtime.nodes
    ADD CONSTRAINT nodes_pkey PRIMARY KEY (id);

--
-- Name: presences presences_pkey; Type: CONSTRAINT; Schema: realtime; Owner: -
--

ALTER TABLE ONLY realtime.presences
    ADD CONSTRAINT presences_pkey PRIMARY KEY (ref);

--
-- Name: buckets buckets_id_check; Type: CHECK CONSTRAINT; Schema: storage; Owner: -
--

ALTER TABLE storage.buckets
    ADD CONSTRAINT buckets_id_check CHECK (((id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'::text) AND (id !~~ '%..%'::text))) NOT VALID;

--
-- Name: buckets buckets_pkey; Type: CONSTRAINT; Schema: storage; Owner: -
--

ALTER TABLE ONLY storage.buckets
    ADD CONSTRAINT buckets_pkey PRIMARY KEY (agency_id, id);

--
-- Name: objects objects_bucket_name_key; Type: CONSTRAINT; Schema: storage; Owner: -
--

ALTER TABLE ONLY storage.objects
    ADD CONSTRAINT objects_bucket_name_key UNIQUE (agency_id, bucket_id, name);

--
-- Name: objects objects_pkey; Type: CONSTRAINT; Schema: storage; Owner: -
--

ALTER TABLE ONLY storage.objects
    ADD CONSTRAINT objects_pkey PRIMARY KEY (agency_id, id);

--
-- Name: uploads uploads_pkey; Type: CONSTRAINT; Schema: storage; Owner: -
--

ALTER TABLE ONLY storage.uploads
    ADD CONSTRAINT uploads_pkey PRIMARY KEY (agency_id, id);

--
-- Name: one_time_tokens_relates_to_idx; Type: INDEX; Schema: auth; Owner: -
--

CREATE INDEX one_time_tokens_relates_to_idx ON auth.one_time_tokens USING btree (lower(relates_to), token_type);

--
-- Name: refresh_tokens_parent_idx; Type: INDEX; Schema: auth; Owner: -
--

CREATE INDEX refresh_tokens_parent_idx ON auth.refresh_tokens USING btree (parent);

--
-- Name: refresh_tokens_session_idx; Type: INDEX; Schema: auth; Owner: -
--

CREATE INDEX refresh_tokens_session_idx ON auth.refresh_tokens USING btree (session_id, revoked);

--
-- Name: sessions_user_id_idx; Type: INDEX; Schema: auth; Owner: -
--

CREATE INDEX sessions_user_id_idx ON auth.sessions USING btree (user_id);

--
-- Name: users_email_key; Type: INDEX; Schema: auth; Owner: -
--

CREATE UNIQUE INDEX users_email_key ON auth.users USING btree (lower(email)) WHERE ((email IS NOT NULL) AND (NOT is_anonymous));

--
-- Name: users_phone_key; Type: INDEX; Schema: auth; Owner: -
--

CREATE UNIQUE INDEX users_phone_key ON auth.users USING btree (phone) WHERE (phone IS NOT NULL);

--
-- Name: mail_outbox_to_created_idx; Type: INDEX; Schema: gardenos; Owner: -
--

CREATE INDEX mail_outbox_to_created_idx ON gardenos.mail_outbox USING btree (to_address, created_at DESC);

--
-- Name: outgoing_mail_agency_idx; Type: INDEX; Schema: gardenos; Owner: -
--

CREATE INDEX outgoing_mail_agency_idx ON gardenos.outgoing_mail USING btree (agency_id);

--
-- Name: outgoing_mail_due_idx; Type: INDEX; Schema: gardenos; Owner: -
--

CREATE INDEX outgoing_mail_due_idx ON gardenos.outgoing_mail USING btree (run_after) WHERE (status = 'pending'::text);

--
-- Name: activities_agency_due_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX activities_agency_due_idx ON public.activities USING btree (agency_id, due_at) WHERE ((kind = 'task'::text) AND (completed_at IS NULL));

--
-- Name: activities_client_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX activities_client_idx ON public.activities USING btree (client_id, occurred_at DESC) WHERE (client_id IS NOT NULL);

--
-- Name: activities_lead_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX activities_lead_idx ON public.activities USING btree (lead_id, occurred_at DESC) WHERE (lead_id IS NOT NULL);

--
-- Name: agent_memory_embedding_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_memory_embedding_idx ON public.agent_memory USING hnsw (embedding extensions.vector_cosine_ops);

--
-- Name: agent_memory_subject_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_memory_subject_idx ON public.agent_memory USING btree (agency_id, subject_type, subject_id, created_at DESC);

--
-- Name: agent_subscriptions_event_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_subscriptions_event_idx ON public.agent_subscriptions USING btree (agency_id, event) WHERE enabled;

--
-- Name: agent_tasks_agency_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_tasks_agency_created_idx ON public.agent_tasks USING btree (agency_id, created_at DESC);

--
-- Name: agent_tasks_agency_status_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_tasks_agency_status_idx ON public.agent_tasks USING btree (agency_id, status, finished_at DESC) WHERE (status = ANY (ARRAY['dead'::text, 'failed'::text, 'cancelled'::text]));

--
-- Name: agent_tasks_agent_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_tasks_agent_idx ON public.agent_tasks USING btree (agent_id, finished_at DESC) WHERE (agent_id IS NOT NULL);

--
-- Name: agent_tasks_claim_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_tasks_claim_idx ON public.agent_tasks USING btree (agent_type, priority DESC, run_after, id) WHERE (status = 'queued'::text);

--
-- Name: agent_tasks_lease_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_tasks_lease_idx ON public.agent_tasks USING btree (lease_expires_at) WHERE (status = 'running'::text);

--
-- Name: agent_tasks_queued_type_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX agent_tasks_queued_type_idx ON public.agent_tasks USING btree (agent_type, run_after) WHERE (status = 'queued'::text);

--
-- Name: ai_agents_type_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ai_agents_type_idx ON public.ai_agents USING btree (agent_type) WHERE (stopped_at IS NULL);

--
-- Name: ai_interactions_agency_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ai_interactions_agency_created_idx ON public.ai_interactions USING btree (agency_id, created_at DESC);

--
-- Name: ai_interactions_task_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX ai_interactions_task_idx ON public.ai_interactions USING btree (task_id) WHERE (task_id IS NOT NULL);

--
-- Name: audit_log_agency_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_log_agency_created_idx ON public.audit_log USING btree (agency_id, created_at DESC);

--
-- Name: audit_log_record_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX audit_log_record_idx ON public.audit_log USING btree (record_id, created_at DESC) WHERE (record_id IS NOT NULL);

--
-- Name: clients_agency_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX clients_agency_created_idx ON public.clients USING btree (agency_id, created_at DESC);

--
-- Name: clients_agency_email_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX clients_agency_email_idx ON public.clients USING btree (agency_id, email_normalized) WHERE (email_normalized IS NOT NULL);

--
-- Name: clients_agency_owner_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX clients_agency_owner_idx ON public.clients USING btree (agency_id, owner_id) WHERE (owner_id IS NOT NULL);

--
-- Name: clients_agency_phone_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX clients_agency_phone_idx ON public.clients USING btree (agency_id, phone_normalized) WHERE (phone_normalized IS NOT NULL);

--
-- Name: clients_agency_status_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX clients_agency_status_created_idx ON public.clients USING btree (agency_id, status, created_at DESC);

--
-- Name: clients_company_trgm_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX clients_company_trgm_idx ON public.clients USING gin (lower(company) extensions.gin_trgm_ops);

--
-- Name: clients_name_trgm_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX clients_name_trgm_idx ON public.clients USING gin (gardenos.name_key(first_name, last_name) extensions.gin_trgm_ops);

--
-- Name: clients_search_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX clients_search_idx ON public.clients USING gin (search_vector);

--
-- Name: clients_tags_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX clients_tags_idx ON public.clients USING gin (tags);

--
-- Name: import_errors_import_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX import_errors_import_idx ON public.import_errors USING btree (import_id, line_number);

--
-- Name: import_possible_duplicates_import_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX import_possible_duplicates_import_idx ON public.import_possible_duplicates USING btree (import_id, line_number);

--
-- Name: import_possible_duplicates_lead_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX import_possible_duplicates_lead_idx ON public.import_possible_duplicates USING btree (agency_id, lead_id);

--
-- Name: imports_agency_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX imports_agency_created_idx ON public.imports USING btree (agency_id, created_at DESC);

--
-- Name: imports_agency_sha_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX imports_agency_sha_idx ON public.imports USING btree (agency_id, file_sha256) WHERE (status = ANY (ARRAY['pending'::text, 'running'::text, 'failed'::text]));

--
-- Name: lead_analyses_lead_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX lead_analyses_lead_idx ON public.lead_analyses USING btree (lead_id, created_at DESC);

--
-- Name: leads_agency_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_agency_created_idx ON public.leads USING btree (agency_id, created_at DESC);

--
-- Name: leads_agency_email_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_agency_email_idx ON public.leads USING btree (agency_id, email_normalized) WHERE (email_normalized IS NOT NULL);

--
-- Name: leads_agency_import_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_agency_import_idx ON public.leads USING btree (agency_id, import_id) WHERE (import_id IS NOT NULL);

--
-- Name: leads_agency_owner_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_agency_owner_idx ON public.leads USING btree (agency_id, owner_id) WHERE (owner_id IS NOT NULL);

--
-- Name: leads_agency_phone_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_agency_phone_idx ON public.leads USING btree (agency_id, phone_normalized) WHERE (phone_normalized IS NOT NULL);

--
-- Name: leads_agency_status_created_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_agency_status_created_idx ON public.leads USING btree (agency_id, status, created_at DESC);

--
-- Name: leads_company_trgm_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_company_trgm_idx ON public.leads USING gin (lower(company) extensions.gin_trgm_ops);

--
-- Name: leads_name_trgm_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_name_trgm_idx ON public.leads USING gin (gardenos.name_key(first_name, last_name) extensions.gin_trgm_ops);

--
-- Name: leads_search_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_search_idx ON public.leads USING gin (search_vector);

--
-- Name: leads_tags_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX leads_tags_idx ON public.leads USING gin (tags);

--
-- Name: memberships_user_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX memberships_user_idx ON public.memberships USING btree (user_id);

--
-- Name: record_embeddings_agency_model_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX record_embeddings_agency_model_idx ON public.record_embeddings USING btree (agency_id, embedding_model);

--
-- Name: record_embeddings_embedding_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX record_embeddings_embedding_idx ON public.record_embeddings USING hnsw (((embedding)::extensions.halfvec(384)) extensions.halfvec_cosine_ops) WITH (m='16', ef_construction='64');

--
-- Name: connections_agency_idx; Type: INDEX; Schema: realtime; Owner: -
--

CREATE INDEX connections_agency_idx ON realtime.connections USING btree (agency_id);

--
-- Name: connections_node_idx; Type: INDEX; Schema: realtime; Owner: -
--

CREATE INDEX connections_node_idx ON realtime.connections USING btree (node_id);

--
-- Name: messages_inserted_at_idx; Type: INDEX; Schema: realtime; Owner: -
--

CREATE INDEX messages_inserted_at_idx ON realtime.messages USING btree (inserted_at);

--
-- Name: presences_node_idx; Type: INDEX; Schema: realtime; Owner: -
--

CREATE INDEX presences_node_idx ON realtime.presences USING btree (node_id);

--
-- Name: presences_topic_idx; Type: INDEX; Schema: realtime; Owner: -
--

CREATE INDEX presences_topic_idx ON realtime.presences USING btree (topic, agency_id);

--
-- Name: buckets_public_id_key; Type: INDEX; Schema: storage; Owner: -
--

CREATE UNIQUE INDEX buckets_public_id_key ON storage.buckets USING btree (id) WHERE public;

--
-- Name: objects_name_prefix_idx; Type: INDEX; Schema: storage; Owner: -
--

CREATE INDEX objects_name_prefix_idx ON storage.objects USING btree (agency_id, bucket_id, name text_pattern_ops);

--
-- Name: uploads_expires_idx; Type: INDEX; Schema: storage; Owner: -
--

CREATE INDEX uploads_expires_idx ON storage.uploads USING btree (expires_at);

--
-- Name: refresh_tokens refresh_tokens_updated_at; Type: TRIGGER; Schema: auth; Owner: -
--

CREATE TRIGGER refresh_tokens_updated_at BEFORE UPDATE ON auth.refresh_tokens FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

--
-- Name: sessions sessions_revocation_delete; Type: TRIGGER; Schema: auth; Owner: -
--

CREATE TRIGGER sessions_revocation_delete AFTER DELETE ON auth.sessions FOR EACH ROW EXECUTE FUNCTION gardenos.notify_revocation('user_id');

--
-- Name: sessions sessions_revocation_truncate; Type: TRIGGER; Schema: auth; Owner: -
--

CREATE TRIGGER sessions_revocation_truncate AFTER TRUNCATE ON auth.sessions FOR EACH STATEMENT EXECUTE FUNCTION gardenos.notify_revocation();

--
-- Name: sessions sessions_revocation_update; Type: TRIGGER; Schema: auth; Owner: -
--

CREATE TRIGGER sessions_revocation_update AFTER UPDATE OF not_after, user_id ON auth.sessions FOR EACH ROW WHEN (((old.not_after IS DISTINCT FROM new.not_after) OR (old.user_id <> new.user_id))) EXECUTE FUNCTION gardenos.notify_revocation('user_id');

--
-- Name: sessions sessions_updated_at; Type: TRIGGER; Schema: auth; Owner: -
--

CREATE TRIGGER sessions_updated_at BEFORE UPDATE ON auth.sessions FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

--
-- Name: users users_revocation_delete; Type: TRIGGER; Schema: auth; Owner: -
--

CREATE TRIGGER users_revocation_delete AFTER DELETE ON auth.users FOR EACH ROW EXECUTE FUNCTION gardenos.notify_revocation('id');

--
-- Name: users users_revocation_truncate; Type: TRIGGER; Schema: auth; Owner: -
--

CREATE TRIGGER users_revocation_truncate AFTER TRUNCATE ON auth.users FOR EACH STATEMENT EXECUTE FUNCTION gardenos.notify_revocation();

--
-- Name: users users_revocation_update; Type: TRIGGER; Schema: auth; Owner: -
--

CREATE TRIGGER users_revocation_update AFTER UPDATE OF banned_until, deleted_at ON auth.users FOR EACH ROW WHEN (((old.banned_until IS DISTINCT FROM new.banned_until) OR (old.deleted_at IS DISTINCT FROM new.deleted_at))) EXECUTE FUNCTION gardenos.notify_revocation('id');

--
-- Name: users users_updated_at; Type: TRIGGER; Schema: auth; Owner: -
--

CREATE TRIGGER users_updated_at BEFORE UPDATE ON auth.users FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

--
-- Name: activities activities_audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER activities_audit AFTER INSERT OR DELETE OR UPDATE ON public.activities FOR EACH ROW EXECUTE FUNCTION gardenos.audit_row();

--
-- Name: activities activities_created_by_member; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER activities_created_by_member BEFORE INSERT ON public.activities FOR EACH ROW WHEN ((new.created_by IS NOT NULL)) EXECUTE FUNCTION gardenos.require_member('created_by');

--
-- Name: activities activities_created_by_member_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER activities_created_by_member_update BEFORE UPDATE OF created_by, agency_id ON public.activities FOR EACH ROW WHEN (((new.created_by IS NOT NULL) AND ((new.created_by IS DISTINCT FROM old.created_by) OR (new.agency_id IS DISTINCT FROM old.agency_id)))) EXECUTE FUNCTION gardenos.require_member('created_by');

--
-- Name: activities activities_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER activities_updated_at BEFORE UPDATE ON public.activities FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

--
-- Name: agencies agencies_audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agencies_audit AFTER INSERT OR UPDATE ON public.agencies FOR EACH ROW EXECUTE FUNCTION gardenos.audit_row('id', 'id');

--
-- Name: agencies agencies_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agencies_updated_at BEFORE UPDATE ON public.agencies FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

--
-- Name: agent_memory agent_memory_created_by_member; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agent_memory_created_by_member BEFORE INSERT ON public.agent_memory FOR EACH ROW WHEN ((new.created_by IS NOT NULL)) EXECUTE FUNCTION gardenos.require_member('created_by');

--
-- Name: agent_memory agent_memory_created_by_member_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agent_memory_created_by_member_update BEFORE UPDATE OF created_by, agency_id ON public.agent_memory FOR EACH ROW WHEN (((new.created_by IS NOT NULL) AND ((new.created_by IS DISTINCT FROM old.created_by) OR (new.agency_id IS DISTINCT FROM old.agency_id)))) EXECUTE FUNCTION gardenos.require_member('created_by');

--
-- Name: agent_subscriptions agent_subscriptions_audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agent_subscriptions_audit AFTER INSERT OR DELETE OR UPDATE ON public.agent_subscriptions FOR EACH ROW EXECUTE FUNCTION gardenos.audit_row();

--
-- Name: agent_subscriptions agent_subscriptions_created_by_member; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agent_subscriptions_created_by_member BEFORE INSERT ON public.agent_subscriptions FOR EACH ROW WHEN ((new.created_by IS NOT NULL)) EXECUTE FUNCTION gardenos.require_member('created_by');

--
-- Name: agent_subscriptions agent_subscriptions_created_by_member_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agent_subscriptions_created_by_member_update BEFORE UPDATE OF created_by, agency_id ON public.agent_subscriptions FOR EACH ROW WHEN (((new.created_by IS NOT NULL) AND ((new.created_by IS DISTINCT FROM old.created_by) OR (new.agency_id IS DISTINCT FROM old.agency_id)))) EXECUTE FUNCTION gardenos.require_member('created_by');

--
-- Name: agent_subscriptions agent_subscriptions_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agent_subscriptions_updated_at BEFORE UPDATE ON public.agent_subscriptions FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

--
-- Name: agent_tasks agent_tasks_created_by_member; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agent_tasks_created_by_member BEFORE INSERT ON public.agent_tasks FOR EACH ROW WHEN ((new.created_by IS NOT NULL)) EXECUTE FUNCTION gardenos.require_member('created_by');

--
-- Name: agent_tasks agent_tasks_created_by_member_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agent_tasks_created_by_member_update BEFORE UPDATE OF created_by, agency_id ON public.agent_tasks FOR EACH ROW WHEN (((new.created_by IS NOT NULL) AND ((new.created_by IS DISTINCT FROM old.created_by) OR (new.agency_id IS DISTINCT FROM old.agency_id)))) EXECUTE FUNCTION gardenos.require_member('created_by');

--
-- Name: agent_tasks agent_tasks_notify; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agent_tasks_notify AFTER INSERT ON public.agent_tasks REFERENCING NEW TABLE AS new_tasks FOR EACH STATEMENT EXECUTE FUNCTION gardenos.notify_agent_tasks();

--
-- Name: agent_tasks agent_tasks_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER agent_tasks_updated_at BEFORE UPDATE ON public.agent_tasks FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

--
-- Name: clients clients_audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER clients_audit AFTER INSERT OR DELETE OR UPDATE ON public.clients FOR EACH ROW EXECUTE FUNCTION gardenos.audit_row();

--
-- Name: clients clients_enqueue_embeddings; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER clients_enqueue_embeddings AFTER INSERT ON public.clients REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION gardenos.enqueue_embeddings('client', 'NULL::uuid');

--
-- Name: clients clients_owner_id_member; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER clients_owner_id_member BEFORE INSERT ON public.clients FOR EACH ROW WHEN ((new.owner_id IS NOT NULL)) EXECUTE FUNCTION gardenos.require_member('owner_id');

--
-- Name: clients clients_owner_id_member_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER clients_owner_id_member_update BEFORE UPDATE OF owner_id, agency_id ON public.clients FOR EACH ROW WHEN (((new.owner_id IS NOT NULL) AND ((new.owner_id IS DISTINCT FROM old.owner_id) OR (new.agency_id IS DISTINCT FROM old.agency_id)))) EXECUTE FUNCTION gardenos.require_member('owner_id');

--
-- Name: clients clients_tidy_contact; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER clients_tidy_contact BEFORE INSERT OR UPDATE OF first_name, last_name, email, company, job_title, website, city, country, tags ON public.clients FOR EACH ROW WHEN (gardenos.untidy_contact(new.first_name, new.last_name, new.email, new.company, new.job_title, new.website, new.city, new.country, NULL::text, new.tags)) EXECUTE FUNCTION gardenos.tidy_contact();

--
-- Name: clients clients_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER clients_updated_at BEFORE UPDATE ON public.clients FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

--
-- Name: imports imports_created_by_member; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER imports_created_by_member BEFORE INSERT ON public.imports FOR EACH ROW WHEN ((new.created_by IS NOT NULL)) EXECUTE FUNCTION gardenos.require_member('created_by');

--
-- Name: imports imports_created_by_member_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER imports_created_by_member_update BEFORE UPDATE OF created_by, agency_id ON public.imports FOR EACH ROW WHEN (((new.created_by IS NOT NULL) AND ((new.created_by IS DISTINCT FROM old.created_by) OR (new.agency_id IS DISTINCT FROM old.agency_id)))) EXECUTE FUNCTION gardenos.require_member('created_by');

--
-- Name: imports imports_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER imports_updated_at BEFORE UPDATE ON public.imports FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

--
-- Name: imports imports_written_by_the_importer; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER imports_written_by_the_importer BEFORE INSERT OR DELETE OR UPDATE ON public.imports FOR EACH ROW EXECUTE FUNCTION gardenos.imports_written_by_the_importer();

--
-- Name: leads leads_audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_audit AFTER INSERT OR DELETE OR UPDATE ON public.leads FOR EACH ROW EXECUTE FUNCTION gardenos.audit_row();

--
-- Name: leads leads_enqueue_embeddings; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_enqueue_embeddings AFTER INSERT ON public.leads REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION gardenos.enqueue_embeddings('lead', 'n.import_id');

--
-- Name: leads leads_fire_subscriptions; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_fire_subscriptions AFTER INSERT OR UPDATE OF status ON public.leads FOR EACH ROW EXECUTE FUNCTION gardenos.fire_lead_subscriptions();

--
-- Name: leads leads_owner_id_member; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_owner_id_member BEFORE INSERT ON public.leads FOR EACH ROW WHEN ((new.owner_id IS NOT NULL)) EXECUTE FUNCTION gardenos.require_member('owner_id');

--
-- Name: leads leads_owner_id_member_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_owner_id_member_update BEFORE UPDATE OF owner_id, agency_id ON public.leads FOR EACH ROW WHEN (((new.owner_id IS NOT NULL) AND ((new.owner_id IS DISTINCT FROM old.owner_id) OR (new.agency_id IS DISTINCT FROM old.agency_id)))) EXECUTE FUNCTION gardenos.require_member('owner_id');

--
-- Name: leads leads_tidy_contact; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_tidy_contact BEFORE INSERT OR UPDATE OF first_name, last_name, email, company, job_title, website, city, country, source, tags ON public.leads FOR EACH ROW WHEN (gardenos.untidy_contact(new.first_name, new.last_name, new.email, new.company, new.job_title, new.website, new.city, new.country, new.source, new.tags)) EXECUTE FUNCTION gardenos.tidy_contact();

--
-- Name: leads leads_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER leads_updated_at BEFORE UPDATE ON public.leads FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

--
-- Name: memberships memberships_audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER memberships_audit AFTER INSERT OR DELETE OR UPDATE ON public.memberships FOR EACH ROW EXECUTE FUNCTION gardenos.audit_row('user_id');

--
-- Name: memberships memberships_revocation_insert_delete; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER memberships_revocation_insert_delete AFTER INSERT OR DELETE ON public.memberships FOR EACH ROW EXECUTE FUNCTION gardenos.notify_revocation('user_id');

--
-- Name: memberships memberships_revocation_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER memberships_revocation_truncate AFTER TRUNCATE ON public.memberships FOR EACH STATEMENT EXECUTE FUNCTION gardenos.notify_revocation();

--
-- Name: memberships memberships_revocation_update; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER memberships_revocation_update AFTER UPDATE OF role, agency_id, user_id ON public.memberships FOR EACH ROW WHEN (((old.role <> new.role) OR (old.agency_id <> new.agency_id) OR (old.user_id <> new.user_id))) EXECUTE FUNCTION gardenos.notify_revocation('user_id');

--
-- Name: memberships memberships_rules; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER memberships_rules BEFORE INSERT OR DELETE OR UPDATE ON public.memberships FOR EACH ROW EXECUTE FUNCTION gardenos.membership_rules();

--
-- Name: price_list_items price_list_items_audit; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER price_list_items_audit AFTER INSERT OR DELETE OR UPDATE ON public.price_list_items FOR EACH ROW EXECUTE FUNCTION gardenos.audit_row();

--
-- Name: price_list_items price_list_items_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER price_list_items_updated_at BEFORE UPDATE ON public.price_list_items FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

--
-- Name: saved_views saved_views_updated_at; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER saved_views_updated_at BEFORE UPDATE ON public.saved_views FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

--
-- Name: messages messages_notify; Type: TRIGGER; Schema: realtime; Owner: -
--

CREATE TRIGGER messages_notify AFTER INSERT ON realtime.messages FOR EACH ROW EXECUTE FUNCTION realtime.notify_message();

--
-- Name: buckets buckets_owner_member; Type: TRIGGER; Schema: storage; Owner: -
--

CREATE TRIGGER buckets_owner_member BEFORE INSERT ON storage.buckets FOR EACH ROW WHEN ((new.owner IS NOT NULL)) EXECUTE FUNCTION gardenos.require_member('owner');

--
-- Name: buckets buckets_owner_member_update; Type: TRIGGER; Schema: storage; Owner: -
--

CREATE TRIGGER buckets_owner_member_update BEFORE UPDATE OF owner, agency_id ON storage.buckets FOR EACH ROW WHEN (((new.owner IS NOT NULL) AND ((new.owner IS DISTINCT FROM old.owner) OR (new.agency_id IS DISTINCT FROM old.agency_id)))) EXECUTE FUNCTION gardenos.require_member('owner');

--
-- Name: buckets buckets_updated_at; Type: TRIGGER; Schema: storage; Owner: -
--

CREATE TRIGGER buckets_updated_at BEFORE UPDATE ON storage.buckets FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

--
-- Name: objects objects_owner_member; Type: TRIGGER; Schema: storage; Owner: -
--

CREATE TRIGGER objects_owner_member BEFORE INSERT ON storage.objects FOR EACH ROW WHEN ((new.owner IS NOT NULL)) EXECUTE FUNCTION gardenos.require_member('owner');

--
-- Name: objects objects_owner_member_update; Type: TRIGGER; Schema: storage; Owner: -
--

CREATE TRIGGER objects_owner_member_update BEFORE UPDATE OF owner, agency_id ON storage.objects FOR EACH ROW WHEN (((new.owner IS NOT NULL) AND ((new.owner IS DISTINCT FROM old.owner) OR (new.agency_id IS DISTINCT FROM old.agency_id)))) EXECUTE FUNCTION gardenos.require_member('owner');

--
-- Name: objects objects_updated_at; Type: TRIGGER; Schema: storage; Owner: -
--

CREATE TRIGGER objects_updated_at BEFORE UPDATE ON storage.objects FOR EACH ROW EXECUTE FUNCTION gardenos.set_updated_at();

--
-- Name: one_time_tokens one_time_tokens_user_id_fkey; Type: FK CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.one_time_tokens
    ADD CONSTRAINT one_time_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

--
-- Name: refresh_tokens refresh_tokens_session_id_fkey; Type: FK CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.refresh_tokens
    ADD CONSTRAINT refresh_tokens_session_id_fkey FOREIGN KEY (session_id) REFERENCES auth.sessions(id) ON DELETE CASCADE;

--
-- Name: refresh_tokens refresh_tokens_user_id_fkey; Type: FK CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.refresh_tokens
    ADD CONSTRAINT refresh_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

--
-- Name: sessions sessions_user_id_fkey; Type: FK CONSTRAINT; Schema: auth; Owner: -
--

ALTER TABLE ONLY auth.sessions
    ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

--
-- Name: outgoing_mail outgoing_mail_agency_id_fkey; Type: FK CONSTRAINT; Schema: gardenos; Owner: -
--

ALTER TABLE ONLY gardenos.outgoing_mail
    ADD CONSTRAINT outgoing_mail_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: activities activities_agency_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.activities
    ADD CONSTRAINT activities_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: activities activities_client_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.activities
    ADD CONSTRAINT activities_client_fkey FOREIGN KEY (agency_id, client_id) REFERENCES public.clients(agency_id, id) ON DELETE CASCADE;

--
-- Name: activities activities_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.activities
    ADD CONSTRAINT activities_created_by_fkey FOREIGN KEY (created_by) REFERENCES auth.users(id) ON DELETE SET NULL;

--
-- Name: activities activities_lead_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.activities
    ADD CONSTRAINT activities_lead_fkey FOREIGN KEY (agency_id, lead_id) REFERENCES public.leads(agency_id, id) ON DELETE CASCADE;

--
-- Name: agent_memory agent_memory_agency_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_memory
    ADD CONSTRAINT agent_memory_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: agent_memory agent_memory_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_memory
    ADD CONSTRAINT agent_memory_created_by_fkey FOREIGN KEY (created_by) REFERENCES auth.users(id) ON DELETE SET NULL;

--
-- Name: agent_subscriptions agent_subscriptions_agency_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_subscriptions
    ADD CONSTRAINT agent_subscriptions_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: agent_subscriptions agent_subscriptions_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_subscriptions
    ADD CONSTRAINT agent_subscriptions_created_by_fkey FOREIGN KEY (created_by) REFERENCES auth.users(id) ON DELETE SET NULL;

--
-- Name: agent_tasks agent_tasks_agency_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_tasks
    ADD CONSTRAINT agent_tasks_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: agent_tasks agent_tasks_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.agent_tasks
    ADD CONSTRAINT agent_tasks_created_by_fkey FOREIGN KEY (created_by) REFERENCES auth.users(id) ON DELETE SET NULL;

--
-- Name: ai_interactions ai_interactions_agency_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ai_interactions
    ADD CONSTRAINT ai_interactions_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: ai_interactions ai_interactions_task_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.ai_interactions
    ADD CONSTRAINT ai_interactions_task_fkey FOREIGN KEY (agency_id, task_id) REFERENCES public.agent_tasks(agency_id, id) ON DELETE SET NULL (task_id);

--
-- Name: audit_log audit_log_agency_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_log
    ADD CONSTRAINT audit_log_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: clients clients_agency_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.clients
    ADD CONSTRAINT clients_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: clients clients_lead_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.clients
    ADD CONSTRAINT clients_lead_fkey FOREIGN KEY (agency_id, lead_id) REFERENCES public.leads(agency_id, id) ON DELETE SET NULL (lead_id);

--
-- Name: clients clients_owner_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.clients
    ADD CONSTRAINT clients_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES auth.users(id) ON DELETE SET NULL;

--
-- Name: import_errors import_errors_import_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.import_errors
    ADD CONSTRAINT import_errors_import_fkey FOREIGN KEY (agency_id, import_id) REFERENCES public.imports(agency_id, id) ON DELETE CASCADE;

--
-- Name: import_possible_duplicates import_possible_duplicates_import_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.import_possible_duplicates
    ADD CONSTRAINT import_possible_duplicates_import_fkey FOREIGN KEY (agency_id, import_id) REFERENCES public.imports(agency_id, id) ON DELETE CASCADE;

--
-- Name: import_possible_duplicates import_possible_duplicates_lead_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.import_possible_duplicates
    ADD CONSTRAINT import_possible_duplicates_lead_fkey FOREIGN KEY (agency_id, lead_id) REFERENCES public.leads(agency_id, id) ON DELETE CASCADE;

--
-- Name: imports imports_agency_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.imports
    ADD CONSTRAINT imports_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: imports imports_created_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.imports
    ADD CONSTRAINT imports_created_by_fkey FOREIGN KEY (created_by) REFERENCES auth.users(id) ON DELETE SET NULL;

--
-- Name: lead_analyses lead_analyses_agency_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_analyses
    ADD CONSTRAINT lead_analyses_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: lead_analyses lead_analyses_lead_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_analyses
    ADD CONSTRAINT lead_analyses_lead_fkey FOREIGN KEY (agency_id, lead_id) REFERENCES public.leads(agency_id, id) ON DELETE CASCADE;

--
-- Name: lead_analyses lead_analyses_task_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.lead_analyses
    ADD CONSTRAINT lead_analyses_task_fkey FOREIGN KEY (agency_id, task_id) REFERENCES public.agent_tasks(agency_id, id) ON DELETE SET NULL (task_id);

--
-- Name: leads leads_agency_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leads
    ADD CONSTRAINT leads_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: leads leads_owner_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.leads
    ADD CONSTRAINT leads_owner_id_fkey FOREIGN KEY (owner_id) REFERENCES auth.users(id) ON DELETE SET NULL;

--
-- Name: memberships memberships_agency_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.memberships
    ADD CONSTRAINT memberships_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: memberships memberships_invited_by_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.memberships
    ADD CONSTRAINT memberships_invited_by_fkey FOREIGN KEY (invited_by) REFERENCES auth.users(id) ON DELETE SET NULL;

--
-- Name: memberships memberships_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.memberships
    ADD CONSTRAINT memberships_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

--
-- Name: price_list_items price_list_items_agency_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.price_list_items
    ADD CONSTRAINT price_list_items_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: record_embeddings record_embeddings_agency_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.record_embeddings
    ADD CONSTRAINT record_embeddings_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: record_embeddings record_embeddings_client_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.record_embeddings
    ADD CONSTRAINT record_embeddings_client_fkey FOREIGN KEY (agency_id, client_id) REFERENCES public.clients(agency_id, id) ON DELETE CASCADE;

--
-- Name: record_embeddings record_embeddings_lead_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.record_embeddings
    ADD CONSTRAINT record_embeddings_lead_fkey FOREIGN KEY (agency_id, lead_id) REFERENCES public.leads(agency_id, id) ON DELETE CASCADE;

--
-- Name: saved_views saved_views_agency_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.saved_views
    ADD CONSTRAINT saved_views_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: saved_views saved_views_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.saved_views
    ADD CONSTRAINT saved_views_user_id_fkey FOREIGN KEY (user_id) REFERENCES auth.users(id) ON DELETE CASCADE;

--
-- Name: connections connections_agency_id_fkey; Type: FK CONSTRAINT; Schema: realtime; Owner: -
--

ALTER TABLE ONLY realtime.connections
    ADD CONSTRAINT connections_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: connections connections_node_id_fkey; Type: FK CONSTRAINT; Schema: realtime; Owner: -
--

ALTER TABLE ONLY realtime.connections
    ADD CONSTRAINT connections_node_id_fkey FOREIGN KEY (node_id) REFERENCES realtime.nodes(id) ON DELETE CASCADE;

--
-- Name: messages messages_agency_id_fkey; Type: FK CONSTRAINT; Schema: realtime; Owner: -
--

ALTER TABLE ONLY realtime.messages
    ADD CONSTRAINT messages_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: presences presences_agency_id_fkey; Type: FK CONSTRAINT; Schema: realtime; Owner: -
--

ALTER TABLE ONLY realtime.presences
    ADD CONSTRAINT presences_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: presences presences_node_id_fkey; Type: FK CONSTRAINT; Schema: realtime; Owner: -
--

ALTER TABLE ONLY realtime.presences
    ADD CONSTRAINT presences_node_id_fkey FOREIGN KEY (node_id) REFERENCES realtime.nodes(id) ON DELETE CASCADE;

--
-- Name: buckets buckets_agency_id_fkey; Type: FK CONSTRAINT; Schema: storage; Owner: -
--

ALTER TABLE ONLY storage.buckets
    ADD CONSTRAINT buckets_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: buckets buckets_owner_fkey; Type: FK CONSTRAINT; Schema: storage; Owner: -
--

ALTER TABLE ONLY storage.buckets
    ADD CONSTRAINT buckets_owner_fkey FOREIGN KEY (owner) REFERENCES auth.users(id) ON DELETE SET NULL;

--
-- Name: objects objects_bucket_fkey; Type: FK CONSTRAINT; Schema: storage; Owner: -
--

ALTER TABLE ONLY storage.objects
    ADD CONSTRAINT objects_bucket_fkey FOREIGN KEY (agency_id, bucket_id) REFERENCES storage.buckets(agency_id, id) ON DELETE CASCADE;

--
-- Name: objects objects_owner_fkey; Type: FK CONSTRAINT; Schema: storage; Owner: -
--

ALTER TABLE ONLY storage.objects
    ADD CONSTRAINT objects_owner_fkey FOREIGN KEY (owner) REFERENCES auth.users(id) ON DELETE SET NULL;

--
-- Name: uploads uploads_agency_id_fkey; Type: FK CONSTRAINT; Schema: storage; Owner: -
--

ALTER TABLE ONLY storage.uploads
    ADD CONSTRAINT uploads_agency_id_fkey FOREIGN KEY (agency_id) REFERENCES public.agencies(id) ON DELETE CASCADE;

--
-- Name: one_time_tokens; Type: ROW SECURITY; Schema: auth; Owner: -
--

ALTER TABLE auth.one_time_tokens ENABLE ROW LEVEL SECURITY;

--
-- Name: rate_limits; Type: ROW SECURITY; Schema: auth; Owner: -
--

ALTER TABLE auth.rate_limits ENABLE ROW LEVEL SECURITY;

--
-- Name: refresh_tokens; Type: ROW SECURITY; Schema: auth; Owner: -
--

ALTER TABLE auth.refresh_tokens ENABLE ROW LEVEL SECURITY;

--
-- Name: sessions; Type: ROW SECURITY; Schema: auth; Owner: -
--

ALTER TABLE auth.sessions ENABLE ROW LEVEL SECURITY;

--
-- Name: users; Type: ROW SECURITY; Schema: auth; Owner: -
--

ALTER TABLE auth.users ENABLE ROW LEVEL SECURITY;

--
-- Name: mail_outbox; Type: ROW SECURITY; Schema: gardenos; Owner: -
--

ALTER TABLE gardenos.mail_outbox ENABLE ROW LEVEL SECURITY;

--
-- Name: outgoing_mail; Type: ROW SECURITY; Schema: gardenos; Owner: -
--

ALTER TABLE gardenos.outgoing_mail ENABLE ROW LEVEL SECURITY;

--
-- Name: outgoing_mail outgoing_mail_insert; Type: POLICY; Schema: gardenos; Owner: -
--

CREATE POLICY outgoing_mail_insert ON gardenos.outgoing_mail FOR INSERT TO authenticated WITH CHECK (((agency_id = ( SELECT auth.agency_id() AS agency_id)) AND (EXISTS ( SELECT
   FROM ((public.activities a
     LEFT JOIN public.leads l ON ((l.id = a.lead_id)))
     LEFT JOIN public.clients c ON ((c.id = a.client_id)))
  WHERE ((a.id = outgoing_mail.activity_id) AND (a.agency_id = outgoing_mail.agency_id) AND (a.kind = 'email'::text) AND (a.status = 'done'::text) AND (COALESCE(l.email, c.email) = outgoing_mail.to_address))))));

--
-- Name: activities; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.activities ENABLE ROW LEVEL SECURITY;

--
-- Name: agent_subscriptions admin_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY admin_write ON public.agent_subscriptions TO authenticated USING (((agency_id = ( SELECT auth.agency_id() AS agency_id)) AND (( SELECT auth.agency_role() AS agency_role) = ANY (ARRAY['owner'::text, 'admin'::text])))) WITH CHECK (((agency_id = ( SELECT auth.agency_id() AS agency_id)) AND (( SELECT auth.agency_role() AS agency_role) = ANY (ARRAY['owner'::text, 'admin'::text]))));

--
-- Name: price_list_items admin_write; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY admin_write ON public.price_list_items TO authenticated USING (((agency_id = ( SELECT auth.agency_id() AS agency_id)) AND (( SELECT auth.agency_role() AS agency_role) = ANY (ARRAY['owner'::text, 'admin'::text])))) WITH CHECK (((agency_id = ( SELECT auth.agency_id() AS agency_id)) AND (( SELECT auth.agency_role() AS agency_role) = ANY (ARRAY['owner'::text, 'admin'::text]))));

--
-- Name: agencies; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.agencies ENABLE ROW LEVEL SECURITY;

--
-- Name: agencies agencies_admin_update; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY agencies_admin_update ON public.agencies FOR UPDATE TO authenticated USING (((id = ( SELECT auth.agency_id() AS agency_id)) AND (( SELECT auth.agency_role() AS agency_role) = ANY (ARRAY['owner'::text, 'admin'::text])))) WITH CHECK ((id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: agencies agencies_member_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY agencies_member_read ON public.agencies FOR SELECT TO authenticated USING (((id = ( SELECT auth.agency_id() AS agency_id)) OR (id IN ( SELECT auth.agency_ids() AS agency_ids))));

--
-- Name: agent_memory; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.agent_memory ENABLE ROW LEVEL SECURITY;

--
-- Name: agent_subscriptions; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.agent_subscriptions ENABLE ROW LEVEL SECURITY;

--
-- Name: agent_tasks; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.agent_tasks ENABLE ROW LEVEL SECURITY;

--
-- Name: ai_agents; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.ai_agents ENABLE ROW LEVEL SECURITY;

--
-- Name: ai_interactions; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.ai_interactions ENABLE ROW LEVEL SECURITY;

--
-- Name: audit_log; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.audit_log ENABLE ROW LEVEL SECURITY;

--
-- Name: audit_log audit_log_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY audit_log_read ON public.audit_log FOR SELECT TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: clients; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.clients ENABLE ROW LEVEL SECURITY;

--
-- Name: import_errors; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.import_errors ENABLE ROW LEVEL SECURITY;

--
-- Name: import_possible_duplicates; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.import_possible_duplicates ENABLE ROW LEVEL SECURITY;

--
-- Name: imports; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.imports ENABLE ROW LEVEL SECURITY;

--
-- Name: lead_analyses; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.lead_analyses ENABLE ROW LEVEL SECURITY;

--
-- Name: leads; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.leads ENABLE ROW LEVEL SECURITY;

--
-- Name: memberships; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.memberships ENABLE ROW LEVEL SECURITY;

--
-- Name: memberships memberships_delete; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY memberships_delete ON public.memberships FOR DELETE TO authenticated USING ((agency_id IN ( SELECT auth.agency_ids() AS agency_ids)));

--
-- Name: memberships memberships_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY memberships_read ON public.memberships FOR SELECT TO authenticated USING (((agency_id IN ( SELECT auth.agency_ids() AS agency_ids)) OR (agency_id = ( SELECT auth.agency_id() AS agency_id))));

--
-- Name: memberships memberships_update; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY memberships_update ON public.memberships FOR UPDATE TO authenticated USING ((agency_id IN ( SELECT auth.agency_ids() AS agency_ids))) WITH CHECK ((agency_id IN ( SELECT auth.agency_ids() AS agency_ids)));

--
-- Name: saved_views owner_only; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY owner_only ON public.saved_views TO authenticated USING (((user_id = ( SELECT auth.uid() AS uid)) AND (agency_id = ( SELECT auth.agency_id() AS agency_id)))) WITH CHECK (((user_id = ( SELECT auth.uid() AS uid)) AND (agency_id = ( SELECT auth.agency_id() AS agency_id))));

--
-- Name: price_list_items; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.price_list_items ENABLE ROW LEVEL SECURITY;

--
-- Name: record_embeddings; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.record_embeddings ENABLE ROW LEVEL SECURITY;

--
-- Name: saved_views; Type: ROW SECURITY; Schema: public; Owner: -
--

ALTER TABLE public.saved_views ENABLE ROW LEVEL SECURITY;

--
-- Name: activities tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.activities TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id))) WITH CHECK ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: agent_memory tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.agent_memory TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id))) WITH CHECK ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: agent_tasks tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.agent_tasks TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id))) WITH CHECK ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: ai_interactions tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.ai_interactions TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id))) WITH CHECK ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: clients tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.clients TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id))) WITH CHECK ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: import_errors tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.import_errors TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id))) WITH CHECK ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: import_possible_duplicates tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.import_possible_duplicates TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id))) WITH CHECK ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: imports tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.imports TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id))) WITH CHECK ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: lead_analyses tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.lead_analyses TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id))) WITH CHECK ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: leads tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.leads TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id))) WITH CHECK ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: record_embeddings tenant_isolation; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_isolation ON public.record_embeddings TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id))) WITH CHECK ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: agent_subscriptions tenant_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_read ON public.agent_subscriptions FOR SELECT TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: price_list_items tenant_read; Type: POLICY; Schema: public; Owner: -
--

CREATE POLICY tenant_read ON public.price_list_items FOR SELECT TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: connections; Type: ROW SECURITY; Schema: realtime; Owner: -
--

ALTER TABLE realtime.connections ENABLE ROW LEVEL SECURITY;

--
-- Name: messages; Type: ROW SECURITY; Schema: realtime; Owner: -
--

ALTER TABLE realtime.messages ENABLE ROW LEVEL SECURITY;

--
-- Name: messages messages_own_agency; Type: POLICY; Schema: realtime; Owner: -
--

CREATE POLICY messages_own_agency ON realtime.messages AS RESTRICTIVE TO anon, authenticated USING ((NOT (agency_id IS DISTINCT FROM ( SELECT auth.agency_id() AS agency_id)))) WITH CHECK ((NOT (agency_id IS DISTINCT FROM ( SELECT auth.agency_id() AS agency_id))));

--
-- Name: nodes; Type: ROW SECURITY; Schema: realtime; Owner: -
--

ALTER TABLE realtime.nodes ENABLE ROW LEVEL SECURITY;

--
-- Name: presences; Type: ROW SECURITY; Schema: realtime; Owner: -
--

ALTER TABLE realtime.presences ENABLE ROW LEVEL SECURITY;

--
-- Name: buckets; Type: ROW SECURITY; Schema: storage; Owner: -
--

ALTER TABLE storage.buckets ENABLE ROW LEVEL SECURITY;

--
-- Name: buckets buckets_admin_delete; Type: POLICY; Schema: storage; Owner: -
--

CREATE POLICY buckets_admin_delete ON storage.buckets FOR DELETE TO authenticated USING (((agency_id = ( SELECT auth.agency_id() AS agency_id)) AND (( SELECT auth.agency_role() AS agency_role) = ANY (ARRAY['owner'::text, 'admin'::text]))));

--
-- Name: buckets buckets_admin_insert; Type: POLICY; Schema: storage; Owner: -
--

CREATE POLICY buckets_admin_insert ON storage.buckets FOR INSERT TO authenticated WITH CHECK (((agency_id = ( SELECT auth.agency_id() AS agency_id)) AND (( SELECT auth.agency_role() AS agency_role) = ANY (ARRAY['owner'::text, 'admin'::text]))));

--
-- Name: buckets buckets_admin_update; Type: POLICY; Schema: storage; Owner: -
--

CREATE POLICY buckets_admin_update ON storage.buckets FOR UPDATE TO authenticated USING (((agency_id = ( SELECT auth.agency_id() AS agency_id)) AND (( SELECT auth.agency_role() AS agency_role) = ANY (ARRAY['owner'::text, 'admin'::text])))) WITH CHECK (((agency_id = ( SELECT auth.agency_id() AS agency_id)) AND (( SELECT auth.agency_role() AS agency_role) = ANY (ARRAY['owner'::text, 'admin'::text]))));

--
-- Name: buckets buckets_member_read; Type: POLICY; Schema: storage; Owner: -
--

CREATE POLICY buckets_member_read ON storage.buckets FOR SELECT TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: objects; Type: ROW SECURITY; Schema: storage; Owner: -
--

ALTER TABLE storage.objects ENABLE ROW LEVEL SECURITY;

--
-- Name: objects objects_owner_is_caller; Type: POLICY; Schema: storage; Owner: -
--

CREATE POLICY objects_owner_is_caller ON storage.objects AS RESTRICTIVE FOR INSERT TO authenticated WITH CHECK (((owner IS NULL) OR (owner = ( SELECT auth.uid() AS uid))));

--
-- Name: objects tenant_isolation; Type: POLICY; Schema: storage; Owner: -
--

CREATE POLICY tenant_isolation ON storage.objects TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id))) WITH CHECK ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: uploads tenant_isolation; Type: POLICY; Schema: storage; Owner: -
--

CREATE POLICY tenant_isolation ON storage.uploads TO authenticated USING ((agency_id = ( SELECT auth.agency_id() AS agency_id))) WITH CHECK ((agency_id = ( SELECT auth.agency_id() AS agency_id)));

--
-- Name: uploads; Type: ROW SECURITY; Schema: storage; Owner: -
--

ALTER TABLE storage.uploads ENABLE ROW LEVEL SECURITY;

--
-- Name: uploads uploads_creator_only; Type: POLICY; Schema: storage; Owner: -
--

CREATE POLICY uploads_creator_only ON storage.uploads AS RESTRICTIVE TO authenticated USING ((owner = ( SELECT auth.uid() AS uid))) WITH CHECK ((owner = ( SELECT auth.uid() AS uid)));

--
-- Name: gardenos_changes; Type: PUBLICATION; Schema: -; Owner: -
--

CREATE PUBLICATION gardenos_changes WITH (publish = 'insert, update, delete', publish_generated_columns = stored);

--
-- Name: gardenos_changes public; Type: PUBLICATION TABLES IN SCHEMA; Schema: public; Owner: -
--

ALTER PUBLICATION gardenos_changes ADD TABLES IN SCHEMA public;

--
-- Name: SCHEMA auth; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA auth TO anon;
GRANT USAGE ON SCHEMA auth TO authenticated;
GRANT USAGE ON SCHEMA auth TO service_role;

--
-- Name: SCHEMA extensions; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA extensions TO anon;
GRANT USAGE ON SCHEMA extensions TO authenticated;
GRANT USAGE ON SCHEMA extensions TO service_role;

--
-- Name: SCHEMA gardenos; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA gardenos TO authenticator;
GRANT USAGE ON SCHEMA gardenos TO anon;
GRANT USAGE ON SCHEMA gardenos TO authenticated;
GRANT USAGE ON SCHEMA gardenos TO service_role;

--
-- Name: SCHEMA public; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA public TO anon;
GRANT USAGE ON SCHEMA public TO authenticated;
GRANT USAGE ON SCHEMA public TO service_role;

--
-- Name: SCHEMA realtime; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA realtime TO anon;
GRANT USAGE ON SCHEMA realtime TO authenticated;
GRANT USAGE ON SCHEMA realtime TO service_role;
GRANT USAGE ON SCHEMA realtime TO authenticator;

--
-- Name: SCHEMA storage; Type: ACL; Schema: -; Owner: -
--

GRANT USAGE ON SCHEMA storage TO anon;
GRANT USAGE ON SCHEMA storage TO authenticated;
GRANT USAGE ON SCHEMA storage TO service_role;

--
-- Name: FUNCTION agency_id(); Type: ACL; Schema: auth; Owner: -
--

GRANT ALL ON FUNCTION auth.agency_id() TO anon;
GRANT ALL ON FUNCTION auth.agency_id() TO authenticated;
GRANT ALL ON FUNCTION auth.agency_id() TO service_role;

--
-- Name: FUNCTION agency_ids(); Type: ACL; Schema: auth; Owner: -
--

REVOKE ALL ON FUNCTION auth.agency_ids() FROM PUBLIC;
GRANT ALL ON FUNCTION auth.agency_ids() TO authenticated;
GRANT ALL ON FUNCTION auth.agency_ids() TO service_role;

--
-- Name: FUNCTION agency_role(); Type: ACL; Schema: auth; Owner: -
--

GRANT ALL ON FUNCTION auth.agency_role() TO anon;
GRANT ALL ON FUNCTION auth.agency_role() TO authenticated;
GRANT ALL ON FUNCTION auth.agency_role() TO service_role;

--
-- Name: FUNCTION email(); Type: ACL; Schema: auth; Owner: -
--

GRANT ALL ON FUNCTION auth.email() TO anon;
GRANT ALL ON FUNCTION auth.email() TO authenticated;
GRANT ALL ON FUNCTION auth.email() TO service_role;

--
-- Name: FUNCTION jwt(); Type: ACL; Schema: auth; Owner: -
--

GRANT ALL ON FUNCTION auth.jwt() TO anon;
GRANT ALL ON FUNCTION auth.jwt() TO authenticated;
GRANT ALL ON FUNCTION auth.jwt() TO service_role;

--
-- Name: FUNCTION role(); Type: ACL; Schema: auth; Owner: -
--

GRANT ALL ON FUNCTION auth.role() TO anon;
GRANT ALL ON FUNCTION auth.role() TO authenticated;
GRANT ALL ON FUNCTION auth.role() TO service_role;

--
-- Name: FUNCTION uid(); Type: ACL; Schema: auth; Owner: -
--

GRANT ALL ON FUNCTION auth.uid() TO anon;
GRANT ALL ON FUNCTION auth.uid() TO authenticated;
GRANT ALL ON FUNCTION auth.uid() TO service_role;

--
-- Name: FUNCTION audit_row(); Type: ACL; Schema: gardenos; Owner: -
--

REVOKE ALL ON FUNCTION gardenos.audit_row() FROM PUBLIC;

--
-- Name: FUNCTION define_imported_fields(entity text, names text[]); Type: ACL; Schema: gardenos; Owner: -
--

REVOKE ALL ON FUNCTION gardenos.define_imported_fields(entity text, names text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION gardenos.define_imported_fields(entity text, names text[]) TO authenticated;

--
-- Name: FUNCTION fire_lead_subscriptions(); Type: ACL; Schema: gardenos; Owner: -
--

REVOKE ALL ON FUNCTION gardenos.fire_lead_subscriptions() FROM PUBLIC;

--
-- Name: FUNCTION membership_rules(); Type: ACL; Schema: gardenos; Owner: -
--

REVOKE ALL ON FUNCTION gardenos.membership_rules() FROM PUBLIC;

--
-- Name: FUNCTION name_key(first_name text, last_name text); Type: ACL; Schema: gardenos; Owner: -
--

GRANT ALL ON FUNCTION gardenos.name_key(first_name text, last_name text) TO anon;
GRANT ALL ON FUNCTION gardenos.name_key(first_name text, last_name text) TO authenticated;
GRANT ALL ON FUNCTION gardenos.name_key(first_name text, last_name text) TO service_role;

--
-- Name: FUNCTION notify_revocation(); Type: ACL; Schema: gardenos; Owner: -
--

REVOKE ALL ON FUNCTION gardenos.notify_revocation() FROM PUBLIC;

--
-- Name: FUNCTION record_event(action text, table_name text, record_id uuid, before jsonb, after jsonb, context jsonb); Type: ACL; Schema: gardenos; Owner: -
--

REVOKE ALL ON FUNCTION gardenos.record_event(action text, table_name text, record_id uuid, before jsonb, after jsonb, context jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION gardenos.record_event(action text, table_name text, record_id uuid, before jsonb, after jsonb, context jsonb) TO authenticated;
GRANT ALL ON FUNCTION gardenos.record_event(action text, table_name text, record_id uuid, before jsonb, after jsonb, context jsonb) TO service_role;

--
-- Name: FUNCTION require_member(); Type: ACL; Schema: gardenos; Owner: -
--

REVOKE ALL ON FUNCTION gardenos.require_member() FROM PUBLIC;

--
-- Name: FUNCTION pipeline_summary(); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.pipeline_summary() FROM PUBLIC;
GRANT ALL ON FUNCTION public.pipeline_summary() TO authenticated;
GRANT ALL ON FUNCTION public.pipeline_summary() TO service_role;

--
-- Name: TABLE leads; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.leads TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.leads TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.leads TO service_role;

--
-- Name: FUNCTION search_leads(query text, max_results integer); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.search_leads(query text, max_results integer) FROM PUBLIC;
GRANT ALL ON FUNCTION public.search_leads(query text, max_results integer) TO authenticated;
GRANT ALL ON FUNCTION public.search_leads(query text, max_results integer) TO service_role;

--
-- Name: FUNCTION set_lead_status(lead_id uuid, new_status text); Type: ACL; Schema: public; Owner: -
--

REVOKE ALL ON FUNCTION public.set_lead_status(lead_id uuid, new_status text) FROM PUBLIC;
GRANT ALL ON FUNCTION public.set_lead_status(lead_id uuid, new_status text) TO authenticated;
GRANT ALL ON FUNCTION public.set_lead_status(lead_id uuid, new_status text) TO service_role;

--
-- Name: FUNCTION _send(agency uuid, payload jsonb, event text, topic text, private boolean); Type: ACL; Schema: realtime; Owner: -
--

REVOKE ALL ON FUNCTION realtime._send(agency uuid, payload jsonb, event text, topic text, private boolean) FROM PUBLIC;

--
-- Name: FUNCTION authorization_probe(agency uuid, topic text, extension text); Type: ACL; Schema: realtime; Owner: -
--

REVOKE ALL ON FUNCTION realtime.authorization_probe(agency uuid, topic text, extension text) FROM PUBLIC;
GRANT ALL ON FUNCTION realtime.authorization_probe(agency uuid, topic text, extension text) TO authenticator;

--
-- Name: FUNCTION broadcast_changes(topic_name text, event_name text, operation text, table_name text, table_schema text, new record, old record, level text); Type: ACL; Schema: realtime; Owner: -
--

REVOKE ALL ON FUNCTION realtime.broadcast_changes(topic_name text, event_name text, operation text, table_name text, table_schema text, new record, old record, level text) FROM PUBLIC;
GRANT ALL ON FUNCTION realtime.broadcast_changes(topic_name text, event_name text, operation text, table_name text, table_schema text, new record, old record, level text) TO anon;
GRANT ALL ON FUNCTION realtime.broadcast_changes(topic_name text, event_name text, operation text, table_name text, table_schema text, new record, old record, level text) TO authenticated;
GRANT ALL ON FUNCTION realtime.broadcast_changes(topic_name text, event_name text, operation text, table_name text, table_schema text, new record, old record, level text) TO service_role;

--
-- Name: FUNCTION send(payload jsonb, event text, topic text, private boolean); Type: ACL; Schema: realtime; Owner: -
--

REVOKE ALL ON FUNCTION realtime.send(payload jsonb, event text, topic text, private boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION realtime.send(payload jsonb, event text, topic text, private boolean) TO anon;
GRANT ALL ON FUNCTION realtime.send(payload jsonb, event text, topic text, private boolean) TO authenticated;
GRANT ALL ON FUNCTION realtime.send(payload jsonb, event text, topic text, private boolean) TO service_role;

--
-- Name: FUNCTION extension(name text); Type: ACL; Schema: storage; Owner: -
--

GRANT ALL ON FUNCTION storage.extension(name text) TO anon;
GRANT ALL ON FUNCTION storage.extension(name text) TO authenticated;
GRANT ALL ON FUNCTION storage.extension(name text) TO service_role;

--
-- Name: FUNCTION filename(name text); Type: ACL; Schema: storage; Owner: -
--

GRANT ALL ON FUNCTION storage.filename(name text) TO anon;
GRANT ALL ON FUNCTION storage.filename(name text) TO authenticated;
GRANT ALL ON FUNCTION storage.filename(name text) TO service_role;

--
-- Name: FUNCTION foldername(name text); Type: ACL; Schema: storage; Owner: -
--

GRANT ALL ON FUNCTION storage.foldername(name text) TO anon;
GRANT ALL ON FUNCTION storage.foldername(name text) TO authenticated;
GRANT ALL ON FUNCTION storage.foldername(name text) TO service_role;

--
-- Name: FUNCTION public_object(bucket text, object_name text); Type: ACL; Schema: storage; Owner: -
--

REVOKE ALL ON FUNCTION storage.public_object(bucket text, object_name text) FROM PUBLIC;
GRANT ALL ON FUNCTION storage.public_object(bucket text, object_name text) TO anon;
GRANT ALL ON FUNCTION storage.public_object(bucket text, object_name text) TO authenticated;
GRANT ALL ON FUNCTION storage.public_object(bucket text, object_name text) TO service_role;

--
-- Name: TABLE one_time_tokens; Type: ACL; Schema: auth; Owner: -
--

GRANT ALL ON TABLE auth.one_time_tokens TO service_role;

--
-- Name: TABLE rate_limits; Type: ACL; Schema: auth; Owner: -
--

GRANT ALL ON TABLE auth.rate_limits TO service_role;

--
-- Name: TABLE refresh_tokens; Type: ACL; Schema: auth; Owner: -
--

GRANT ALL ON TABLE auth.refresh_tokens TO service_role;

--
-- Name: TABLE sessions; Type: ACL; Schema: auth; Owner: -
--

GRANT ALL ON TABLE auth.sessions TO service_role;

--
-- Name: TABLE users; Type: ACL; Schema: auth; Owner: -
--

GRANT ALL ON TABLE auth.users TO service_role;

--
-- Name: TABLE outgoing_mail; Type: ACL; Schema: gardenos; Owner: -
--

GRANT INSERT ON TABLE gardenos.outgoing_mail TO authenticated;
GRANT SELECT,UPDATE ON TABLE gardenos.outgoing_mail TO service_role;

--
-- Name: TABLE schema_migrations; Type: ACL; Schema: gardenos; Owner: -
--

GRANT SELECT ON TABLE gardenos.schema_migrations TO authenticator;

--
-- Name: TABLE activities; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.activities TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.activities TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.activities TO service_role;

--
-- Name: TABLE agencies; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,UPDATE ON TABLE public.agencies TO anon;
GRANT SELECT,UPDATE ON TABLE public.agencies TO authenticated;
GRANT ALL ON TABLE public.agencies TO service_role;

--
-- Name: TABLE agent_memory; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.agent_memory TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.agent_memory TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.agent_memory TO service_role;

--
-- Name: TABLE agent_subscriptions; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.agent_subscriptions TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.agent_subscriptions TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.agent_subscriptions TO service_role;

--
-- Name: TABLE agent_tasks; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.agent_tasks TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.agent_tasks TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.agent_tasks TO service_role;

--
-- Name: TABLE ai_agents; Type: ACL; Schema: public; Owner: -
--

GRANT ALL ON TABLE public.ai_agents TO service_role;

--
-- Name: TABLE ai_interactions; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.ai_interactions TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.ai_interactions TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.ai_interactions TO service_role;

--
-- Name: TABLE audit_log; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT ON TABLE public.audit_log TO anon;
GRANT SELECT ON TABLE public.audit_log TO authenticated;
GRANT ALL ON TABLE public.audit_log TO service_role;

--
-- Name: TABLE clients; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.clients TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.clients TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.clients TO service_role;

--
-- Name: TABLE import_errors; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.import_errors TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.import_errors TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.import_errors TO service_role;

--
-- Name: TABLE import_possible_duplicates; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.import_possible_duplicates TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.import_possible_duplicates TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.import_possible_duplicates TO service_role;

--
-- Name: TABLE imports; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.imports TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.imports TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.imports TO service_role;

--
-- Name: TABLE lead_analyses; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.lead_analyses TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.lead_analyses TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.lead_analyses TO service_role;

--
-- Name: TABLE memberships; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,DELETE,UPDATE ON TABLE public.memberships TO anon;
GRANT SELECT,DELETE,UPDATE ON TABLE public.memberships TO authenticated;
GRANT ALL ON TABLE public.memberships TO service_role;

--
-- Name: TABLE price_list_items; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.price_list_items TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.price_list_items TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.price_list_items TO service_role;

--
-- Name: TABLE record_embeddings; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.record_embeddings TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.record_embeddings TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.record_embeddings TO service_role;

--
-- Name: TABLE saved_views; Type: ACL; Schema: public; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.saved_views TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.saved_views TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.saved_views TO service_role;

--
-- Name: TABLE connections; Type: ACL; Schema: realtime; Owner: -
--

GRANT ALL ON TABLE realtime.connections TO service_role;

--
-- Name: TABLE messages; Type: ACL; Schema: realtime; Owner: -
--

GRANT SELECT,INSERT ON TABLE realtime.messages TO anon;
GRANT SELECT,INSERT ON TABLE realtime.messages TO authenticated;
GRANT ALL ON TABLE realtime.messages TO service_role;

--
-- Name: TABLE nodes; Type: ACL; Schema: realtime; Owner: -
--

GRANT ALL ON TABLE realtime.nodes TO service_role;

--
-- Name: TABLE presences; Type: ACL; Schema: realtime; Owner: -
--

GRANT ALL ON TABLE realtime.presences TO service_role;

--
-- Name: TABLE buckets; Type: ACL; Schema: storage; Owner: -
--

GRANT SELECT ON TABLE storage.buckets TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE storage.buckets TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE storage.buckets TO service_role;

--
-- Name: TABLE objects; Type: ACL; Schema: storage; Owner: -
--

GRANT SELECT ON TABLE storage.objects TO anon;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE storage.objects TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE storage.objects TO service_role;

--
-- Name: TABLE uploads; Type: ACL; Schema: storage; Owner: -
--

GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE storage.uploads TO authenticated;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE storage.uploads TO service_role;

--
-- PostgreSQL database dump complete
--
