-- A refused ticket-page form redirects to the ticket (so the address bar is
-- the ticket's, and a reload does not post again); the reason and what was
-- typed wait here for that one page view. A row is taken once, by the same
-- person on the same ticket, within ten minutes (older rows are deleted as
-- new ones are written). The token is in a cookie; only its hash is stored.
CREATE TABLE form_flashes (
    id         BIGSERIAL PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    ticket_id  BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    field      TEXT NOT NULL,
    message    TEXT NOT NULL,
    draft      JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX form_flashes_created_idx ON form_flashes (created_at);

-- "Recent escalations to me" on the home page, and "my tickets".
CREATE INDEX escalations_to_user_idx ON escalations (to_user_id, created_at)
    WHERE to_user_id IS NOT NULL;
