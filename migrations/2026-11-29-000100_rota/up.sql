-- The weekly triage rota: who triages each week (weeks start on Monday),
-- recorded swaps with who agreed, per-person secret calendar feeds, and the
-- sampled triage reviews that give each week its triage-quality score.

CREATE TABLE rota_weeks (
    week_start  DATE PRIMARY KEY CHECK (extract(isodow FROM week_start) = 1),
    triager_id  BIGINT NOT NULL REFERENCES users (id),
    assigned_by BIGINT REFERENCES users (id),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX rota_weeks_triager_idx ON rota_weeks (triager_id, week_start);

CREATE TABLE rota_swaps (
    id          BIGSERIAL PRIMARY KEY,
    week_a      DATE NOT NULL,
    week_b      DATE NOT NULL,
    -- Who had each week before the swap.
    user_a      BIGINT NOT NULL REFERENCES users (id),
    user_b      BIGINT NOT NULL REFERENCES users (id),
    agreed_by   BIGINT NOT NULL REFERENCES users (id),
    recorded_by BIGINT NOT NULL REFERENCES users (id),
    at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (week_a <> week_b)
);
CREATE INDEX rota_swaps_weeks_idx ON rota_swaps (week_a, week_b);

-- Only the hash of a feed's secret is kept; the URL is shown once.
CREATE TABLE calendar_feeds (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE triage_reviews (
    id                 BIGSERIAL PRIMARY KEY,
    ticket_id          BIGINT NOT NULL UNIQUE REFERENCES tickets (id),
    week_start         DATE NOT NULL,
    triager_id         BIGINT NOT NULL REFERENCES users (id),
    reviewer_id        BIGINT NOT NULL REFERENCES users (id),
    right_model        TEXT NOT NULL CHECK (right_model IN ('yes', 'no', 'na')),
    duplicates_checked TEXT NOT NULL CHECK (duplicates_checked IN ('yes', 'no', 'na')),
    searches_good      TEXT NOT NULL CHECK (searches_good IN ('yes', 'no', 'na')),
    reply_fast         TEXT NOT NULL CHECK (reply_fast IN ('yes', 'no', 'na')),
    escalated_right    TEXT NOT NULL CHECK (escalated_right IN ('yes', 'no', 'na')),
    comment            TEXT NOT NULL DEFAULT '',
    -- Percent of the answered questions graded "yes".
    score              SMALLINT CHECK (score BETWEEN 0 AND 100),
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX triage_reviews_week_idx ON triage_reviews (week_start);
-- Who moved a ticket to triaged, and when: the sample's candidates.
CREATE INDEX ticket_transitions_triaged_idx ON ticket_transitions (by_id, at) WHERE to_status = 'triaged';
