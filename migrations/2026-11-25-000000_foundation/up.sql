-- The audit log: who did what to which thing, kept forever. Actors and
-- subjects are named by kind and id so that every later table can log here.
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    actor_id    BIGINT,
    action      TEXT NOT NULL CHECK (action <> ''),
    subject     TEXT NOT NULL DEFAULT '',
    client_addr TEXT,
    detail      JSONB NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX audit_log_at_idx ON audit_log (at DESC);
