-- Mails that a business transaction decided to send (a follow-up a person approved), written in that same
-- transaction and sent after its commit, once (gardenos.mail.sender). A commit that fails takes its mail
-- with it; a mail is claimed (`sending`, committed) before it is handed to the mail server, so neither a
-- retry nor a second sender hands it over again. A sender that died between handing it over and recording
-- that leaves it `unconfirmed`: it may have left, so it is never sent again by itself.
--
-- The row's id is the mail's idempotency key: its Message-ID is <id@sender's domain>, the same at every
-- attempt, so a mail system that sees it twice (a person resending an `unconfirmed` mail) knows it is one.
--
-- Not in `public` (no /rest/v1 door): `authenticated` may only add a mail for an email activity of its
-- agency that is done, to that activity's lead or client; the senders run as service_role.

CREATE TABLE gardenos.outgoing_mail (
    id uuid PRIMARY KEY,
    agency_id uuid NOT NULL REFERENCES public.agencies (id) ON DELETE CASCADE,
    -- One mail per approved activity: approving is a one-way step from `draft`.
    activity_id uuid NOT NULL UNIQUE,
    to_address text NOT NULL,
    subject text NOT NULL,
    text_body text NOT NULL,
    html_body text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('follow_up')),
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'unconfirmed')),
    attempts integer NOT NULL DEFAULT 0,
    run_after timestamptz NOT NULL DEFAULT now(),
    claimed_at timestamptz,
    sent_at timestamptz,
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now()
);
-- The senders' sweep: what is due.
CREATE INDEX outgoing_mail_due_idx ON gardenos.outgoing_mail (run_after) WHERE status = 'pending';
CREATE INDEX outgoing_mail_agency_idx ON gardenos.outgoing_mail (agency_id);

ALTER TABLE gardenos.outgoing_mail ENABLE ROW LEVEL SECURITY;
CREATE POLICY outgoing_mail_insert ON gardenos.outgoing_mail FOR INSERT TO authenticated
WITH CHECK (
    agency_id = (SELECT auth.agency_id())
    AND EXISTS (
        SELECT FROM public.activities a
        LEFT JOIN public.leads l ON l.id = a.lead_id
        LEFT JOIN public.clients c ON c.id = a.client_id
        WHERE a.id = activity_id AND a.agency_id = outgoing_mail.agency_id
          AND a.kind = 'email' AND a.status = 'done'
          AND coalesce(l.email, c.email) = to_address
    )
);
GRANT INSERT ON gardenos.outgoing_mail TO authenticated;
GRANT SELECT, UPDATE ON gardenos.outgoing_mail TO service_role;
