-- Tickets left out of every report measure (game days, tests). A row here
-- is the exclusion; removing it brings the ticket back. Both are journaled
-- on the ticket by the service that writes this table.
CREATE TABLE metric_exclusions (
    ticket_id  BIGINT PRIMARY KEY REFERENCES tickets (id),
    reason     TEXT NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 200),
    by_id      BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Reports read transitions by status and time (resolved in a period),
-- links and escalations by time.
CREATE INDEX ticket_transitions_to_status_idx ON ticket_transitions (to_status, at);
CREATE INDEX tickets_created_idx ON tickets (created_at);
