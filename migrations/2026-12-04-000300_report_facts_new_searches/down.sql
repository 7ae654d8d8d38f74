-- Every noted ticket takes the whole refresh again.
CREATE OR REPLACE FUNCTION report_facts_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'tickets' THEN
        PERFORM report_facts_later(ARRAY(SELECT id FROM changed));
    ELSIF TG_TABLE_NAME = 'journal_entries' THEN
        -- Only the team's public replies are facts.
        PERFORM report_facts_later(ARRAY(
            SELECT DISTINCT ticket_id FROM changed WHERE kind = 'reply' AND visibility = 'public'));
    ELSE
        PERFORM report_facts_later(ARRAY(SELECT DISTINCT ticket_id FROM changed));
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION report_facts_flush() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids BIGINT[];
BEGIN
    WITH done AS (
        DELETE FROM report_facts_dirty WHERE xact = pg_current_xact_id() RETURNING ticket_id
    )
    SELECT array_agg(ticket_id ORDER BY ticket_id) FILTER (WHERE ticket_id <> 0) INTO ids
    FROM done;
    PERFORM report_facts_refresh(COALESCE(ids, '{}'));
    RETURN NULL;
END $$;

DROP FUNCTION report_facts_refresh_searches(BIGINT[]);
DROP FUNCTION report_facts_later_searches(BIGINT[]);

CREATE OR REPLACE FUNCTION report_facts_later(ids BIGINT[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO report_facts_dirty (ticket_id)
    SELECT DISTINCT unnest(ids || 0::int8)
    ON CONFLICT DO NOTHING;
END $$;

ALTER TABLE report_facts_dirty DROP COLUMN whole;
