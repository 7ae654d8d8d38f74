-- One row per ticket with what the reports read about it, kept right by
-- triggers on every table it is derived from: the row changes in the same
-- transaction as the fact, whoever writes it (the ticket service, the
-- review loop, `casebook demo`, a bulk load), so there is no job to run and
-- nothing to fall behind. `ticket_report_facts_source` is the one
-- definition of a row; the triggers and the backfill below both use it.
CREATE TABLE ticket_report_facts (
    ticket_id       BIGINT PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    opened_at       TIMESTAMPTZ NOT NULL,
    -- The title as the gap report groups it (case-insensitive, trimmed).
    title_key       TEXT NOT NULL,
    category        TEXT NOT NULL,
    priority        SMALLINT NOT NULL,
    organization_id BIGINT,
    assignee_id     BIGINT,
    duplicate       BOOLEAN NOT NULL,
    excluded        BOOLEAN NOT NULL,
    -- The last move to resolved, when the ticket counts as resolved (now
    -- resolved or closed, not a duplicate); NULL otherwise.
    resolved_at     TIMESTAMPTZ,
    resolve_secs    BIGINT,
    -- Best outcome of its links: 3 resolved by a model, 2 partly,
    -- 1 no model fits, 0 no link.
    best_outcome    SMALLINT NOT NULL,
    -- The first move to triaged, and who made it.
    triaged_at      TIMESTAMPTZ,
    triaged_by      BIGINT,
    triage_secs     BIGINT,
    -- The first public reply by the team.
    first_reply_at  TIMESTAMPTZ,
    reply_secs      BIGINT,
    escalations     INT NOT NULL,
    -- Moves from resolved back to in progress.
    reopens         INT NOT NULL,
    searches        INT NOT NULL
);
CREATE INDEX ticket_report_facts_opened_idx ON ticket_report_facts (opened_at) WHERE NOT excluded;
CREATE INDEX ticket_report_facts_resolved_idx ON ticket_report_facts (resolved_at)
    WHERE NOT excluded AND resolved_at IS NOT NULL;

CREATE VIEW ticket_report_facts_source AS
SELECT t.id AS ticket_id,
       t.created_at AS opened_at,
       lower(btrim(t.title, ' ')) AS title_key,
       t.category,
       t.priority,
       t.organization_id,
       t.assignee_id,
       t.duplicate_of IS NOT NULL AS duplicate,
       EXISTS (SELECT 1 FROM metric_exclusions x WHERE x.ticket_id = t.id) AS excluded,
       rs.at AS resolved_at,
       floor(extract(epoch FROM rs.at - t.created_at))::int8 AS resolve_secs,
       COALESCE((SELECT max(CASE m.outcome WHEN 'resolved' THEN 3 WHEN 'partial' THEN 2 ELSE 1 END)
                 FROM ticket_models m WHERE m.ticket_id = t.id), 0)::int2 AS best_outcome,
       tr.at AS triaged_at,
       tr.by_id AS triaged_by,
       floor(extract(epoch FROM tr.at - t.created_at))::int8 AS triage_secs,
       rp.at AS first_reply_at,
       floor(extract(epoch FROM rp.at - t.created_at))::int8 AS reply_secs,
       (SELECT count(*) FROM escalations e WHERE e.ticket_id = t.id)::int4 AS escalations,
       (SELECT count(*) FROM ticket_transitions b WHERE b.ticket_id = t.id
          AND b.from_status = 'resolved' AND b.to_status = 'in_progress')::int4 AS reopens,
       (SELECT count(*) FROM triage_searches s WHERE s.ticket_id = t.id)::int4 AS searches
