-- Back to the ticket facts alone: the refresh and rebuild as they were.
CREATE INDEX triage_searches_created_idx ON triage_searches (created_at);
DROP INDEX escalations_followed_idx;
DROP INDEX tickets_category_idx;
CREATE OR REPLACE FUNCTION report_facts_refresh(ids BIGINT[]) RETURNS void
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

CREATE OR REPLACE FUNCTION report_facts_rebuild() RETURNS void
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

DROP FUNCTION report_facts_rebuild_derived();
DROP FUNCTION model_use_months_recount(BIGINT[], TIMESTAMPTZ[]);
DROP VIEW triage_search_facts_source;
DROP TABLE triage_search_facts;
DROP TABLE model_use_months;
DROP VIEW ticket_link_facts_source;
DROP TABLE ticket_link_facts;
