-- Mail in. A mail gateway token is an API token of kind 'mailgate': it is
-- good for POST /api/v1/mail only.
ALTER TABLE api_tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'personal'
    CHECK (kind IN ('personal', 'mailgate'));

-- Senders with no account whose address is at one of these domains open
-- tickets for the organization (a customer account is made for them).
CREATE TABLE mail_domains (
    domain          TEXT PRIMARY KEY CHECK (domain = lower(domain) AND length(domain) BETWEEN 3 AND 253),
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Messages already taken in, by Message-ID: an MTA that retries after a
-- lost answer does not make a second entry.
CREATE TABLE inbound_messages (
    message_id  TEXT PRIMARY KEY,
    ticket_id   BIGINT REFERENCES tickets (id),
    entry_id    BIGINT REFERENCES journal_entries (id),
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Files kept with a ticket (from mail, or uploaded on the ticket page). The
-- entry they came with decides who may read them (its visibility).
CREATE TABLE attachments (
    id           BIGSERIAL PRIMARY KEY,
    ticket_id    BIGINT NOT NULL REFERENCES tickets (id),
    entry_id     BIGINT REFERENCES journal_entries (id),
    filename     TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size         INT NOT NULL,
    data         BYTEA NOT NULL,
    created_by   BIGINT REFERENCES users (id),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX attachments_ticket_idx ON attachments (ticket_id);
