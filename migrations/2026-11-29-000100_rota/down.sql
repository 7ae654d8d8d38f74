DROP INDEX ticket_transitions_triaged_idx;
DROP TABLE triage_reviews;
DROP TABLE calendar_feeds;
DROP TABLE rota_swaps;
DROP TABLE rota_weeks;
