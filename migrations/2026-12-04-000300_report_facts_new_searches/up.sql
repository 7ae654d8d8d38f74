-- A transaction whose only change to a ticket's report facts is new
-- recorded searches (a triage search from the ticket page, triage on
-- arrival) refreshes only what a new search changes: the ticket's
-- `searches` count and the new searches' rows of `triage_search_facts`.
-- The whole refresh (`report_facts_refresh`) recomputes every fact of the
-- ticket, its link facts and all its search facts, and compares them with
-- the kept rows: most of a triage search's commit. A new search row
-- changes no other fact: the ticket facts read it only through their
-- count, the link facts and monthly counts do not read it, and the facts
-- of the ticket's other searches read it not at all. So, as long as the
-- kept rows were right before (every writer keeps them so, at its
-- commit), the result is the same rows as the whole refresh's. Any other
-- change to the ticket in the same transaction (an update or deletion of
-- a search too) still takes the whole refresh.

-- Whether a noted ticket needs the whole refresh (false: only new
-- searches were noted for it).
ALTER TABLE report_facts_dirty ADD COLUMN whole BOOLEAN NOT NULL DEFAULT true;

-- Notes tickets for the whole refresh at commit (a ticket noted for its
-- new searches earlier in the transaction is upgraded).
CREATE OR REPLACE FUNCTION report_facts_later(ids BIGINT[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO report_facts_dirty (ticket_id)
    SELECT DISTINCT unnest(ids || 0::int8)
    ON CONFLICT (xact, ticket_id) DO UPDATE SET whole = true
    WHERE NOT report_facts_dirty.whole;
END $$;

-- Notes tickets that got new searches (and nothing else, unless noted
-- otherwise too).
CREATE FUNCTION report_facts_later_searches(ids BIGINT[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    INSERT INTO report_facts_dirty (ticket_id, whole)
    SELECT DISTINCT t, t = 0 FROM unnest(ids || 0::int8) AS t
    ON CONFLICT DO NOTHING;
END $$;

-- The facts of tickets whose only change since their facts were last
-- kept is new searches: their count, and the new searches' rows. A
-- ticket without kept facts yet takes the whole refresh. Locks the
-- tickets like the whole refresh (lowest id first) and computes after.
CREATE FUNCTION report_facts_refresh_searches(ids BIGINT[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    missing BIGINT[];
BEGIN
    IF cardinality(ids) = 0 THEN
        RETURN;
    END IF;
    PERFORM 1 FROM tickets WHERE id = ANY (ids) ORDER BY id FOR NO KEY UPDATE;
    SELECT array_agg(i ORDER BY i) INTO missing FROM unnest(ids) AS i
    WHERE NOT EXISTS (SELECT 1 FROM ticket_report_facts f WHERE f.ticket_id = i);
    IF missing IS NOT NULL THEN
        PERFORM report_facts_refresh(missing);
    END IF;
    UPDATE ticket_report_facts f SET searches = c.n
    FROM (SELECT i AS ticket_id,
                 (SELECT count(*) FROM triage_searches s WHERE s.ticket_id = i)::int4 AS n
          FROM unnest(ids) AS i) c
    WHERE f.ticket_id = c.ticket_id AND f.searches <> c.n
      AND NOT (f.ticket_id = ANY (COALESCE(missing, '{}')));
    -- The kept rows are looked up by ticket (on the generic plan, an anti
    -- join by search id estimated thousands of rows and read the whole
    -- table); `search_id` is never NULL, so NOT IN is NOT EXISTS here.
    INSERT INTO triage_search_facts
    SELECT * FROM triage_search_facts_source src
    WHERE src.ticket_id = ANY (ids) AND NOT (src.ticket_id = ANY (COALESCE(missing, '{}')))
      AND src.search_id NOT IN (
          SELECT k.search_id FROM triage_search_facts k WHERE k.ticket_id = ANY (ids));
END $$;
ALTER FUNCTION report_facts_refresh_searches(BIGINT[]) SET plan_cache_mode = force_generic_plan;

-- At commit: the transaction's noted tickets, each refreshed wholly or for
-- its new searches. All of them are locked first, lowest id first, so two
-- transactions never take their tickets in different orders.
CREATE OR REPLACE FUNCTION report_facts_flush() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    ids BIGINT[];
    searched BIGINT[];
BEGIN
    WITH done AS (
        DELETE FROM report_facts_dirty WHERE xact = pg_current_xact_id()
        RETURNING ticket_id, whole
    )
    SELECT array_agg(ticket_id ORDER BY ticket_id) FILTER (WHERE ticket_id <> 0 AND whole),
           array_agg(ticket_id ORDER BY ticket_id) FILTER (WHERE ticket_id <> 0 AND NOT whole)
    INTO ids, searched
    FROM done;
    IF ids IS NOT NULL AND searched IS NOT NULL THEN
        PERFORM 1 FROM tickets WHERE id = ANY (ids || searched) ORDER BY id FOR NO KEY UPDATE;
    END IF;
    PERFORM report_facts_refresh(COALESCE(ids, '{}'));
    PERFORM report_facts_refresh_searches(COALESCE(searched, '{}'));
    RETURN NULL;
END $$;

-- The statement triggers of the source tables: a new search notes its
-- ticket for the search refresh, any other change for the whole one.
CREATE OR REPLACE FUNCTION report_facts_touch() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'tickets' THEN
        PERFORM report_facts_later(ARRAY(SELECT id FROM changed));
    ELSIF TG_TABLE_NAME = 'journal_entries' THEN
        -- Only the team's public replies are facts.
        PERFORM report_facts_later(ARRAY(
            SELECT DISTINCT ticket_id FROM changed WHERE kind = 'reply' AND visibility = 'public'));
    ELSIF TG_TABLE_NAME = 'triage_searches' AND TG_OP = 'INSERT' THEN
        PERFORM report_facts_later_searches(ARRAY(SELECT DISTINCT ticket_id FROM changed));
    ELSE
        PERFORM report_facts_later(ARRAY(SELECT DISTINCT ticket_id FROM changed));
    END IF;
    RETURN NULL;
END $$;
