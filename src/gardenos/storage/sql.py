"""Storage's queries. Every one names the agency (`%(agency)s`): for members row-level security checks
it again (their current membership), for the service_role key and signed URLs it is the only scope."""

from __future__ import annotations

BUCKET_COLUMNS = (
    "id, name, coalesce(owner::text, '') AS owner, public, file_size_limit, allowed_mime_types, "
    "created_at, updated_at"
)

LIST_BUCKETS = f"SELECT {BUCKET_COLUMNS} FROM storage.buckets WHERE agency_id = %(agency)s ORDER BY id"
GET_BUCKET = f"SELECT {BUCKET_COLUMNS} FROM storage.buckets WHERE agency_id = %(agency)s AND id = %(bucket)s"

CREATE_BUCKET = """
INSERT INTO storage.buckets (agency_id, id, name, public, file_size_limit, allowed_mime_types, owner)
VALUES (%(agency)s, %(bucket)s, %(name)s, %(public)s, %(file_size_limit)s, %(allowed_mime_types)s, %(owner)s)
RETURNING id
"""

UPDATE_BUCKET = """
UPDATE storage.buckets
SET public = coalesce(%(public)s, public),
    file_size_limit = CASE WHEN %(set_limit)s THEN %(file_size_limit)s ELSE file_size_limit END,
    allowed_mime_types = CASE WHEN %(set_types)s THEN %(allowed_mime_types)s ELSE allowed_mime_types END
WHERE agency_id = %(agency)s AND id = %(bucket)s
RETURNING id
"""

DELETE_BUCKET = "DELETE FROM storage.buckets WHERE agency_id = %(agency)s AND id = %(bucket)s RETURNING id"
BUCKET_HAS_OBJECTS = (
    "SELECT EXISTS (SELECT 1 FROM storage.objects WHERE agency_id = %(agency)s AND bucket_id = %(bucket)s)"
)
EMPTY_BUCKET = (
    "DELETE FROM storage.objects WHERE agency_id = %(agency)s AND bucket_id = %(bucket)s RETURNING version"
)

# An upsert's first try: the row as it is now, locked (re-read after any concurrent upsert committed), is
# switched to the new version; the version it held comes back, to be deleted after the commit.
REPLACE_OBJECT = """
UPDATE storage.objects o
SET owner = %(owner)s, size = %(size)s, mime_type = %(mime_type)s, etag = %(etag)s, metadata = %(metadata)s,
    user_metadata = %(user_metadata)s, version = %(version)s
FROM (SELECT id, version FROM storage.objects
      WHERE agency_id = %(agency)s AND bucket_id = %(bucket)s AND name = %(name)s FOR UPDATE) old
WHERE o.agency_id = %(agency)s AND o.id = old.id
RETURNING o.id, old.version
"""

INSERT_OBJECT = """
INSERT INTO storage.objects
    (agency_id, bucket_id, name, owner, size, mime_type, etag, metadata, user_metadata, version)
VALUES (%(agency)s, %(bucket)s, %(name)s, %(owner)s, %(size)s, %(mime_type)s, %(etag)s, %(metadata)s,
        %(user_metadata)s, %(version)s)
ON CONFLICT (agency_id, bucket_id, name) DO NOTHING
RETURNING id
"""

OBJECT = """
SELECT id, version, size, mime_type, etag, metadata, user_metadata, updated_at, created_at, owner
FROM storage.objects WHERE agency_id = %(agency)s AND bucket_id = %(bucket)s AND name = %(name)s
"""

MOVE_OBJECT = """
UPDATE storage.objects SET bucket_id = %(dest_bucket)s, name = %(dest)s
WHERE agency_id = %(agency)s AND bucket_id = %(bucket)s AND name = %(name)s
RETURNING id, mime_type, size
"""

REMOVE_OBJECTS = """
DELETE FROM storage.objects
WHERE agency_id = %(agency)s AND bucket_id = %(bucket)s AND name = ANY(%(names)s)
RETURNING bucket_id, name, owner, id, updated_at, created_at, last_accessed_at, metadata, version
"""

# One folder level of a bucket, as Supabase's storage.search: folders (id NULL) and objects under
# `prefix`, whose next segment starts with `search`. `{order}` is a column name and direction from a
# fixed list (service.py), not client text.
LIST_OBJECTS = """
WITH level AS (
    SELECT substr(o.name, length(%(prefix)s) + 1) AS rest, o.id, o.updated_at, o.created_at,
           o.last_accessed_at, o.metadata
    FROM storage.objects o
    WHERE o.agency_id = %(agency)s AND o.bucket_id = %(bucket)s AND o.name LIKE %(pattern)s
), entries AS (
    SELECT split_part(rest, '/', 1) AS name, NULL::uuid AS id, NULL::timestamptz AS updated_at,
           NULL::timestamptz AS created_at, NULL::timestamptz AS last_accessed_at, NULL::jsonb AS metadata
    FROM level WHERE position('/' IN rest) > 0
    GROUP BY 1
    UNION ALL
    SELECT rest, id, updated_at, created_at, last_accessed_at, metadata
    FROM level WHERE position('/' IN rest) = 0
)
SELECT name, id, updated_at, created_at, last_accessed_at, metadata FROM entries
WHERE name ILIKE %(search)s
ORDER BY {order}
LIMIT %(limit)s OFFSET %(offset)s
"""

