-- Back to the facts alone: the rebuilds as they were, no day counts.
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

CREATE OR REPLACE FUNCTION report_facts_rebuild_derived() RETURNS void
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

DROP TRIGGER report_day_tickets_inserted ON ticket_report_facts;
DROP TRIGGER report_day_tickets_updated ON ticket_report_facts;
DROP TRIGGER report_day_tickets_deleted ON ticket_report_facts;
DROP TRIGGER report_day_searches_inserted ON triage_search_facts;
DROP TRIGGER report_day_searches_updated ON triage_search_facts;
DROP TRIGGER report_day_searches_deleted ON triage_search_facts;
DROP FUNCTION report_days_recount();
DROP FUNCTION report_day_tickets_track();
DROP FUNCTION report_day_searches_track();
DROP FUNCTION report_days_paused();
DROP FUNCTION report_day_tickets_add(report_day_tickets[]);
DROP FUNCTION report_day_searches_add(report_day_searches[]);
DROP FUNCTION report_day_tickets_of(ticket_report_facts, BIGINT);
DROP FUNCTION report_day_searches_of(triage_search_facts, BIGINT);
DROP TABLE report_day_tickets;
DROP TABLE report_day_searches;
