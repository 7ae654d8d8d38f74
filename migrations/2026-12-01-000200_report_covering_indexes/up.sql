-- The reports read a period's facts through indexes that hold every
-- column the measures and filters need, so a period is an index-only range
-- scan instead of one heap page per row (the resolved tickets of 90 days
-- are spread over the whole table: 212,000 rows cost 204,000 page reads).
-- The title is only in the gap report's own index (the rows it reads).
DROP INDEX ticket_report_facts_opened_idx;
CREATE INDEX ticket_report_facts_opened_idx ON ticket_report_facts (opened_at)
    INCLUDE (ticket_id, category, priority, organization_id, assignee_id, duplicate,
             triaged_by, triage_secs, reply_secs, searches)
    WHERE NOT excluded;
DROP INDEX ticket_report_facts_resolved_idx;
CREATE INDEX ticket_report_facts_resolved_idx ON ticket_report_facts (resolved_at)
    INCLUDE (ticket_id, category, priority, organization_id, assignee_id, best_outcome,
             resolve_secs, triaged_by, escalations, reopens)
    WHERE NOT excluded AND resolved_at IS NOT NULL;
DROP INDEX ticket_link_facts_created_idx;
CREATE INDEX ticket_link_facts_created_idx ON ticket_link_facts (created_at)
    INCLUDE (model_id, outcome, category, priority, organization_id, assignee_id)
    WHERE NOT excluded;
DROP INDEX ticket_link_facts_resolved_idx;
CREATE INDEX ticket_link_facts_resolved_idx ON ticket_link_facts (resolved_at)
    INCLUDE (model_id, category, priority, organization_id, assignee_id, resolve_secs)
    WHERE NOT excluded AND resolved_at IS NOT NULL;
DROP INDEX triage_search_facts_created_idx;
CREATE INDEX triage_search_facts_created_idx ON triage_search_facts (created_at)
    INCLUDE (category, priority, organization_id, assignee_id, empty, picked, rank)
    WHERE NOT excluded;

-- The weeks (Monday to Sunday in `zone`) that meet `[from, to)`: `bounds`
-- the instant each starts (the first one `-infinity`), `weeks` its Monday,
-- so the week of an instant t of the period is
-- `weeks[width_bucket(t, bounds)]`, a binary search instead of converting
-- every row to local time (0.7 µs a row in Asia/Kolkata). The bounds are
-- checked against the per-row definition, `date_trunc('week', t AT TIME
-- ZONE zone)`: the instant before each bound is in the week before, and
-- every minute of the three hours from it is in its week (a clock set back
-- across a Monday midnight would fail this). When a check fails, NULLs:
-- the callers then convert each row.
CREATE FUNCTION report_weeks(from_at TIMESTAMPTZ, to_at TIMESTAMPTZ, zone TEXT,
                             OUT bounds TIMESTAMPTZ[], OUT weeks DATE[])
LANGUAGE plpgsql STABLE AS $$
DECLARE
    first_week DATE := date_trunc('week', from_at AT TIME ZONE zone)::date;
    last_week DATE := date_trunc('week', (to_at - interval '1 microsecond') AT TIME ZONE zone)::date;
    w DATE;
    b TIMESTAMPTZ;
BEGIN
    bounds := ARRAY['-infinity'::timestamptz];
    weeks := ARRAY[first_week];
    IF last_week < first_week THEN
        RETURN;
    END IF;
    w := first_week + 7;
    WHILE w <= last_week LOOP
        b := w::timestamp AT TIME ZONE zone;
        IF date_trunc('week', (b - interval '1 microsecond') AT TIME ZONE zone)::date <> w - 7
           OR EXISTS (SELECT 1 FROM generate_series(0, 180) m
                      WHERE date_trunc('week', (b + m * interval '1 minute') AT TIME ZONE zone)::date <> w)
        THEN
            bounds := NULL;
            weeks := NULL;
            RETURN;
        END IF;
        bounds := bounds || b;
        weeks := weeks || w;
        w := w + 7;
    END LOOP;
END $$;

-- The gap report's rows (resolved with no link or "no model fits"), with
-- the title it groups by (a title is at most 200 characters, the tickets'
-- check, well within what a btree entry may hold); model health reads the
-- time to resolve of the same tickets.
CREATE INDEX ticket_report_facts_gap_idx ON ticket_report_facts (resolved_at)
    INCLUDE (ticket_id, category, title_key, priority, organization_id, assignee_id, best_outcome,
             resolve_secs)
    WHERE NOT excluded AND resolved_at IS NOT NULL AND best_outcome <= 1;
