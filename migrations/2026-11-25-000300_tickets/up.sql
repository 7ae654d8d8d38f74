-- Tickets and their journal. The journal is append-only: status changes,
-- assignments, model links, escalations and triage are entries too.

CREATE TABLE tickets (
    id              BIGSERIAL PRIMARY KEY,
    title           TEXT NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
    description     TEXT NOT NULL DEFAULT '',
    requester_id    BIGINT NOT NULL REFERENCES users (id),
    organization_id BIGINT REFERENCES organizations (id),
    priority        SMALLINT NOT NULL CHECK (priority BETWEEN 1 AND 4),
    category        TEXT NOT NULL DEFAULT '',
    assignee_id     BIGINT REFERENCES users (id),
    status          TEXT NOT NULL DEFAULT 'new'
                    CHECK (status IN ('new', 'triaged', 'in_progress', 'waiting_on_customer', 'resolved', 'closed')),
    duplicate_of    BIGINT REFERENCES tickets (id),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (duplicate_of IS NULL OR duplicate_of <> id)
);
CREATE INDEX tickets_queue_idx ON tickets (status, priority, created_at);
CREATE INDEX tickets_org_idx ON tickets (organization_id);
CREATE INDEX tickets_assignee_idx ON tickets (assignee_id);
CREATE INDEX tickets_duplicate_idx ON tickets (duplicate_of);

-- The time of every transition.
CREATE TABLE ticket_transitions (
    id          BIGSERIAL PRIMARY KEY,
    ticket_id   BIGINT NOT NULL REFERENCES tickets (id),
    from_status TEXT,
    to_status   TEXT NOT NULL,
    by_id       BIGINT REFERENCES users (id),
    at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX ticket_transitions_ticket_idx ON ticket_transitions (ticket_id, id);

CREATE TABLE journal_entries (
    id         BIGSERIAL PRIMARY KEY,
    ticket_id  BIGINT NOT NULL REFERENCES tickets (id),
    author_id  BIGINT REFERENCES users (id),
    kind       TEXT NOT NULL
               CHECK (kind IN ('reply', 'note', 'status_change', 'assignment', 'model_link', 'escalation', 'triage', 'system')),
    visibility TEXT NOT NULL CHECK (visibility IN ('internal', 'public')),
    body       TEXT NOT NULL DEFAULT '',
    data       JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX journal_entries_ticket_idx ON journal_entries (ticket_id, id);

-- A ticket's use of an incident model, pinned to the revision used. A row
-- without a model records "no model fits" and what was missing.
CREATE TABLE ticket_models (
    id         BIGSERIAL PRIMARY KEY,
    ticket_id  BIGINT NOT NULL REFERENCES tickets (id),
    model_id   BIGINT REFERENCES incident_models (id),
    revision   INT,
    outcome    TEXT NOT NULL CHECK (outcome IN ('resolved', 'partial', 'no_fit')),
    missing    TEXT NOT NULL DEFAULT '',
    linked_by  BIGINT REFERENCES users (id),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((model_id IS NULL) = (outcome = 'no_fit')),
    CHECK (model_id IS NULL OR revision IS NOT NULL)
);
CREATE INDEX ticket_models_ticket_idx ON ticket_models (ticket_id);
CREATE INDEX ticket_models_model_idx ON ticket_models (model_id);

CREATE TABLE escalations (
    id             BIGSERIAL PRIMARY KEY,
    ticket_id      BIGINT NOT NULL REFERENCES tickets (id),
    from_id        BIGINT NOT NULL REFERENCES users (id),
    to_user_id     BIGINT REFERENCES users (id),
    to_team        TEXT NOT NULL DEFAULT '',
    followed_model TEXT NOT NULL CHECK (followed_model IN ('yes', 'no', 'no_model')),
    step_reached   INT,
    reason         TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (to_user_id IS NOT NULL OR to_team <> '')
);
CREATE INDEX escalations_ticket_idx ON escalations (ticket_id);
