-- Each API process's row in realtime.nodes is a lease it renews: it says until when it counts as alive,
-- so a process is swept by the lease it took, not by the sweeper's setting (two processes with
-- different `realtime_node_timeout_s` never sweep each other early).
ALTER TABLE realtime.nodes ADD COLUMN expires_at timestamptz NOT NULL DEFAULT now() + interval '30 seconds';

-- Websocket connections per agency, across every API process: `realtime_max_connections_per_agency`
-- holds for the whole deployment, not per process (two processes would double it). A connection counts
-- once toward each agency it joined a channel in; its row goes when it leaves that agency's last
-- channel, when its process stops (the node's row), or with its process's lease (kill -9).
CREATE TABLE realtime.connections (
    node_id uuid NOT NULL REFERENCES realtime.nodes (id) ON DELETE CASCADE,
    tag text NOT NULL,
    agency_id uuid REFERENCES public.agencies (id) ON DELETE CASCADE,
    UNIQUE NULLS NOT DISTINCT (tag, agency_id)
);
CREATE INDEX connections_agency_idx ON realtime.connections (agency_id);
CREATE INDEX connections_node_idx ON realtime.connections (node_id);
ALTER TABLE realtime.connections ENABLE ROW LEVEL SECURITY;
GRANT ALL ON realtime.connections TO service_role;
