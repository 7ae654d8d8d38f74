-- The adders as SQL functions again (migration 2026-12-04-000100).

CREATE OR REPLACE FUNCTION report_day_tickets_add(delta report_day_tickets[]) RETURNS void
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

CREATE OR REPLACE FUNCTION report_day_searches_add(delta report_day_searches[]) RETURNS void
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