FROM tickets t
LEFT JOIN LATERAL (
    SELECT max(r.at) AS at FROM ticket_transitions r
    WHERE r.ticket_id = t.id AND r.to_status = 'resolved'
      AND t.duplicate_of IS NULL AND t.status IN ('resolved', 'closed')
) rs ON true
LEFT JOIN LATERAL (
    SELECT r.at, r.by_id FROM ticket_transitions r
    WHERE r.ticket_id = t.id AND r.to_status = 'triaged' ORDER BY r.at, r.id LIMIT 1
) tr ON true
LEFT JOIN LATERAL (
    SELECT min(j.created_at) AS at FROM journal_entries j JOIN users u ON u.id = j.author_id
    WHERE j.ticket_id = t.id AND j.kind = 'reply' AND j.visibility = 'public' AND u.role <> 'customer'
) rp ON true;

-- Rewrites the rows of these tickets from the source. Writers of one
-- ticket's facts take turns on the ticket row (lowest id first), and each
-- computes after taking its turn, from what is committed by then: two
-- transactions touching one ticket cannot leave the older picture behind.
CREATE FUNCTION report_facts_refresh(ids BIGINT[]) RETURNS void
LANGUAGE plpgsql AS $$
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
END $$;

-- Every row again, set-based (the backfill below; a bulk load that ran
-- with triggers off, like the benchmark's generator, calls it after).
CREATE FUNCTION report_facts_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE ticket_report_facts IN EXCLUSIVE MODE;
    DELETE FROM ticket_report_facts;
    INSERT INTO ticket_report_facts
        (ticket_id, opened_at, title_key, category, priority, organization_id, assignee_id,
         duplicate, excluded, resolved_at, resolve_secs, best_outcome, triaged_at, triaged_by,
         triage_secs, first_reply_at, reply_secs, escalations, reopens, searches)
    SELECT ticket_id, opened_at, title_key, category, priority, organization_id, assignee_id,
           duplicate, excluded, resolved_at, resolve_secs, best_outcome, triaged_at, triaged_by,
           triage_secs, first_reply_at, reply_secs, escalations, reopens, searches
    FROM ticket_report_facts_source ORDER BY opened_at;
END $$;

-- The statement-level trigger of every source table: the tickets its
-- changed rows belong to are refreshed once per statement (a bulk insert
-- refreshes each of its tickets once, not once per row).
CREATE FUNCTION report_facts_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'tickets' THEN
        PERFORM report_facts_refresh(ARRAY(SELECT id FROM changed));
    ELSIF TG_TABLE_NAME = 'journal_entries' THEN
        -- Only the team's public replies are facts.
        PERFORM report_facts_refresh(ARRAY(
            SELECT DISTINCT ticket_id FROM changed WHERE kind = 'reply' AND visibility = 'public'));
    ELSE
        PERFORM report_facts_refresh(ARRAY(SELECT DISTINCT ticket_id FROM changed));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER report_facts_insert AFTER INSERT ON tickets
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_update AFTER UPDATE ON tickets
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_insert AFTER INSERT ON ticket_transitions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_update AFTER UPDATE ON ticket_transitions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_delete AFTER DELETE ON ticket_transitions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_insert AFTER INSERT ON ticket_models
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_update AFTER UPDATE ON ticket_models
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_delete AFTER DELETE ON ticket_models
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_insert AFTER INSERT ON escalations
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_update AFTER UPDATE ON escalations
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_delete AFTER DELETE ON escalations
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_insert AFTER INSERT ON journal_entries
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_update AFTER UPDATE ON journal_entries
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_delete AFTER DELETE ON journal_entries
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_insert AFTER INSERT ON triage_searches
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_update AFTER UPDATE ON triage_searches
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_delete AFTER DELETE ON triage_searches
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_insert AFTER INSERT ON metric_exclusions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_update AFTER UPDATE ON metric_exclusions
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();
CREATE TRIGGER report_facts_delete AFTER DELETE ON metric_exclusions
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION report_facts_touch();

-- The searches page reads recorded searches by time.
CREATE INDEX triage_searches_created_idx ON triage_searches (created_at);

-- The facts of every ticket there is (with fresh statistics: without
-- them the planner may scan whole tables once per ticket).
ANALYZE tickets, ticket_transitions, ticket_models, escalations, journal_entries, triage_searches,
    metric_exclusions, users;
SELECT report_facts_rebuild();
