-- Realtime broadcast and presence (issue 17): Supabase's `realtime` schema, kept where its clients and
-- policies expect it, plus what several API processes share through the database.
--
-- A topic lives in an agency: `agency_id` scopes every message and presence, so two agencies using the
-- same topic name never see each other's. NULL is the scope of callers without an agency (anon keys).

CREATE SCHEMA realtime;
GRANT USAGE ON SCHEMA realtime TO anon, authenticated, service_role, authenticator;

-- Supabase's columns (topic, extension, payload, event, private, inserted_at, updated_at, id) plus the
-- agency. Rows are broadcasts sent from the database (`realtime.send`), broadcasts too large for a
-- NOTIFY, and the rows that Realtime Authorization policies are written against.
CREATE TABLE realtime.messages (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    agency_id uuid DEFAULT auth.agency_id() REFERENCES public.agencies (id) ON DELETE CASCADE,
    topic text NOT NULL,
    extension text NOT NULL CHECK (extension IN ('broadcast', 'presence')),
    event text,
    payload jsonb,
    private boolean NOT NULL DEFAULT false,
    inserted_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX messages_inserted_at_idx ON realtime.messages (inserted_at);

-- Private channels are authorised by the project's own policies on this table (none: nobody may join
-- one), as Supabase's Realtime Authorization. Whatever they say, a caller never reaches another agency's
-- topics: this restrictive policy is and-ed with them.
ALTER TABLE realtime.messages ENABLE ROW LEVEL SECURITY;
CREATE POLICY messages_own_agency ON realtime.messages AS RESTRICTIVE FOR ALL TO anon, authenticated
    USING (agency_id IS NOT DISTINCT FROM (SELECT auth.agency_id()))
    WITH CHECK (agency_id IS NOT DISTINCT FROM (SELECT auth.agency_id()));
GRANT SELECT, INSERT ON realtime.messages TO anon, authenticated;
GRANT ALL ON realtime.messages TO service_role;

-- The topic being authorised, for policies: `realtime.topic() = 'room:1'`.
CREATE FUNCTION realtime.topic() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('realtime.topic', true), '')
$$;

-- Every API process LISTENs on `gardenos_realtime` (realtime/bus.py). A NOTIFY carries at most 8000
-- bytes: a message past that travels by its id, and each process reads the row.
CREATE FUNCTION realtime.notify_message() RETURNS trigger
LANGUAGE plpgsql AS $$
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
CREATE TRIGGER messages_notify AFTER INSERT ON realtime.messages
    FOR EACH ROW EXECUTE FUNCTION realtime.notify_message();

-- One insert for `send` and `broadcast_changes`, into an agency chosen by them. Not callable by API roles.
CREATE FUNCTION realtime._send(agency uuid, payload jsonb, event text, topic text, private boolean)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
    INSERT INTO realtime.messages (agency_id, payload, event, topic, private, extension)
    VALUES (agency, payload, event, topic, private, 'broadcast');
EXCEPTION WHEN OTHERS THEN
    -- As Supabase's: a broadcast that cannot be sent never fails the transaction that sent it.
    RAISE WARNING 'realtime.send failed: %', SQLERRM;
END
$$;
REVOKE ALL ON FUNCTION realtime._send(uuid, jsonb, text, text, boolean) FROM PUBLIC;

-- Supabase's `realtime.send`: a broadcast to `topic` in the caller's own agency (its current membership,
-- auth.agency_id()), delivered to its subscribers once the transaction commits.
CREATE FUNCTION realtime.send(payload jsonb, event text, topic text, private boolean DEFAULT true)
RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$
    SELECT realtime._send(auth.agency_id(), payload, event, topic, private)
$$;
REVOKE ALL ON FUNCTION realtime.send(jsonb, text, text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realtime.send(jsonb, text, text, boolean) TO anon, authenticated, service_role;

-- Supabase's trigger helper: `PERFORM realtime.broadcast_changes('topic', TG_OP, TG_OP, TG_TABLE_NAME,
-- TG_TABLE_SCHEMA, NEW, OLD)`. Without an agency in the claims (the service role, a job), the row's own
-- `agency_id` scopes it.
CREATE FUNCTION realtime.broadcast_changes(
    topic_name text, event_name text, operation text, table_name text, table_schema text,
    new record, old record, level text DEFAULT 'ROW'
) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
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
REVOKE ALL ON FUNCTION realtime.broadcast_changes(text, text, text, text, text, record, record, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realtime.broadcast_changes(text, text, text, text, text, record, record, text)
    TO anon, authenticated, service_role;

-- Realtime Authorization's probe (realtime/authorization.py): a row the caller's policies are then asked
-- about, in a transaction that is always rolled back. Only the API's login may call it.
CREATE FUNCTION realtime.authorization_probe(agency uuid, topic text, extension text) RETURNS uuid
LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$
    INSERT INTO realtime.messages (agency_id, topic, extension, private)
    VALUES (agency, topic, extension, true) RETURNING id
$$;
REVOKE ALL ON FUNCTION realtime.authorization_probe(uuid, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION realtime.authorization_probe(uuid, text, text) TO authenticator;

-- Presence shared by every API process: who is in each topic, written by the process that holds the
-- connection. A process that stops heartbeating (kill -9) is swept by the others, with its presences.
CREATE TABLE realtime.nodes (
    id uuid PRIMARY KEY,
    seen_at timestamptz NOT NULL DEFAULT now(),
    -- As of the last heartbeat, for `gardenos realtime status`.
    connections integer NOT NULL DEFAULT 0,
    channels integer NOT NULL DEFAULT 0
);
CREATE TABLE realtime.presences (
    ref text PRIMARY KEY,
    node_id uuid NOT NULL REFERENCES realtime.nodes (id) ON DELETE CASCADE,
    agency_id uuid REFERENCES public.agencies (id) ON DELETE CASCADE,
    topic text NOT NULL,
    private boolean NOT NULL,
    key text NOT NULL,
    meta jsonb NOT NULL,
    inserted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX presences_topic_idx ON realtime.presences (topic, agency_id);
CREATE INDEX presences_node_idx ON realtime.presences (node_id);
ALTER TABLE realtime.nodes ENABLE ROW LEVEL SECURITY;
ALTER TABLE realtime.presences ENABLE ROW LEVEL SECURITY;
GRANT ALL ON realtime.nodes, realtime.presences TO service_role;
