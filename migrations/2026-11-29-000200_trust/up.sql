-- The search indexer reads the outbox in commit order, not id order: ids
-- are taken at insert, transactions commit later and out of order, so a
-- reader that remembers "the last id applied" skips a row that commits
-- after a higher id was applied. Each row records its transaction; the
-- indexer applies rows whose transaction is older than every transaction
-- still running (all of them have ended) and remembers that horizon.
ALTER TABLE search_outbox ADD COLUMN txid BIGINT NOT NULL DEFAULT txid_current();
CREATE INDEX search_outbox_txid_idx ON search_outbox (txid, id);

-- Open event streams end when their viewer's access changes: a session
-- ends, a token is revoked, a user is disabled, demoted or moved to
-- another organization. The notification names the user and is delivered
-- to every instance when the change commits.
CREATE FUNCTION casebook_access_changed() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('casebook_access', OLD.user_id::text);
        RETURN OLD;
    END IF;
    IF TG_TABLE_NAME = 'users' THEN
        IF NEW.role IS DISTINCT FROM OLD.role
           OR NEW.organization_id IS DISTINCT FROM OLD.organization_id
           OR NEW.disabled IS DISTINCT FROM OLD.disabled THEN
            PERFORM pg_notify('casebook_access', NEW.id::text);
        END IF;
    ELSIF NEW.revoked_at IS DISTINCT FROM OLD.revoked_at THEN
        PERFORM pg_notify('casebook_access', NEW.user_id::text);
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER sessions_access_changed AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION casebook_access_changed();
CREATE TRIGGER api_tokens_access_changed AFTER UPDATE OR DELETE ON api_tokens
    FOR EACH ROW EXECUTE FUNCTION casebook_access_changed();
CREATE TRIGGER users_access_changed AFTER UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION casebook_access_changed();
