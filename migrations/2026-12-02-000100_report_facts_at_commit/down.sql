-- Back to the refresh after every statement.
CREATE OR REPLACE FUNCTION report_facts_touch() RETURNS trigger
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
DROP TRIGGER report_facts_at_commit ON report_facts_dirty;
DROP FUNCTION report_facts_flush();
DROP FUNCTION report_facts_later(BIGINT[]);
DROP TABLE report_facts_dirty;
