DROP INDEX ticket_report_facts_gap_idx;
DROP FUNCTION report_weeks(TIMESTAMPTZ, TIMESTAMPTZ, TEXT);
DROP INDEX triage_search_facts_created_idx;
CREATE INDEX triage_search_facts_created_idx ON triage_search_facts (created_at) WHERE NOT excluded;
DROP INDEX ticket_link_facts_resolved_idx;
CREATE INDEX ticket_link_facts_resolved_idx ON ticket_link_facts (resolved_at)
    WHERE NOT excluded AND resolved_at IS NOT NULL;
DROP INDEX ticket_link_facts_created_idx;
CREATE INDEX ticket_link_facts_created_idx ON ticket_link_facts (created_at) WHERE NOT excluded;
DROP INDEX ticket_report_facts_resolved_idx;
CREATE INDEX ticket_report_facts_resolved_idx ON ticket_report_facts (resolved_at)
    WHERE NOT excluded AND resolved_at IS NOT NULL;
DROP INDEX ticket_report_facts_opened_idx;
CREATE INDEX ticket_report_facts_opened_idx ON ticket_report_facts (opened_at) WHERE NOT excluded;
