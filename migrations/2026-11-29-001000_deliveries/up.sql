-- The delivery outbox: notifications (mail) and webhook calls, written in
-- the same transaction as the action that causes them and sent after
-- commit by the delivery worker of any instance (rows are claimed with
-- FOR UPDATE SKIP LOCKED). A row names what to send, not the text: mail is
-- rendered at delivery time through the recipient's own scope.
CREATE TABLE deliveries (
    id              BIGSERIAL PRIMARY KEY,
    channel         TEXT NOT NULL CHECK (channel IN ('mail', 'webhook')),
    -- Deliveries to one recipient go out in id order: a row waits while an
    -- earlier pending row for the same recipient exists.
    recipient       TEXT NOT NULL,
    event           TEXT NOT NULL,
    ticket_id       BIGINT REFERENCES tickets (id),
    payload         JSONB NOT NULL DEFAULT '{}',
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'failed', 'dropped')),
    attempts        INT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    done_at         TIMESTAMPTZ
);
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_recipient_idx ON deliveries (recipient, id) WHERE status = 'pending';

CREATE TABLE delivery_attempts (
    id          BIGSERIAL PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    ok          BOOLEAN NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts (delivery_id);

-- Which notifications a person gets. No row: the defaults (all on).
CREATE TABLE notification_preferences (
    user_id      BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    public_reply BOOLEAN NOT NULL DEFAULT true,
    resolved     BOOLEAN NOT NULL DEFAULT true,
    assigned     BOOLEAN NOT NULL DEFAULT true,
    escalated    BOOLEAN NOT NULL DEFAULT true,
    new_p1       BOOLEAN NOT NULL DEFAULT true,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
