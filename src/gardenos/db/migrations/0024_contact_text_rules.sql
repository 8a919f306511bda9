-- One rule for the text of a person record (lead or client), applied by the database on every INSERT and
-- UPDATE, so that every door stores the same row for the same person: /api/v1, the importer, the agents,
-- conversion and merge, and /rest/v1, which writes the tables directly (supabase-js, supabase-py). These
-- rules need nothing but the text itself; the phone (E.164 in the agency's region) needs libphonenumber's
-- metadata and stays with the Python doors (crm/normalize.py).

-- Trimmed, inner runs of white space made one space; blank is no value.
CREATE FUNCTION gardenos.tidy_text(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN nullif(regexp_replace(regexp_replace(value, '\s+', ' ', 'g'), '^ | $', '', 'g'), '');

-- One part of a shouted name in capitals: "O'BRIEN" -> "O'Brien", "MCDONALD" -> "McDonald".
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

-- A person's name tidied, and de-shouted when written all in capitals ("JOHN SMITH" -> "John Smith",
-- "VAN DER BERG" -> "van der Berg"): names in mixed case are kept as written ("McDonald", "Zoë
-- Müller-Łukasiewicz"). Lower-case particles only before the surname.
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

-- An email address as stored: trimmed (also of "mailto:" and "<…>"), its domain lower-cased (the local
-- part keeps its case: mail servers may distinguish it). Checking that it is an address at all is the
-- doors' (crm/normalize.py's normalize_email, with a message a person can act on); its normal form is
-- this one, and tests/integration/contacts/test_text_rules.py checks that the two agree.
CREATE FUNCTION gardenos.email_address(value text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path TO ''
AS $$
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
$$;

-- Most rows come tidy (the importer and /api/v1 send them so, and an import writes a million): one look
-- at all their text first, and the rules above only for what needs them.
CREATE FUNCTION gardenos.tidy_contact() RETURNS trigger
LANGUAGE plpgsql
SET search_path TO ''
AS $$
DECLARE
    texts text := concat_ws(E'\x1f', NEW.first_name, NEW.last_name, NEW.email, NEW.company, NEW.job_title,
        NEW.website, NEW.city, NEW.country);
BEGIN
    IF TG_TABLE_NAME = 'leads' THEN
        texts := concat_ws(E'\x1f', texts, NEW.source);
    END IF;
    -- A field with white space to tidy (at an end, doubled, not a plain space) or blank.
    IF texts ~ E'(^|\x1f)(\\s|\x1f|$)|\\s(\x1f|$)|\\s\\s|[^\\S ]' THEN
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
        IF NEW.first_name = upper(NEW.first_name) THEN
            NEW.first_name := gardenos.person_name(NEW.first_name);
        END IF;
        IF NEW.last_name = upper(NEW.last_name) THEN
            NEW.last_name := gardenos.person_name(NEW.last_name);
        END IF;
        IF NEW.email <> lower(NEW.email) OR NEW.email LIKE '<%' OR NEW.email ILIKE 'mailto:%'
            OR NEW.email LIKE '%.' THEN
            NEW.email := gardenos.email_address(NEW.email);
        END IF;
    END IF;
    -- Tags trimmed, blank ones dropped, each once, in the order first given.
    IF cardinality(NEW.tags) > 1
        OR array_to_string(NEW.tags, E'\x1f') ~ E'(^|\x1f)(\\s|$)|\\s(\x1f|$)' THEN
        NEW.tags := ARRAY(
            SELECT t.tag FROM (
                SELECT regexp_replace(x, '^\s+|\s+$', '', 'g') AS tag, min(n) AS first
                FROM unnest(NEW.tags) WITH ORDINALITY AS u (x, n) GROUP BY 1
            ) t
            WHERE t.tag <> '' ORDER BY t.first
        );
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER leads_tidy_contact BEFORE INSERT OR UPDATE OF first_name, last_name, email, company, job_title,
    website, city, country, source, tags ON public.leads
    FOR EACH ROW EXECUTE FUNCTION gardenos.tidy_contact();
CREATE TRIGGER clients_tidy_contact BEFORE INSERT OR UPDATE OF first_name, last_name, email, company,
    job_title, website, city, country, tags ON public.clients
    FOR EACH ROW EXECUTE FUNCTION gardenos.tidy_contact();
