-- The imports table is the importer's record of each run: its status, its counts and the path of the upload
-- it reads. Members read it (GET /rest/v1/imports shows progress), but a member writing it through /rest/v1
-- could forge an import's outcome (a revert of a forged "succeeded"), hide or delete a colleague's import, or
-- name any file in the row (the importer reads only the upload it was handed, and removes only its own).
-- Only the importer writes it: it marks its transactions with `SET LOCAL gardenos.writer = 'importer'`,
-- which no door open to members can set (as `gardenos.audit` for bulk loaders, 0008). Tenancy stays with the
-- table's RLS policy; the service role and the owner (cascades from a deleted agency) are not members.
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

CREATE TRIGGER imports_written_by_the_importer BEFORE INSERT OR UPDATE OR DELETE ON public.imports
FOR EACH ROW EXECUTE FUNCTION gardenos.imports_written_by_the_importer();
