-- The review half of the loop: one review per ticket (a draft until
-- submitted), improvement items in one backlog, and each item's history.
-- Every change of an item adds an improvement_events row carrying the
-- item's state after it, so the debt at any past moment is computed exactly
-- from this table.

CREATE TABLE reviews (
    id              BIGSERIAL PRIMARY KEY,
    ticket_id       BIGINT NOT NULL UNIQUE REFERENCES tickets (id),
    reviewer_id     BIGINT NOT NULL REFERENCES users (id),
    status          TEXT NOT NULL CHECK (status IN ('draft', 'submitted')),
    what_happened   TEXT NOT NULL DEFAULT '',
    model_linked    TEXT CHECK (model_linked IN ('yes', 'wrong_model', 'no_model', 'not_needed')),
    model_worked    TEXT CHECK (model_worked IN ('worked', 'step_wrong', 'not_followed')),
    step_detail     TEXT NOT NULL DEFAULT '',
    escalation      TEXT CHECK (escalation IN ('too_early', 'right', 'too_late', 'none_needed')),
    recommendations TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    submitted_at    TIMESTAMPTZ,
    CHECK ((status = 'submitted') = (submitted_at IS NOT NULL)),
    CHECK (status = 'draft' OR (model_linked IS NOT NULL AND model_worked IS NOT NULL AND escalation IS NOT NULL))
);
CREATE INDEX reviews_submitted_idx ON reviews (submitted_at DESC) WHERE status = 'submitted';

-- The review queue: resolved tickets, and closed ones that are not
-- duplicates, without a submitted review. Submitting a review stamps the
-- ticket, so the queue and its count (in every reviewer's navigation) read
-- one small partial index instead of anti-joining all tickets.
ALTER TABLE tickets ADD COLUMN reviewed_at TIMESTAMPTZ;
CREATE INDEX tickets_review_queue_idx ON tickets (created_at, id)
    WHERE status IN ('resolved', 'closed') AND duplicate_of IS NULL AND reviewed_at IS NULL;

CREATE TABLE improvements (
    id                BIGSERIAL PRIMARY KEY,
    title             TEXT NOT NULL CHECK (length(btrim(title)) BETWEEN 1 AND 200),
    details           TEXT NOT NULL DEFAULT '',
    kind              TEXT NOT NULL CHECK (kind IN ('update_model', 'new_model', 'retire_model', 'monitoring', 'automation', 'product_fix', 'process')),
    model_id          BIGINT REFERENCES incident_models (id),
    owner_id          BIGINT REFERENCES users (id),
    due_on            DATE,
    priority          SMALLINT NOT NULL CHECK (priority BETWEEN 1 AND 4),
    status            TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'done', 'wont_do')),
    reason            TEXT NOT NULL DEFAULT '',
    review_id         BIGINT REFERENCES reviews (id),
    ticket_id         BIGINT REFERENCES tickets (id),
    -- The model revision that resolved the item, when a model save did.
    resolved_revision INT,
    created_by        BIGINT NOT NULL REFERENCES users (id),
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (status <> 'wont_do' OR length(btrim(reason)) > 0),
    CHECK (kind NOT IN ('update_model', 'retire_model') OR model_id IS NOT NULL),
    CHECK (resolved_revision IS NULL OR (model_id IS NOT NULL AND status = 'done'))
);
CREATE INDEX improvements_backlog_idx ON improvements (priority, due_on, id);
CREATE INDEX improvements_open_idx ON improvements (priority, due_on) WHERE status IN ('open', 'in_progress');
CREATE INDEX improvements_model_idx ON improvements (model_id);
CREATE INDEX improvements_owner_idx ON improvements (owner_id);
CREATE INDEX improvements_review_idx ON improvements (review_id);

CREATE TABLE improvement_events (
    id             BIGSERIAL PRIMARY KEY,
    improvement_id BIGINT NOT NULL REFERENCES improvements (id),
    actor_id       BIGINT REFERENCES users (id),
    at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- created, edited, priority, status, owner, due, resolved_by_revision
    action         TEXT NOT NULL,
    detail         JSONB NOT NULL DEFAULT '{}'::jsonb,
    -- The item's state after this change.
    priority       SMALLINT NOT NULL CHECK (priority BETWEEN 1 AND 4),
    status         TEXT NOT NULL CHECK (status IN ('open', 'in_progress', 'done', 'wont_do')),
    due_on         DATE
);
CREATE INDEX improvement_events_item_idx ON improvement_events (improvement_id, at, id);
CREATE INDEX improvement_events_at_idx ON improvement_events (at);

-- The debt at the start of each past week, computed exactly from
-- improvement_events and kept: history is appended at now(), so a past
-- week's debt does not change. `last_event` is the newest event id when it
-- was computed; an event added since with an earlier time makes the row
-- stale, and it is computed again.
CREATE TABLE debt_weeks (
    week_start  DATE PRIMARY KEY,
    debt        BIGINT NOT NULL,
    last_event  BIGINT NOT NULL,
    computed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
