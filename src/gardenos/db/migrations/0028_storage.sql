-- Storage (/storage/v1) under row-level security, as Supabase Storage keeps it: `bucket_id`, `name`,
-- `owner` and the path helpers, so policies read like Supabase's own.
--
-- The API reads and writes this metadata as the caller's role (never as the owner), so these policies are
-- what a member may do with files, whatever door they come in by.

-- --- path helpers (Supabase's storage.foldername / filename / extension) --------------------------------

CREATE FUNCTION storage.foldername(name text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (string_to_array(name, '/'))[1:cardinality(string_to_array(name, '/')) - 1]
$$;

CREATE FUNCTION storage.filename(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (string_to_array(name, '/'))[cardinality(string_to_array(name, '/'))]
$$;

CREATE FUNCTION storage.extension(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN storage.filename(name) LIKE '%.%'
                THEN reverse(split_part(reverse(storage.filename(name)), '.', 1)) ELSE '' END
$$;

GRANT EXECUTE ON FUNCTION storage.foldername(text), storage.filename(text), storage.extension(text)
    TO anon, authenticated, service_role;

-- --- objects: where the bytes are ------------------------------------------------------------------------

-- The backend's key for this object's bytes (one per upload: an upsert writes a new version and the old
-- one is removed after the commit, so a reader never sees bytes of two uploads mixed). Not a path a
-- client chose: the disk backend never builds a file name from user input.
ALTER TABLE storage.objects ADD COLUMN version text;

-- --- buckets: members read, owners and admins manage -------------------------------------------------------

-- Before: any member (through `tenant_isolation`) could create, reconfigure (make public) or delete the
-- agency's buckets. Supabase gives that power to the project's admins; here, the agency's owners and
-- admins, as their membership says now (`auth.agency_role()` reads the current row).
DROP POLICY tenant_isolation ON storage.buckets;
CREATE POLICY buckets_member_read ON storage.buckets FOR SELECT TO authenticated
    USING (agency_id = (SELECT auth.agency_id()));
CREATE POLICY buckets_admin_insert ON storage.buckets FOR INSERT TO authenticated
    WITH CHECK (agency_id = (SELECT auth.agency_id()) AND (SELECT auth.agency_role()) IN ('owner', 'admin'));
CREATE POLICY buckets_admin_update ON storage.buckets FOR UPDATE TO authenticated
    USING (agency_id = (SELECT auth.agency_id()) AND (SELECT auth.agency_role()) IN ('owner', 'admin'))
    WITH CHECK (agency_id = (SELECT auth.agency_id()) AND (SELECT auth.agency_role()) IN ('owner', 'admin'));
CREATE POLICY buckets_admin_delete ON storage.buckets FOR DELETE TO authenticated
    USING (agency_id = (SELECT auth.agency_id()) AND (SELECT auth.agency_role()) IN ('owner', 'admin'));
-- anon reads no bucket row (no policy); public objects are read through storage.public_object().
REVOKE INSERT, UPDATE, DELETE ON storage.buckets FROM anon;
REVOKE INSERT, UPDATE, DELETE ON storage.objects FROM anon;

-- A bucket id names a bucket within its agency, but a public URL (/object/public/<bucket>/<path>, built by
-- the clients without any agency) must name one bucket: public bucket ids are one namespace. Taking a
-- public id that another agency's public bucket holds is refused; that reveals only what its public URLs
-- already publish.
CREATE UNIQUE INDEX buckets_public_id_key ON storage.buckets (id) WHERE public;

-- Bucket ids as Supabase's clients put them in URLs: one path segment, no dot segments.
ALTER TABLE storage.buckets ADD CONSTRAINT buckets_id_check
    CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' AND id NOT LIKE '%..%') NOT VALID;

-- --- objects: the agency's members, in the agency's buckets ------------------------------------------------

-- `tenant_isolation` (agency_id = the caller's current agency) stays: every member of an agency reads and
-- writes its files, no one else's. The composite foreign key keeps an object in a bucket of its own
-- agency. The owner is whoever uploaded, never someone else.
CREATE POLICY objects_owner_is_caller ON storage.objects AS RESTRICTIVE FOR INSERT TO authenticated
    WITH CHECK (owner IS NULL OR owner = (SELECT auth.uid()));

-- An object of a public bucket, for anyone who knows its name (/object/public/…): the only read that
-- passes row-level security, and only of public buckets' objects, one at a time, by exact name.
CREATE FUNCTION storage.public_object(bucket text, object_name text)
RETURNS TABLE (agency_id uuid, version text, size bigint, mime_type text, etag text, metadata jsonb,
               updated_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = '' AS $$
    SELECT o.agency_id, o.version, o.size, o.mime_type, o.etag, o.metadata, o.updated_at
    FROM storage.buckets b
    JOIN storage.objects o ON o.agency_id = b.agency_id AND o.bucket_id = b.id
    WHERE b.public AND b.id = bucket AND o.name = object_name
$$;
REVOKE ALL ON FUNCTION storage.public_object(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION storage.public_object(text, text) TO anon, authenticated, service_role;
