-- Resumable uploads (TUS at /storage/v1/upload/resumable): one row per upload in progress. Its bytes are
-- staged outside the objects (a file under the disk backend's `.uploads`, or an S3 multipart upload and
-- a tail object), and become an object only when the last byte is in: then this row is deleted in the
-- same transaction that inserts the object's row. An abandoned upload expires and a sweeper removes it
-- with its bytes.

CREATE TABLE storage.uploads (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    agency_id uuid NOT NULL DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    -- No foreign key to the bucket: deleting a bucket must not drop this row while its staged bytes
    -- still exist (the sweeper removes both); an upload whose bucket is gone fails when it completes.
    bucket_id text NOT NULL,
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 1024),
    -- Who created it (NULL: the service_role key): the only member who may write, read or end it.
    owner uuid,
    upload_length bigint NOT NULL CHECK (upload_length >= 0),
    -- What is durably stored: written only after the bytes up to it were fsynced (or sent to S3).
    upload_offset bigint NOT NULL DEFAULT 0,
    upsert boolean NOT NULL DEFAULT false,
    mime_type text NOT NULL,
    cache_control text NOT NULL,
    user_metadata jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(user_metadata) = 'object'),
    -- The TUS Upload-Metadata header as the client sent it, handed back on HEAD.
    upload_metadata text NOT NULL DEFAULT '',
    -- The backend key the object will have (storage/backend.py's `new_key`).
    version text NOT NULL,
    -- The backend's own state of the staged bytes (S3: the multipart upload, its parts, the tail).
    staging jsonb NOT NULL DEFAULT '{}',
    -- The MD5 of each accepted chunk, in order: the object's ETag is computed from them at the end.
    md5s text[] NOT NULL DEFAULT '{}',
    -- One writer at a time: a PATCH holds the lease while it writes (renewed while it lasts); one whose
    -- process died is taken over once `lease_until` passed.
    lease uuid,
    lease_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    -- An id is unique within its agency, as on every tenant table (0017).
    PRIMARY KEY (agency_id, id),
    CONSTRAINT uploads_offset_check CHECK (upload_offset BETWEEN 0 AND upload_length)
);
CREATE INDEX uploads_expires_idx ON storage.uploads (expires_at);

SELECT gardenos.enable_tenant_rls('storage.uploads');
-- Within the agency, an upload is its creator's: another member can neither see its progress nor
-- write into it (a member's upload id names nothing for anyone else).
CREATE POLICY uploads_creator_only ON storage.uploads AS RESTRICTIVE FOR ALL TO authenticated
    USING (owner = (SELECT auth.uid()))
    WITH CHECK (owner = (SELECT auth.uid()));
REVOKE ALL ON storage.uploads FROM anon;
