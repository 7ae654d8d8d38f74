-- Triage on arrival, queued: a delivery that opens a ticket from an alert
-- queues its triage here in the same transaction, and the arrival worker
-- (`tickets::arrival`) computes the suggestions and records them after the
-- commit, then deletes the row in its own transaction. So the request does
-- not wait for the search, and a crash between the two leaves the row to
-- be done on the next start, never a ticket silently without suggestions.
CREATE TABLE arrival_triage (
    ticket_id   BIGINT PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    -- The integration's account: the search is recorded as theirs.
    user_id     BIGINT NOT NULL REFERENCES users (id),
    query       TEXT NOT NULL,
    -- A model that declares this alert name (or is named by the runbook
    -- URL) comes first.
    alertname   TEXT NOT NULL DEFAULT '',
    runbook_key TEXT,
    queued_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