PUBLIC_OBJECT = (
    "SELECT agency_id, version, size, mime_type, etag, metadata, updated_at "
    "FROM storage.public_object(%(bucket)s, %(name)s)"
)

# --- resumable uploads (resumable.py) ----------------------------------------------------------------------

_UPLOAD_COLUMNS = (
    "id, bucket_id, name, owner, upload_length, upload_offset, upsert, mime_type, cache_control, "
    "user_metadata, upload_metadata, version, staging, md5s, lease_until, expires_at, "
    "expires_at <= now() AS expired, coalesce(lease_until > now(), false) AS leased"
)
CREATE_UPLOAD = """
INSERT INTO storage.uploads
    (agency_id, bucket_id, name, owner, upload_length, upsert, mime_type, cache_control, user_metadata,
     upload_metadata, version, expires_at)
VALUES (%(agency)s, %(bucket)s, %(name)s, %(owner)s, %(length)s, %(upsert)s, %(mime_type)s,
        %(cache_control)s, %(user_metadata)s, %(upload_metadata)s, %(version)s,
        now() + make_interval(secs => %(expiry_s)s))
RETURNING id, expires_at
"""
GET_UPLOAD = f"SELECT {_UPLOAD_COLUMNS} FROM storage.uploads WHERE agency_id = %(agency)s AND id = %(id)s"
LOCK_UPLOAD = GET_UPLOAD + " FOR UPDATE"
TAKE_LEASE = """
UPDATE storage.uploads SET lease = %(lease)s, lease_until = now() + make_interval(secs => %(lease_s)s)
WHERE agency_id = %(agency)s AND id = %(id)s
"""
RENEW_LEASE = """
UPDATE storage.uploads SET lease_until = now() + make_interval(secs => %(lease_s)s)
WHERE agency_id = %(agency)s AND id = %(id)s AND lease = %(lease)s
RETURNING id
"""
RELEASE_LEASE = """
UPDATE storage.uploads SET lease = NULL, lease_until = NULL
WHERE agency_id = %(agency)s AND id = %(id)s AND lease = %(lease)s
"""
# The chunk's bytes are durable: the offset moves to them, and the upload lives on for another expiry.
RECORD_CHUNK = """
UPDATE storage.uploads
SET upload_offset = %(offset)s, staging = %(staging)s, md5s = md5s || %(md5s)s::text[], lease = NULL,
    lease_until = NULL, expires_at = now() + make_interval(secs => %(expiry_s)s)
WHERE agency_id = %(agency)s AND id = %(id)s AND lease = %(lease)s
RETURNING expires_at
"""
FINISH_UPLOAD = """
DELETE FROM storage.uploads WHERE agency_id = %(agency)s AND id = %(id)s AND lease = %(lease)s RETURNING id
"""
TERMINATE_UPLOAD = "DELETE FROM storage.uploads WHERE agency_id = %(agency)s AND id = %(id)s RETURNING id"
# Expired and not being written: the sweeper's, across agencies (as service_role).
EXPIRED_UPLOADS = """
SELECT id, agency_id, version, upload_offset, staging FROM storage.uploads
WHERE expires_at <= now() AND (lease_until IS NULL OR lease_until <= now())
ORDER BY expires_at LIMIT %(limit)s
"""
DELETE_EXPIRED = """
DELETE FROM storage.uploads
WHERE id = %(id)s AND expires_at <= now() AND (lease_until IS NULL OR lease_until <= now())
"""

# A folder's objects (`pattern`: the folder, LIKE-escaped, then %), for callers that keep files beside
# their own records (crm/attachments) and change them in their own transaction.
FOLDER_COUNT = """
SELECT count(*) FROM storage.objects
WHERE agency_id = %(agency)s AND bucket_id = %(bucket)s AND name LIKE %(pattern)s
"""

REMOVE_FOLDER = """
DELETE FROM storage.objects
WHERE agency_id = %(agency)s AND bucket_id = %(bucket)s AND name LIKE %(pattern)s
RETURNING version
"""

# Renames only: the bytes are under the version's key, not the name. A name the destination folder
# already has gets `clash` before its last segment, so nothing is overwritten.
MOVE_FOLDER = """
UPDATE storage.objects o
SET name = %(dest)s || CASE
    WHEN EXISTS (SELECT FROM storage.objects t
                 WHERE t.agency_id = o.agency_id AND t.bucket_id = o.bucket_id
                   AND t.name = %(dest)s || substr(o.name, length(%(source)s) + 1))
    THEN regexp_replace(substr(o.name, length(%(source)s) + 1), '([^/]*)$', %(clash)s || '\\1')
    ELSE substr(o.name, length(%(source)s) + 1) END
WHERE o.agency_id = %(agency)s AND o.bucket_id = %(bucket)s AND o.name LIKE %(pattern)s
"""
