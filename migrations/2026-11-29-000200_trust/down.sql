DROP TRIGGER users_access_changed ON users;
DROP TRIGGER api_tokens_access_changed ON api_tokens;
DROP TRIGGER sessions_access_changed ON sessions;
DROP FUNCTION casebook_access_changed();
DROP INDEX search_outbox_txid_idx;
ALTER TABLE search_outbox DROP COLUMN txid;
