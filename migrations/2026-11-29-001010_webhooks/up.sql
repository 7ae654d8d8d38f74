-- Outgoing webhooks: an admin subscribes a URL to event types. Deliveries
-- go through the `deliveries` outbox (recipient 'webhook:<id>').
CREATE TABLE webhook_subscriptions (
    id                    BIGSERIAL PRIMARY KEY,
    url                   TEXT NOT NULL CHECK (length(url) BETWEEN 8 AND 2000),
    events                TEXT[] NOT NULL,
    secret                TEXT NOT NULL,
    customer_visible_only BOOLEAN NOT NULL DEFAULT false,
    format                TEXT NOT NULL DEFAULT 'json' CHECK (format IN ('json', 'slack')),
    -- Only this organization's tickets (a customer's own channel).
    organization_id       BIGINT REFERENCES organizations (id),
    active                BOOLEAN NOT NULL DEFAULT true,
    created_by            BIGINT REFERENCES users (id),
    created_at            TIMESTAMPTZ NOT NULL DEFAULT now()
);
