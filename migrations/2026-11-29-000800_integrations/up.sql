-- Alert intake (issue 14). An integration is one alert source (an
-- Alertmanager, a Grafana, a script) with its own bearer token (stored
-- hashed, like API tokens) and the defaults of the tickets it opens. It
-- acts through its own account (`user_id`): a disabled engineer account that
-- nobody can sign in as, named after the integration, so tickets, journal
-- entries and recorded triage searches say where they came from.
CREATE TABLE integrations (
    id                 BIGSERIAL PRIMARY KEY,
    name               TEXT NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 80),
    token_hash         TEXT NOT NULL UNIQUE,
    prefix             TEXT NOT NULL,
    user_id            BIGINT NOT NULL REFERENCES users (id),
    organization_id    BIGINT REFERENCES organizations (id),
    default_priority   SMALLINT NOT NULL DEFAULT 3 CHECK (default_priority BETWEEN 1 AND 4),
    default_category   TEXT NOT NULL DEFAULT '',
    -- The alert label whose value picks the priority, and the value → P1..P4 map.
    priority_label     TEXT NOT NULL DEFAULT 'severity',
    priority_map       JSONB NOT NULL DEFAULT '{"critical": 1, "warning": 3, "info": 4}'::jsonb,
    -- The alert label whose value is the category ('' = always the default).
    category_label     TEXT NOT NULL DEFAULT '',
    resolve_on_resolved BOOLEAN NOT NULL DEFAULT true,
    -- A resolved ticket whose alert fires again within this many minutes of
    -- its resolution is reopened; later, a new ticket is opened.
    reopen_window_minutes INT NOT NULL DEFAULT 1440 CHECK (reopen_window_minutes BETWEEN 0 AND 525600),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at       TIMESTAMPTZ,
    revoked_at         TIMESTAMPTZ
);

-- One row per alert an integration has reported, keyed by its fingerprint
-- (Alertmanager's, or the generic intake's dedup key). The unique key is
-- what makes the intake idempotent: concurrent deliveries of one alert
-- meet on this row (inserted ON CONFLICT DO NOTHING, then locked FOR
-- UPDATE) and only the first opens a ticket.
CREATE TABLE alerts (
    id              BIGSERIAL PRIMARY KEY,
    integration_id  BIGINT NOT NULL REFERENCES integrations (id),
    fingerprint     TEXT NOT NULL CHECK (length(fingerprint) BETWEEN 1 AND 200),
    group_key       TEXT NOT NULL DEFAULT '',
    alertname       TEXT NOT NULL DEFAULT '',
    -- NULL only inside the transaction that first sees the alert.
    ticket_id       BIGINT REFERENCES tickets (id),
    status          TEXT NOT NULL DEFAULT 'firing' CHECK (status IN ('firing', 'resolved')),
    -- The firings seen for the current ticket (1 when it was opened).
    fire_count      INT NOT NULL DEFAULT 0,
    -- When the current firing started (Alertmanager's startsAt): a
    -- notification with the same start is a repeat of one already counted.
    starts_at       TIMESTAMPTZ,
    ends_at         TIMESTAMPTZ,
    received        BIGINT NOT NULL DEFAULT 0,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (integration_id, fingerprint)
);
CREATE INDEX alerts_ticket_idx ON alerts (ticket_id);
