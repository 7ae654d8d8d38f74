-- What a triager searched for on a ticket, what came back and what was
-- picked, so the next person can improve on it.
CREATE TABLE triage_searches (
    id         BIGSERIAL PRIMARY KEY,
    ticket_id  BIGINT NOT NULL REFERENCES tickets (id),
    user_id    BIGINT NOT NULL REFERENCES users (id),
    query      TEXT NOT NULL,
    results    JSONB NOT NULL DEFAULT '[]'::jsonb,
    picked     TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX triage_searches_ticket_idx ON triage_searches (ticket_id, id);
