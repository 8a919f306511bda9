-- The text rules of 0024 are asked only of rows that need them. Most rows come tidy (an import writes a
-- million), and a call of a PL/pgSQL trigger function costs far more than looking at the row: measured on
-- 200,000 imported leads, the call alone was ~30 µs of the ~100 µs a row took to write. The trigger's
-- WHEN condition is evaluated by the executor, without calling the function; these checks are SQL
-- functions, which the planner inlines into it (STABLE where they join texts: concat_ws and
-- array_to_string are, and a function said to be IMMUTABLE around them would not be inlined). The same checks choose, inside the function, which rules a
-- row needs, so each lives here once.

-- Among a row's texts joined by U+001F (concat_ws, which leaves out NULLs), one with white space to tidy
-- (at an end, doubled, not a plain space) or blank: one look at all of a row's text.
CREATE FUNCTION gardenos.untidy_texts(texts text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN texts ~ E'(^|\x1f)(\\s|\x1f|$)|\\s(\x1f|$)|\\s\\s|[^\\S ]';

-- A name with no white space to tidy that gardenos.person_name would still change: written in capitals.
CREATE FUNCTION gardenos.shouted_name(name text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN name = upper(name) AND name <> lower(name);

-- An email with no white space to tidy that gardenos.email_address would still change.
CREATE FUNCTION gardenos.untidy_email(email text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN email <> lower(email) OR email LIKE '<%' OR email ILIKE 'mailto:%' OR email LIKE '%.';

-- Tags the rule would change: more than one (one may repeat another), or one blank or with white space
-- at an end. No tags need nothing (0024 rebuilt the empty array as itself, for every imported row).
CREATE FUNCTION gardenos.untidy_tags(tags text[]) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN cardinality(tags) > 1
    OR cardinality(tags) = 1 AND array_to_string(tags, E'\x1f') ~ E'(^|\x1f)(\\s|$)|\\s(\x1f|$)';

-- Tags trimmed, blank ones dropped, each once, in the order first given (0024's rule, now a function of
-- its own, so that tests/integration/contacts/test_text_rules.py can hold the checks above to it).
CREATE FUNCTION gardenos.tidy_tags(tags text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY(
    SELECT t.tag FROM (
        SELECT regexp_replace(x, '^\s+|\s+$', '', 'g') AS tag, min(n) AS first
        FROM unnest(tags) WITH ORDINALITY AS u (x, n) GROUP BY 1
    ) t
    WHERE t.tag <> '' ORDER BY t.first
);

-- A person record any of the rules would change (`source`: NULL for clients, which have none).
CREATE FUNCTION gardenos.untidy_contact(first_name text, last_name text, email text, company text,
    job_title text, website text, city text, country text, source text, tags text[]) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN gardenos.untidy_texts(concat_ws(E'\x1f', first_name, last_name, email, company, job_title, website,
        city, country, source))
    OR gardenos.shouted_name(first_name) OR gardenos.shouted_name(last_name) OR gardenos.untidy_email(email)
    OR gardenos.untidy_tags(tags);

CREATE OR REPLACE FUNCTION gardenos.tidy_contact() RETURNS trigger
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

-- The same events as before (the UPDATE only of these columns), for the rows that need the rules: an
-- UPDATE whose new text is tidy costs no call either, whether it changed the text or not, and one that
-- writes back an untidy text (a row loaded with triggers off) is still tidied.
DROP TRIGGER leads_tidy_contact ON public.leads;
CREATE TRIGGER leads_tidy_contact BEFORE INSERT OR UPDATE OF first_name, last_name, email, company, job_title,
    website, city, country, source, tags ON public.leads
    FOR EACH ROW
    WHEN (gardenos.untidy_contact(NEW.first_name, NEW.last_name, NEW.email, NEW.company, NEW.job_title,
        NEW.website, NEW.city, NEW.country, NEW.source, NEW.tags))
    EXECUTE FUNCTION gardenos.tidy_contact();
DROP TRIGGER clients_tidy_contact ON public.clients;
CREATE TRIGGER clients_tidy_contact BEFORE INSERT OR UPDATE OF first_name, last_name, email, company,
    job_title, website, city, country, tags ON public.clients
    FOR EACH ROW
    WHEN (gardenos.untidy_contact(NEW.first_name, NEW.last_name, NEW.email, NEW.company, NEW.job_title,
        NEW.website, NEW.city, NEW.country, NULL, NEW.tags))
    EXECUTE FUNCTION gardenos.tidy_contact();
