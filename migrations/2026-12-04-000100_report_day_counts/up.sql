-- The overview's counts per UTC day, priority and category, kept by
-- triggers on the facts themselves (in the writer's statement and
-- transaction, whoever changes the facts: the commit-time refresh, a
-- ticket's deletion cascading to its facts, a rebuild), so the overview
-- and its period-before headline read about 80 rows a day instead of
-- every ticket and search of the period. A period in any zone is whole
-- UTC days from here plus its edges (less than a day at each end of each
-- week) from the facts, so any bound is served exactly. Only the
-- category and priority filters can be answered here; with an
-- organization or an assignee the overview reads the facts, as before.

-- Counted tickets (not excluded) opened (side 0) or resolved (side 1) on
-- a UTC day: how many, by best outcome, escalated or reopened with or
-- without a model (best outcome 2 or 3), duplicates and searches.
CREATE TABLE report_day_tickets (
    side     SMALLINT NOT NULL CHECK (side IN (0, 1)),
    day      TIMESTAMPTZ NOT NULL,
    priority SMALLINT NOT NULL,
    category TEXT NOT NULL,
    n        BIGINT NOT NULL,
    b3       BIGINT NOT NULL,
    b2       BIGINT NOT NULL,
    b1       BIGINT NOT NULL,
    w_esc    BIGINT NOT NULL,
    w_back   BIGINT NOT NULL,
    o_esc    BIGINT NOT NULL,
    o_back   BIGINT NOT NULL,
    dups     BIGINT NOT NULL,
    searches BIGINT NOT NULL,
    PRIMARY KEY (side, day, priority, category)
);

-- Counted searches made on a UTC day: how many, found nothing, picked,
-- and the picked result's rank.
CREATE TABLE report_day_searches (
    day         TIMESTAMPTZ NOT NULL,
    priority    SMALLINT NOT NULL,
    category    TEXT NOT NULL,
    searches    BIGINT NOT NULL,
    empty       BIGINT NOT NULL,
    picked      BIGINT NOT NULL,
    rank_1      BIGINT NOT NULL,
    rank_2_3    BIGINT NOT NULL,
    rank_4_plus BIGINT NOT NULL,
    not_listed  BIGINT NOT NULL,
    PRIMARY KEY (day, priority, category)
);

-- What one ticket's facts add to the day counts, times `sign` (1 or -1):
-- the one definition the triggers, the rebuild and the tests use.
CREATE FUNCTION report_day_tickets_of(f ticket_report_facts, sign BIGINT)
RETURNS SETOF report_day_tickets LANGUAGE sql STABLE AS $$
    SELECT 0::int2, date_trunc('day', f.opened_at, 'UTC'), f.priority, f.category,
           sign, 0::int8, 0::int8, 0::int8, 0::int8, 0::int8, 0::int8, 0::int8,
           sign * f.duplicate::int, sign * f.searches
    WHERE NOT f.excluded
    UNION ALL
    SELECT 1::int2, date_trunc('day', f.resolved_at, 'UTC'), f.priority, f.category,
           sign,
           sign * (f.best_outcome = 3)::int,
           sign * (f.best_outcome = 2)::int,
           sign * (f.best_outcome = 1)::int,
           sign * (f.best_outcome >= 2 AND f.escalations > 0)::int,
           sign * (f.best_outcome >= 2 AND f.reopens > 0)::int,
           sign * (f.best_outcome < 2 AND f.escalations > 0)::int,
           sign * (f.best_outcome < 2 AND f.reopens > 0)::int,
           0::int8, 0::int8
    WHERE NOT f.excluded AND f.resolved_at IS NOT NULL
$$;

-- What one search's facts add to the day counts, times `sign`.
CREATE FUNCTION report_day_searches_of(s triage_search_facts, sign BIGINT)
RETURNS SETOF report_day_searches LANGUAGE sql STABLE AS $$
    SELECT date_trunc('day', s.created_at, 'UTC'), s.priority, s.category,
           sign,
           sign * s.empty::int,
           sign * s.picked::int,
           sign * COALESCE(s.rank = 1, false)::int,
           sign * COALESCE(s.rank BETWEEN 2 AND 3, false)::int,
           sign * COALESCE(s.rank >= 4, false)::int,
           sign * (s.picked AND s.rank IS NULL)::int
    WHERE NOT s.excluded
$$;

-- Adds the changes, summed per key, in key order (so two writers lock
-- the rows they share in the same order); a change that sums to nothing
-- writes nothing. Rows that fall to zero stay (they add nothing).
CREATE FUNCTION report_day_tickets_add(delta report_day_tickets[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO report_day_tickets AS t
    SELECT side, day, priority, category, sum(n), sum(b3), sum(b2), sum(b1), sum(w_esc),
           sum(w_back), sum(o_esc), sum(o_back), sum(dups), sum(searches)
    FROM unnest(delta)
    GROUP BY side, day, priority, category
    HAVING sum(n) <> 0 OR sum(b3) <> 0 OR sum(b2) <> 0 OR sum(b1) <> 0 OR sum(w_esc) <> 0
        OR sum(w_back) <> 0 OR sum(o_esc) <> 0 OR sum(o_back) <> 0 OR sum(dups) <> 0
        OR sum(searches) <> 0
    ORDER BY side, day, priority, category
    ON CONFLICT (side, day, priority, category) DO UPDATE SET
        n = t.n + EXCLUDED.n, b3 = t.b3 + EXCLUDED.b3, b2 = t.b2 + EXCLUDED.b2,
        b1 = t.b1 + EXCLUDED.b1, w_esc = t.w_esc + EXCLUDED.w_esc,
        w_back = t.w_back + EXCLUDED.w_back, o_esc = t.o_esc + EXCLUDED.o_esc,
        o_back = t.o_back + EXCLUDED.o_back, dups = t.dups + EXCLUDED.dups,
        searches = t.searches + EXCLUDED.searches
$$;

CREATE FUNCTION report_day_searches_add(delta report_day_searches[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO report_day_searches AS t
    SELECT day, priority, category, sum(searches), sum(empty), sum(picked), sum(rank_1),
           sum(rank_2_3), sum(rank_4_plus), sum(not_listed)
    FROM unnest(delta)
    GROUP BY day, priority, category
    HAVING sum(searches) <> 0 OR sum(empty) <> 0 OR sum(picked) <> 0 OR sum(rank_1) <> 0
        OR sum(rank_2_3) <> 0 OR sum(rank_4_plus) <> 0 OR sum(not_listed) <> 0
    ORDER BY day, priority, category
    ON CONFLICT (day, priority, category) DO UPDATE SET
        searches = t.searches + EXCLUDED.searches, empty = t.empty + EXCLUDED.empty,
        picked = t.picked + EXCLUDED.picked, rank_1 = t.rank_1 + EXCLUDED.rank_1,
        rank_2_3 = t.rank_2_3 + EXCLUDED.rank_2_3,
        rank_4_plus = t.rank_4_plus + EXCLUDED.rank_4_plus,
        not_listed = t.not_listed + EXCLUDED.not_listed
$$;

-- True while a rebuild rewrites the facts wholesale: it recounts the
-- days once at its end instead of row by row.
CREATE FUNCTION report_days_paused() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT COALESCE(current_setting('casebook.report_days_paused', true), '') = 'on'
$$;

-- The statement triggers of the facts: the new rows add, the old rows
-- take away.
CREATE FUNCTION report_day_tickets_track() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF report_days_paused() THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM report_day_tickets_add(ARRAY(
            SELECT c FROM new_rows f, report_day_tickets_of(f, 1) c));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM report_day_tickets_add(ARRAY(
            SELECT c FROM old_rows f, report_day_tickets_of(f, -1) c));
    ELSE
        PERFORM report_day_tickets_add(ARRAY(
            SELECT c FROM new_rows f, report_day_tickets_of(f, 1) c
            UNION ALL
            SELECT c FROM old_rows f, report_day_tickets_of(f, -1) c));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION report_day_searches_track() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF report_days_paused() THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM report_day_searches_add(ARRAY(
            SELECT c FROM new_rows s, report_day_searches_of(s, 1) c));
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM report_day_searches_add(ARRAY(
            SELECT c FROM old_rows s, report_day_searches_of(s, -1) c));
    ELSE
        PERFORM report_day_searches_add(ARRAY(
            SELECT c FROM new_rows s, report_day_searches_of(s, 1) c
            UNION ALL
            SELECT c FROM old_rows s, report_day_searches_of(s, -1) c));
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER report_day_tickets_inserted AFTER INSERT ON ticket_report_facts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_day_tickets_track();
CREATE TRIGGER report_day_tickets_updated AFTER UPDATE ON ticket_report_facts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_day_tickets_track();
CREATE TRIGGER report_day_tickets_deleted AFTER DELETE ON ticket_report_facts
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_day_tickets_track();
CREATE TRIGGER report_day_searches_inserted AFTER INSERT ON triage_search_facts
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_day_searches_track();
CREATE TRIGGER report_day_searches_updated AFTER UPDATE ON triage_search_facts
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_day_searches_track();
CREATE TRIGGER report_day_searches_deleted AFTER DELETE ON triage_search_facts
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION report_day_searches_track();

-- The day counts again from the facts, set-based.
CREATE FUNCTION report_days_recount() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE report_day_tickets, report_day_searches IN EXCLUSIVE MODE;
    DELETE FROM report_day_tickets;
    INSERT INTO report_day_tickets
    SELECT c.side, c.day, c.priority, c.category, sum(c.n), sum(c.b3), sum(c.b2), sum(c.b1),
           sum(c.w_esc), sum(c.w_back), sum(c.o_esc), sum(c.o_back), sum(c.dups), sum(c.searches)
    FROM ticket_report_facts f, report_day_tickets_of(f, 1) c
    GROUP BY 1, 2, 3, 4;
    DELETE FROM report_day_searches;
    INSERT INTO report_day_searches
    SELECT c.day, c.priority, c.category, sum(c.searches), sum(c.empty), sum(c.picked),
           sum(c.rank_1), sum(c.rank_2_3), sum(c.rank_4_plus), sum(c.not_listed)
    FROM triage_search_facts s, report_day_searches_of(s, 1) c
    GROUP BY 1, 2, 3;
END $$;

-- The rebuilds as before, with the day counts paused while the facts
-- are rewritten and recounted at the end.
CREATE OR REPLACE FUNCTION report_facts_rebuild() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    LOCK TABLE ticket_report_facts, ticket_link_facts, triage_search_facts, model_use_months
        IN EXCLUSIVE MODE;
    PERFORM set_config('casebook.report_days_paused', 'on', true);
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
    PERFORM set_config('casebook.report_days_paused', 'on', true);
    DELETE FROM ticket_link_facts;
    INSERT INTO ticket_link_facts SELECT * FROM ticket_link_facts_source ORDER BY created_at;
    DELETE FROM triage_search_facts;
    INSERT INTO triage_search_facts SELECT * FROM triage_search_facts_source ORDER BY created_at;
    DELETE FROM model_use_months;
    INSERT INTO model_use_months (model_id, month, category, priority, uses, last_at)
    SELECT model_id, date_trunc('month', created_at, 'UTC'), category, priority, count(*), max(created_at)
    FROM ticket_link_facts WHERE NOT excluded GROUP BY 1, 2, 3, 4;
    PERFORM set_config('casebook.report_days_paused', 'off', true);
    PERFORM report_days_recount();
END $$;

SELECT report_days_recount();
ANALYZE report_day_tickets, report_day_searches;
