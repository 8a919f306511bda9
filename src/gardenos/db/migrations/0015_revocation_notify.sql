-- Revocation reaches every API process within moments: each process caches, per session, whether the
-- session still stands and which role its user holds in the agency the token claims (auth/revocation.py),
-- and evicts a user's entries when this channel names the user. A change that ends or narrows access
-- announces it here: a session deleted (logout, refresh-token reuse, ban, user deletion) or cut short,
-- a user banned or deleted, a membership added, removed or given another role.
--
-- The payload is the user's id (or '*' after a TRUNCATE: forget everything). NOTIFY is sent at commit
-- and folds identical payloads within a transaction, so a statement that deletes a user's hundred
-- sessions sends one notification.
CREATE FUNCTION gardenos.notify_revocation() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    -- The column that holds the user's id: `id` on auth.users, `user_id` elsewhere.
    user_column text := TG_ARGV[0];
BEGIN
    IF TG_LEVEL = 'STATEMENT' THEN
        PERFORM pg_notify('gardenos_revocation', '*');
        RETURN NULL;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        PERFORM pg_notify('gardenos_revocation', to_jsonb(OLD) ->> user_column);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND to_jsonb(NEW) ->> user_column <> to_jsonb(OLD) ->> user_column)
    THEN
        PERFORM pg_notify('gardenos_revocation', to_jsonb(NEW) ->> user_column);
    END IF;
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION gardenos.notify_revocation() FROM PUBLIC;

-- Sessions: deleted, or their end moved. A refresh touches `refreshed_at` only and announces nothing.
CREATE TRIGGER sessions_revocation_delete AFTER DELETE ON auth.sessions
    FOR EACH ROW EXECUTE FUNCTION gardenos.notify_revocation('user_id');
CREATE TRIGGER sessions_revocation_update AFTER UPDATE OF not_after, user_id ON auth.sessions
    FOR EACH ROW WHEN (OLD.not_after IS DISTINCT FROM NEW.not_after OR OLD.user_id <> NEW.user_id)
    EXECUTE FUNCTION gardenos.notify_revocation('user_id');
CREATE TRIGGER sessions_revocation_truncate AFTER TRUNCATE ON auth.sessions
    FOR EACH STATEMENT EXECUTE FUNCTION gardenos.notify_revocation();

-- Users: banned (or unbanned), soft-deleted, deleted. A sign-in updates `last_sign_in_at` and announces
-- nothing. A password change ends no session here (auth/service.py), so it is not announced; were it to
-- delete sessions, those deletions would announce themselves.
CREATE TRIGGER users_revocation_delete AFTER DELETE ON auth.users
    FOR EACH ROW EXECUTE FUNCTION gardenos.notify_revocation('id');
CREATE TRIGGER users_revocation_update AFTER UPDATE OF banned_until, deleted_at ON auth.users
    FOR EACH ROW WHEN (
        OLD.banned_until IS DISTINCT FROM NEW.banned_until OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at
    )
    EXECUTE FUNCTION gardenos.notify_revocation('id');
CREATE TRIGGER users_revocation_truncate AFTER TRUNCATE ON auth.users
    FOR EACH STATEMENT EXECUTE FUNCTION gardenos.notify_revocation();

-- Memberships: added (a cached "not a member" must not outlive it), removed, or another role or agency.
CREATE TRIGGER memberships_revocation_insert_delete AFTER INSERT OR DELETE ON public.memberships
    FOR EACH ROW EXECUTE FUNCTION gardenos.notify_revocation('user_id');
CREATE TRIGGER memberships_revocation_update AFTER UPDATE OF role, agency_id, user_id ON public.memberships
    FOR EACH ROW WHEN (
        OLD.role <> NEW.role OR OLD.agency_id <> NEW.agency_id OR OLD.user_id <> NEW.user_id
    )
    EXECUTE FUNCTION gardenos.notify_revocation('user_id');
CREATE TRIGGER memberships_revocation_truncate AFTER TRUNCATE ON public.memberships
    FOR EACH STATEMENT EXECUTE FUNCTION gardenos.notify_revocation();
