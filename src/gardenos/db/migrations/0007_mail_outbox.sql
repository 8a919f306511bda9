-- The development mail outbox: without an SMTP server, the auth API stores each mail here and
-- `gardenos mail list` shows it. It holds other users' sign-in links and codes, so it is the owner's
-- alone: RLS on with no policy, and no grant to anon, authenticated, service_role or authenticator.

CREATE TABLE gardenos.mail_outbox (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    to_address text NOT NULL,
    subject text NOT NULL,
    text_body text NOT NULL,
    html_body text NOT NULL,
    kind text NOT NULL
        CHECK (kind IN ('confirmation', 'magic_link', 'otp', 'recovery', 'email_change', 'invite')),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX mail_outbox_to_created_idx ON gardenos.mail_outbox (to_address, created_at DESC);
ALTER TABLE gardenos.mail_outbox ENABLE ROW LEVEL SECURITY;
