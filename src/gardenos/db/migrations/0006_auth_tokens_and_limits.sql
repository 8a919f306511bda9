-- One-time tokens (confirmation, magic link, recovery, invite, email change) and request rate limits.

ALTER TABLE auth.users ADD COLUMN invited_at timestamptz;
-- How the session was started (password, otp, magiclink, recovery, invite…): the JWT's `amr` claim.
ALTER TABLE auth.sessions ADD COLUMN amr text NOT NULL DEFAULT 'password';

-- Each token has two secrets, both stored only as SHA-256 hashes: a random link token (the `token`
-- of the emailed link) and a 6-digit code bound to the email address (typed in by the user, so it is
-- also rate-limited). A newer token of a type replaces the older one for that user.
CREATE TABLE auth.one_time_tokens (
    id uuid PRIMARY KEY DEFAULT uuidv7(),
    user_id uuid NOT NULL REFERENCES auth.users (id) ON DELETE CASCADE,
    token_type text NOT NULL
        CHECK (token_type IN ('signup', 'invite', 'magiclink', 'recovery', 'email_change')),
    link_hash text NOT NULL UNIQUE,
    code_hash text NOT NULL,
    relates_to text NOT NULL,
    redirect_to text,
    expires_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT one_time_tokens_user_type_key UNIQUE (user_id, token_type)
);
CREATE INDEX one_time_tokens_relates_to_idx ON auth.one_time_tokens (lower(relates_to), token_type);
ALTER TABLE auth.one_time_tokens ENABLE ROW LEVEL SECURITY;
GRANT ALL ON auth.one_time_tokens TO service_role;

-- Fixed-window counters, shared by every API process (a limit kept in memory would be per process).
CREATE UNLOGGED TABLE auth.rate_limits (
    key text PRIMARY KEY,
    window_start timestamptz NOT NULL,
    hits integer NOT NULL
);
ALTER TABLE auth.rate_limits ENABLE ROW LEVEL SECURITY;
GRANT ALL ON auth.rate_limits TO service_role;
