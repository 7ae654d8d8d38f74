-- Facts per model link and per recorded search, and the per-model monthly
-- use counts, kept by the same refresh as `ticket_report_facts` (in the
-- writer's statement and transaction), so model health and the search
-- analytics read small tables instead of joining every link or search to
-- the ticket facts and taking JSON apart on each request. Each kept table
-- has one definition, a `*_source` view; the refresh rewrites the rows of
-- the touched tickets from it, and only where they differ.

-- One row per ticket and model (`ticket_models_once_idx` allows one link
-- per pair: a relink changes its outcome, not its time), with what the
-- filters and model health read about the ticket.
CREATE TABLE ticket_link_facts (
    ticket_id       BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    model_id        BIGINT NOT NULL,
    outcome         TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL,
    category        TEXT NOT NULL,
    priority        SMALLINT NOT NULL,
    organization_id BIGINT,
    assignee_id     BIGINT,
    excluded        BOOLEAN NOT NULL,
    resolved_at     TIMESTAMPTZ,
    resolve_secs    BIGINT,
    PRIMARY KEY (ticket_id, model_id)
);
CREATE INDEX ticket_link_facts_created_idx ON ticket_link_facts (created_at) WHERE NOT excluded;
CREATE INDEX ticket_link_facts_resolved_idx ON ticket_link_facts (resolved_at)
    WHERE NOT excluded AND resolved_at IS NOT NULL;
CREATE INDEX ticket_link_facts_model_idx ON ticket_link_facts (model_id, created_at) WHERE NOT excluded;
CREATE INDEX ticket_link_facts_org_idx ON ticket_link_facts (organization_id, created_at) WHERE NOT excluded;
CREATE INDEX ticket_link_facts_assignee_idx ON ticket_link_facts (assignee_id, created_at) WHERE NOT excluded;

CREATE VIEW ticket_link_facts_source AS
SELECT tm.ticket_id, tm.model_id, tm.outcome, tm.created_at,
       f.category, f.priority, f.organization_id, f.assignee_id, f.excluded,
       f.resolved_at, f.resolve_secs
FROM ticket_models tm JOIN ticket_report_facts f ON f.ticket_id = tm.ticket_id
WHERE tm.model_id IS NOT NULL;

-- Counted links (of tickets not excluded) per model, UTC calendar month of
-- the link, and the ticket's category and priority: how many, and the
-- latest. A model's uses before any instant are the whole months before
-- it from here plus the rest from `ticket_link_facts` (at most a month),
-- so any period bound (midnight in any zone) is served exactly.
CREATE TABLE model_use_months (
    model_id BIGINT NOT NULL,
    month    TIMESTAMPTZ NOT NULL,
    category TEXT NOT NULL,
    priority SMALLINT NOT NULL,
    uses     BIGINT NOT NULL,
    last_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (model_id, month, category, priority)
);

-- One row per recorded search, with the rank of the picked result and the
-- words of a search that found nothing taken out of the JSON once.
CREATE TABLE triage_search_facts (
    search_id       BIGINT PRIMARY KEY REFERENCES triage_searches (id) ON DELETE CASCADE,
    ticket_id       BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    created_at      TIMESTAMPTZ NOT NULL,
    category        TEXT NOT NULL,
    priority        SMALLINT NOT NULL,
    organization_id BIGINT,
    assignee_id     BIGINT,
    excluded        BOOLEAN NOT NULL,
    empty           BOOLEAN NOT NULL,
    picked          BOOLEAN NOT NULL,
    -- 1-based position of the picked key among the results; NULL when
    -- nothing was picked or the pick was not listed.
    rank            INT,
    -- Lowercased words (3 characters or more) of a search that found
    -- nothing; empty otherwise.
    words           TEXT[] NOT NULL
);
CREATE INDEX triage_search_facts_ticket_idx ON triage_search_facts (ticket_id);
CREATE INDEX triage_search_facts_created_idx ON triage_search_facts (created_at) WHERE NOT excluded;

CREATE VIEW triage_search_facts_source AS
SELECT s.id AS search_id, s.ticket_id, s.created_at,
       f.category, f.priority, f.organization_id, f.assignee_id, f.excluded,
       jsonb_array_length(r.results) = 0 AS empty,
       s.picked IS NOT NULL AS picked,
       (SELECT min(e.ord) FROM jsonb_array_elements(r.results) WITH ORDINALITY AS e(v, ord)
        WHERE e.v ->> 'key' = s.picked)::int4 AS rank,
       CASE WHEN jsonb_array_length(r.results) = 0
            THEN ARRAY(SELECT w FROM regexp_split_to_table(lower(s.query), '[^a-z0-9]+') AS w
                       WHERE length(w) >= 3)
            ELSE '{}'::text[] END AS words
FROM triage_searches s
JOIN ticket_report_facts f ON f.ticket_id = s.ticket_id
CROSS JOIN LATERAL (
    SELECT CASE WHEN jsonb_typeof(s.results) = 'array' THEN s.results ELSE '[]'::jsonb END AS results
) r;

-- Recounts the given (model, month) rows of `model_use_months` from the
-- link facts. Each (model, month) is locked first (a transaction advisory
-- lock, in key order, since the row may not exist yet) and counted by the
-- next statements, which see what other writers of the same month
-- committed meanwhile: two transactions adding links to one model in one
-- month take turns instead of each writing a count without the other's.
CREATE FUNCTION model_use_months_recount(models BIGINT[], months TIMESTAMPTZ[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    key BIGINT;
BEGIN
    FOR key IN
        SELECT DISTINCT hashtextextended(
            'model_use_months ' || m.model_id || ' ' || extract(epoch FROM m.month)::int8, 0)
        FROM unnest(models, months) AS m(model_id, month) ORDER BY 1
    LOOP
        PERFORM pg_advisory_xact_lock(key);
    END LOOP;
    DELETE FROM model_use_months u
    WHERE (u.model_id, u.month) IN (SELECT * FROM unnest(models, months));
    INSERT INTO model_use_months (model_id, month, category, priority, uses, last_at)
    SELECT l.model_id, k.month, l.category, l.priority, count(*), max(l.created_at)
    FROM (SELECT DISTINCT * FROM unnest(models, months)) AS k(model_id, month)
    JOIN ticket_link_facts l ON l.model_id = k.model_id AND NOT l.excluded
         AND l.created_at >= k.month
         AND l.created_at < ((k.month AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC'
    GROUP BY l.model_id, k.month, l.category, l.priority;
END $$;

CREATE OR REPLACE FUNCTION report_facts_refresh(ids BIGINT[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    models BIGINT[];
    months TIMESTAMPTZ[];
BEGIN
    IF cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM tickets WHERE id = ANY (ids) ORDER BY id FOR NO KEY UPDATE;
    INSERT INTO ticket_report_facts AS f
        (ticket_id, opened_at, title_key, category, priority, organization_id, assignee_id,
         duplicate, excluded, resolved_at, resolve_secs, best_outcome, triaged_at, triaged_by,
         triage_secs, first_reply_at, reply_secs, escalations, reopens, searches)
    SELECT ticket_id, opened_at, title_key, category, priority, organization_id, assignee_id,
           duplicate, excluded, resolved_at, resolve_secs, best_outcome, triaged_at, triaged_by,
           triage_secs, first_reply_at, reply_secs, escalations, reopens, searches
    FROM ticket_report_facts_source WHERE ticket_id = ANY (ids)
    ON CONFLICT (ticket_id) DO UPDATE SET
        opened_at = EXCLUDED.opened_at, title_key = EXCLUDED.title_key,
        category = EXCLUDED.category, priority = EXCLUDED.priority,
        organization_id = EXCLUDED.organization_id, assignee_id = EXCLUDED.assignee_id,
        duplicate = EXCLUDED.duplicate, excluded = EXCLUDED.excluded,
        resolved_at = EXCLUDED.resolved_at, resolve_secs = EXCLUDED.resolve_secs,
        best_outcome = EXCLUDED.best_outcome, triaged_at = EXCLUDED.triaged_at,
        triaged_by = EXCLUDED.triaged_by, triage_secs = EXCLUDED.triage_secs,
        first_reply_at = EXCLUDED.first_reply_at, reply_secs = EXCLUDED.reply_secs,
        escalations = EXCLUDED.escalations, reopens = EXCLUDED.reopens,
        searches = EXCLUDED.searches;

    -- Link facts, where they changed (a reply to a linked ticket changes
    -- none, and touches no monthly count).
    SELECT array_agg(d.model_id), array_agg(d.month) INTO models, months FROM (
        SELECT DISTINCT x.model_id, date_trunc('month', x.created_at, 'UTC') AS month FROM (
            (SELECT * FROM ticket_link_facts WHERE ticket_id = ANY (ids)
             EXCEPT SELECT * FROM ticket_link_facts_source WHERE ticket_id = ANY (ids))
            UNION ALL
            (SELECT * FROM ticket_link_facts_source WHERE ticket_id = ANY (ids)
             EXCEPT SELECT * FROM ticket_link_facts WHERE ticket_id = ANY (ids))
        ) x
    ) d;
    IF models IS NOT NULL THEN
        DELETE FROM ticket_link_facts WHERE ticket_id = ANY (ids);
        INSERT INTO ticket_link_facts SELECT * FROM ticket_link_facts_source WHERE ticket_id = ANY (ids);
        PERFORM model_use_months_recount(models, months);
    END IF;

    -- Search facts, where they changed.
    IF EXISTS (
        (SELECT * FROM triage_search_facts WHERE ticket_id = ANY (ids)
         EXCEPT SELECT * FROM triage_search_facts_source WHERE ticket_id = ANY (ids))
        UNION ALL
        (SELECT * FROM triage_search_facts_source WHERE ticket_id = ANY (ids)
         EXCEPT SELECT * FROM triage_search_facts WHERE ticket_id = ANY (ids))
    ) THEN
        DELETE FROM triage_search_facts WHERE ticket_id = ANY (ids);
        INSERT INTO triage_search_facts SELECT * FROM triage_search_facts_source WHERE ticket_id = ANY (ids);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION report_facts_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE ticket_report_facts, ticket_link_facts, triage_search_facts, model_use_months
        IN EXCLUSIVE MODE;
    DELETE FROM ticket_report_facts;
    INSERT INTO ticket_report_facts
        (ticket_id, opened_at, title_key, category, priority, organization_id, assignee_id,
         duplicate, excluded, resolved_at, resolve_secs, best_outcome, triaged_at, triaged_by,
         triage_secs, first_reply_at, reply_secs, escalations, reopens, searches)
    SELECT ticket_id, opened_at, title_key, category, priority, organization_id, assignee_id,
           duplicate, excluded, resolved_at, resolve_secs, best_outcome, triaged_at, triaged_by,
           triage_secs, first_reply_at, reply_secs, escalations, reopens, searches
    FROM ticket_report_facts_source ORDER BY opened_at;
    PERFORM report_facts_rebuild_derived();
END $$;

-- The link and search facts and the monthly counts again from the ticket
-- facts, set-based.
CREATE FUNCTION report_facts_rebuild_derived() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE ticket_link_facts, triage_search_facts, model_use_months IN EXCLUSIVE MODE;
    DELETE FROM ticket_link_facts;
    INSERT INTO ticket_link_facts SELECT * FROM ticket_link_facts_source ORDER BY created_at;
    DELETE FROM triage_search_facts;
    INSERT INTO triage_search_facts SELECT * FROM triage_search_facts_source ORDER BY created_at;
    DELETE FROM model_use_months;
    INSERT INTO model_use_months (model_id, month, category, priority, uses, last_at)
    SELECT model_id, date_trunc('month', created_at, 'UTC'), category, priority, count(*), max(created_at)
    FROM ticket_link_facts WHERE NOT excluded GROUP BY 1, 2, 3, 4;
END $$;

-- Model health reads the escalations of the period answered "followed the
-- model: yes".
CREATE INDEX escalations_followed_idx ON escalations (created_at) WHERE followed_model = 'yes';

-- The picker's list of categories in use: one index probe per category
-- instead of a scan of every ticket.
CREATE INDEX tickets_category_idx ON tickets (category);

-- The new tables' rows are bound to the ticket's searches and links; the
-- old index on search times is not read any more.
DROP INDEX triage_searches_created_idx;

ANALYZE ticket_report_facts, ticket_models, triage_searches;
SELECT report_facts_rebuild_derived();
ANALYZE ticket_link_facts, triage_search_facts, model_use_months;
