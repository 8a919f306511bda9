-- The CSV importer: what an import read and decided, and which leads it created (for revert).

ALTER TABLE public.imports
    -- The file as received: its hash finds an interrupted import of the same file to take over.
    ADD COLUMN file_sha256 text,
    ADD COLUMN file_size bigint CHECK (file_size >= 0),
    -- Where an upload waits on the server's disk until its import has run (removed afterwards).
    ADD COLUMN file_path text,
    ADD COLUMN options jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
    -- What the reader found: encoding, delimiter, header, and the column -> field mapping it used.
    ADD COLUMN detected jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(detected) = 'object'),
    ADD COLUMN rows_updated bigint NOT NULL DEFAULT 0,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0);
CREATE INDEX imports_agency_sha_idx ON public.imports (agency_id, file_sha256) WHERE status IN ('pending', 'running', 'failed');

-- Which import created a lead: revert deletes exactly those. No foreign key on purpose: a key check per
-- imported row would cost as much as the row's own insert, and a dangling id (its import deleted) is
-- harmless, as revert only ever deletes within the caller's agency.
ALTER TABLE public.leads ADD COLUMN import_id uuid;
CREATE INDEX leads_agency_import_idx ON public.leads (agency_id, import_id) WHERE import_id IS NOT NULL;
