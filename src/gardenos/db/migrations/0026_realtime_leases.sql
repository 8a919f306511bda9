-- Each API process's row in realtime.nodes is a lease it renews: it says until when it counts as alive,
-- so a process is swept by the lease it took, not by the sweeper's setting (two processes with
-- different `realtime_node_timeout_s` never sweep each other early).
ALTER TABLE realtime.nodes ADD COLUMN expires_at timestamptz NOT NULL DEFAULT now() + interval '30 seconds';
