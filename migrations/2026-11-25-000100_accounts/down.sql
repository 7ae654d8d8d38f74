DROP INDEX audit_log_actor_idx;
ALTER TABLE audit_log DROP CONSTRAINT audit_log_actor_fkey;
DROP TABLE setup_tokens;
DROP TABLE login_attempts;
DROP TABLE api_tokens;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE organizations;
