-- Let the search indexes serve queries under row-level security.
--
-- Under RLS, PostgreSQL evaluates a caller's condition before the policy's only if every function in it is
-- LEAKPROOF; otherwise it applies the policy first and the condition afterwards, as a filter. Full-text
-- (`@@`), trigram (`%`, `%>`) and array containment (`@>`) are not marked LEAKPROOF, so their GIN indexes
-- were never used for an API caller: every search, fuzzy duplicate lookup and tag filter read all of the
-- agency's rows (825 ms for fuzzy duplicates at 200k leads).
--
-- The functions below are marked LEAKPROOF. A leaky function could reveal a row the caller may not see,
-- through an error message or a side effect, if it ran on that row before the policy filtered it out. These
-- have no side effects, and they raise no error that depends on the values they are given (their inputs are
-- already-valid values of their types): ts_match_vq is `tsvector @@ tsquery`; arraycontains is `@>`;
-- similarity_op and the word_similarity ones are pg_trgm's `%`, `<%`, `%>`; lower(text) and textcat
-- (`text || text`) build the trigram indexes' expressions from a row's name and company. Rows of other
-- agencies may now be read by an index scan, but the policy still removes them before anything is returned.
--
-- Marking a function LEAKPROOF takes a superuser. Without one (a managed database), the migration says so
-- and the API stays correct, only slower.
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        ALTER FUNCTION pg_catalog.ts_match_vq(tsvector, tsquery) LEAKPROOF;
        ALTER FUNCTION pg_catalog.arraycontains(anyarray, anyarray) LEAKPROOF;
        ALTER FUNCTION pg_catalog.lower(text) LEAKPROOF;
        ALTER FUNCTION pg_catalog.textcat(text, text) LEAKPROOF;
        ALTER FUNCTION extensions.similarity_op(text, text) LEAKPROOF;
        ALTER FUNCTION extensions.word_similarity_op(text, text) LEAKPROOF;
        ALTER FUNCTION extensions.word_similarity_commutator_op(text, text) LEAKPROOF;
    ELSE
        RAISE NOTICE 'not a superuser: search operators stay non-LEAKPROOF, and searches under RLS '
            'read every row of the caller''s agency instead of using the search indexes';
    END IF;
END
$$;

-- The trigram indexes on a person's name indexed `lower(coalesce(first_name, '') || ' ' || coalesce(last_name,
-- ''))`. PostgreSQL treats COALESCE as leaky whatever its arguments, so that expression can never come before
-- the policy. The same key spelled with CASE (which it treats as safe) can; one definition here, used by the
-- indexes and every query that must match them. A SQL function of one expression is inlined by the planner.
CREATE FUNCTION gardenos.name_key(first_name text, last_name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN lower(CASE WHEN first_name IS NULL THEN '' ELSE first_name END || ' '
    || CASE WHEN last_name IS NULL THEN '' ELSE last_name END);
GRANT EXECUTE ON FUNCTION gardenos.name_key(text, text) TO anon, authenticated, service_role;

DROP INDEX public.leads_name_trgm_idx;
CREATE INDEX leads_name_trgm_idx ON public.leads
    USING gin (gardenos.name_key(first_name, last_name) extensions.gin_trgm_ops);
DROP INDEX public.clients_name_trgm_idx;
CREATE INDEX clients_name_trgm_idx ON public.clients
    USING gin (gardenos.name_key(first_name, last_name) extensions.gin_trgm_ops);

CREATE OR REPLACE FUNCTION public.search_leads(query text, max_results integer DEFAULT 20)
RETURNS SETOF public.leads
LANGUAGE sql STABLE AS $$
    SELECT l.* FROM public.leads l
    WHERE gardenos.name_key(l.first_name, l.last_name) OPERATOR(extensions.%) lower(query)
       OR lower(l.company) OPERATOR(extensions.%) lower(query)
    ORDER BY greatest(
        extensions.similarity(gardenos.name_key(l.first_name, l.last_name), lower(query)),
        extensions.similarity(lower(coalesce(l.company, '')), lower(query))) DESC
    LIMIT least(greatest(max_results, 1), 200)
$$;
