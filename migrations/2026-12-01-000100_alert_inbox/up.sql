-- The durable inbox of Alertmanager deliveries: the receiver validates a
-- delivery, inserts it here (one row, committed) and answers 202 with the
-- row's id; one applier per cluster (`tickets::inbox`) applies pending rows
-- in id order and stores each one's receipt in the same transaction. A
-- delivery that keeps failing is parked as `failed` after a few attempts,
-- with its error, so it never blocks the ones behind it.
CREATE TABLE alert_inbox (
    id             BIGSERIAL PRIMARY KEY,
    integration_id BIGINT NOT NULL REFERENCES integrations (id) ON DELETE CASCADE,
    external_url   TEXT NOT NULL DEFAULT '',
    -- The validated alerts, in the applier's stored form.
    alerts         JSONB NOT NULL,
    alert_count    INTEGER NOT NULL,
    received_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    state          TEXT NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'applied', 'failed')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    -- When it was applied or parked.
    finished_at    TIMESTAMPTZ,
    -- What it did, alert by alert, once applied.
    receipt        JSONB
);

CREATE INDEX alert_inbox_pending ON alert_inbox (id) WHERE state = 'pending';
CREATE INDEX alert_inbox_failed ON alert_inbox (id) WHERE state = 'failed';
CREATE INDEX alert_inbox_finished ON alert_inbox (finished_at) WHERE state = 'applied';
