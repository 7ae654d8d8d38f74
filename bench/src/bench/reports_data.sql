-- The data set of `casebook-bench bench-reports`: a year of a busy team's
-- tickets ({tickets}, opened at a steady rate, ids in time order as in
-- life) with their transitions, model links, escalations, replies and
-- recorded triage searches, plus the review loop's rota, triage reviews and
-- improvement items. Set-based SQL from one seed; statements are separated
-- by a line holding only ";". {hash} is a dummy password hash.
--
-- Distributions (what a team of 40 sees): priorities P1 5%, P2 20%, P3 45%,
-- P4 30%; 20 categories, the first few much more common (random()^1.8);
-- 50 customer organizations; triage after an exponential delay (mean 40
-- min) for 93% of tickets, by the week's rota holder 85% of the time; time
-- to resolve log-normal around 5 h; 3% reopened once; 62% linked to a model
-- of their category (the popular models of a category used most: Zipf-like),
-- 72% of those resolved by it, 5% linked to a second model, 12% "no model
-- fits"; 10% escalated; 88% get a public reply by the team (mean 25 min);
-- 60% of triaged tickets have a recorded search (30% of those two), 12%
-- of searches find nothing, the picked result mostly first; 4% duplicates;
-- 0.3% excluded from metrics.
SELECT setseed({seed})
;
INSERT INTO organizations (name) SELECT 'Bench Org ' || n FROM generate_series(1, 50) n
;
INSERT INTO users (email, display_name, role, organization_id, password_hash)
SELECT 'staff' || n || '@bench.example', 'Staff ' || n,
       CASE WHEN n <= 28 THEN 'engineer' WHEN n <= 34 THEN 'reviewer' WHEN n <= 38 THEN 'manager' ELSE 'admin' END,
       NULL, '{hash}'
FROM generate_series(1, 40) n
;
INSERT INTO users (email, display_name, role, organization_id, password_hash)
SELECT 'customer' || o.id || '@bench.example', 'Customer of ' || o.name, 'customer', o.id, '{hash}'
FROM organizations o ORDER BY o.id
;
INSERT INTO ticket_categories (name) SELECT 'cat-' || lpad(n::text, 2, '0') FROM generate_series(0, 19) n
;
INSERT INTO incident_models (key, title, category, status, revision, owner_id, created_at, verified_at)
SELECT 'bench-model-' || n, 'Bench model ' || n, 'cat-' || lpad((n % 20)::text, 2, '0'),
       CASE WHEN n % 40 = 0 THEN 'retired' WHEN n % 25 = 0 THEN 'draft' ELSE 'published' END, 1,
       (SELECT min(id) FROM users) + n % 40, now() - interval '3 years',
       CASE WHEN n % 4 = 0 THEN NULL ELSE now() - random() * interval '500 days' END
FROM generate_series(0, 1999) n
;
INSERT INTO rota_weeks (week_start, triager_id)
SELECT date_trunc('week', now())::date + k * 7, (SELECT min(id) FROM users) + (k + 60) % 28
FROM generate_series(-56, 11) k
;
CREATE TEMP TABLE bt AS
SELECT n, created_at, o, p, cat, assignee,
       CASE WHEN created_at < now() - interval '14 days'
            THEN CASE WHEN s < 0.60 THEN 'closed' WHEN s < 0.97 THEN 'resolved' ELSE 'in_progress' END
            ELSE CASE WHEN s < 0.10 THEN 'closed' WHEN s < 0.55 THEN 'resolved' WHEN s < 0.80 THEN 'in_progress'
                      WHEN s < 0.93 THEN 'triaged' ELSE 'new' END END AS status,
       created_at + (-ln(1 - random() * 0.999) * interval '40 minutes') AS t_triage,
       random() < 0.85 AS by_rota,
       random() AS r_link, random() AS r_model, random() AS r_esc, random() AS r_reply, random() AS r_search,
       -- log-normal: exp(ln(5 h) + 1.1 × an approximately normal value)
       interval '1 second' * exp(ln(18000) + 1.1 * (random() + random() + random() + random() - 2) * 1.7) AS resolve_after
FROM (
    SELECT n, now() - interval '365 days' * (1 - n::float8 / {tickets}) - random() * interval '30 minutes' AS created_at,
           floor(random() * 50)::int AS o,
           (SELECT CASE WHEN r < 0.05 THEN 1 WHEN r < 0.25 THEN 2 WHEN r < 0.70 THEN 3 ELSE 4 END
            FROM (SELECT random() + n * 0 AS r) x)::int2 AS p,
           floor(20 * power(random(), 1.8))::int AS cat,
           CASE WHEN random() < 0.05 THEN NULL ELSE floor(random() * 40)::int END AS assignee,
           random() AS s
    FROM generate_series(1, {tickets}) n
) g
;
INSERT INTO tickets (title, requester_id, organization_id, priority, category, assignee_id, status, created_at, updated_at)
SELECT 'Bench incident ' || floor(300 * power(random(), 2))::int || ' in cat-' || lpad(cat::text, 2, '0'),
       (SELECT min(id) FROM users WHERE role = 'customer') + o,
       (SELECT min(id) FROM organizations) + o,
       p, 'cat-' || lpad(cat::text, 2, '0'),
       (SELECT min(id) FROM users) + assignee,
       status, created_at, created_at
FROM bt ORDER BY n
;
ALTER TABLE bt ADD COLUMN id BIGINT
;
UPDATE bt SET id = (SELECT min(id) - 1 FROM tickets) + n
;
CREATE INDEX ON bt (id)
;
UPDATE tickets SET duplicate_of = id - 1 - floor(random() * 20)::int, status = 'closed'
WHERE id % 25 = 7 AND id > (SELECT min(id) + 30 FROM tickets)
  AND created_at < now() - interval '1 day'
;
UPDATE bt SET status = 'closed' FROM tickets t WHERE t.id = bt.id AND t.duplicate_of IS NOT NULL
;
INSERT INTO ticket_transitions (ticket_id, from_status, to_status, by_id, at)
SELECT id, NULL, 'new', NULL, created_at FROM bt
;
INSERT INTO ticket_transitions (ticket_id, from_status, to_status, by_id, at)
SELECT bt.id, 'new', 'triaged',
       CASE WHEN bt.by_rota AND r.triager_id IS NOT NULL THEN r.triager_id
            ELSE (SELECT min(id) FROM users) + floor(random() * 28)::int END,
       bt.t_triage
FROM bt LEFT JOIN rota_weeks r ON r.week_start = date_trunc('week', bt.created_at)::date
WHERE bt.status = 'triaged' OR (bt.status <> 'new' AND bt.n % 100 < 93)
;
INSERT INTO ticket_transitions (ticket_id, from_status, to_status, by_id, at)
SELECT id, 'triaged', 'in_progress', (SELECT min(id) FROM users) + COALESCE(assignee, 0), t_triage + interval '20 minutes'
FROM bt WHERE status IN ('in_progress', 'resolved', 'closed')
;
INSERT INTO ticket_transitions (ticket_id, from_status, to_status, by_id, at)
SELECT id, 'in_progress', 'resolved', (SELECT min(id) FROM users) + COALESCE(assignee, 0),
       t_triage + interval '20 minutes' + resolve_after
FROM bt WHERE status IN ('resolved', 'closed')
;
-- 3% reopened once: back to in progress a day after, resolved again two
-- days after that.
INSERT INTO ticket_transitions (ticket_id, from_status, to_status, by_id, at)
SELECT bt.id, x.from_status, x.to_status, NULL, bt.t_triage + interval '20 minutes' + bt.resolve_after + x.after
FROM bt, (VALUES ('resolved', 'in_progress', interval '1 day'), ('in_progress', 'resolved', interval '3 days')) x(from_status, to_status, after)
WHERE bt.status IN ('resolved', 'closed') AND bt.n % 33 = 5
;
INSERT INTO ticket_transitions (ticket_id, from_status, to_status, by_id, at)
SELECT id, 'resolved', 'closed', NULL, t_triage + resolve_after + interval '5 days'
FROM bt WHERE status = 'closed'
;
INSERT INTO ticket_models (ticket_id, model_id, revision, outcome, linked_by, created_at)
SELECT bt.id, m.id, 1, CASE WHEN random() < 0.72 THEN 'resolved' ELSE 'partial' END, NULL, bt.t_triage + interval '5 minutes'
FROM bt JOIN incident_models m
  ON m.key = 'bench-model-' || (bt.cat + 20 * floor(100 * power(bt.r_model, 3))::int)
WHERE bt.status NOT IN ('new', 'triaged') AND bt.r_link < 0.62
;
INSERT INTO ticket_models (ticket_id, model_id, revision, outcome, linked_by, created_at)
SELECT bt.id, m.id, 1, 'partial', NULL, bt.t_triage + interval '2 hours'
FROM bt JOIN incident_models m
  ON m.key = 'bench-model-' || (bt.cat + 20 * ((floor(100 * power(bt.r_model, 3))::int + 1) % 100))
WHERE bt.status NOT IN ('new', 'triaged') AND bt.r_link < 0.62 AND bt.n % 20 = 3
;
INSERT INTO ticket_models (ticket_id, model_id, revision, outcome, missing, linked_by, created_at)
SELECT id, NULL, NULL, 'no_fit', 'Nothing covers this', NULL, t_triage + interval '5 minutes'
FROM bt WHERE status NOT IN ('new', 'triaged') AND r_link >= 0.62 AND r_link < 0.74
;
INSERT INTO escalations (ticket_id, from_id, to_team, followed_model, reason, created_at)
SELECT id, (SELECT min(id) FROM users) + COALESCE(assignee, 0),
       (ARRAY['dba', 'network', 'platform', 'security'])[1 + n % 4],
       CASE WHEN r_esc < 0.05 THEN 'yes' WHEN r_esc < 0.07 THEN 'no' ELSE 'no_model' END,
       'Needs the specialists', t_triage + interval '1 hour'
FROM bt WHERE status NOT IN ('new', 'triaged') AND r_esc < 0.10
;
INSERT INTO journal_entries (ticket_id, author_id, kind, visibility, body, created_at)
SELECT id, (SELECT min(id) FROM users) + COALESCE(assignee, n % 40), 'reply', 'public',
       'We are looking into it.', created_at + (-ln(1 - random() * 0.999) * interval '25 minutes')
FROM bt WHERE r_reply < 0.88
;
INSERT INTO journal_entries (ticket_id, author_id, kind, visibility, body, created_at)
SELECT id, (SELECT min(id) FROM users WHERE role = 'customer') + o, 'reply', 'public',
       'Any news?', created_at + interval '3 hours'
FROM bt WHERE r_reply > 0.75
;
INSERT INTO triage_searches (ticket_id, user_id, query, results, picked, created_at)
SELECT bt.id, (SELECT min(id) FROM users) + (bt.n % 28),
       CASE WHEN s.empty THEN (ARRAY['printer jammed', 'vpn certificate expired', 'badge reader offline', 'coffee machine'])[1 + bt.n % 4]
            ELSE (ARRAY['disk full', 'latency high', 'errors 5xx', 'replication lag', 'queue backlog', 'oom killed'])[1 + bt.n % 6]
                 || ' cat-' || lpad(bt.cat::text, 2, '0') END,
       CASE WHEN s.empty THEN '[]'::jsonb
            ELSE (SELECT jsonb_agg(jsonb_build_object('key', 'bench-model-' || (bt.cat + 20 * ((k + s.k) % 100)), 'score', 10 - k))
                  FROM generate_series(0, 7) k) END,
       CASE WHEN s.empty OR s.pick > 0.7 THEN NULL
            WHEN s.pick < 0.42 THEN 'bench-model-' || (bt.cat + 20 * (s.k % 100))
            WHEN s.pick < 0.60 THEN 'bench-model-' || (bt.cat + 20 * ((s.k + 1 + bt.n % 2) % 100))
            WHEN s.pick < 0.67 THEN 'bench-model-' || (bt.cat + 20 * ((s.k + 3 + bt.n % 5) % 100))
            ELSE 'bench-model-' || (bt.cat + 20 * ((s.k + 50) % 100)) END,
       bt.t_triage - interval '3 minutes' + s.nth * interval '1 minute'
FROM bt
CROSS JOIN LATERAL (SELECT 0 AS nth UNION ALL SELECT 1 WHERE bt.r_search < 0.18) nth
CROSS JOIN LATERAL (SELECT random() < 0.12 + bt.n * 0 + nth.nth * 0 AS empty, random() + nth.nth * 0 AS pick,
                           floor(10 * power(bt.r_model, 3))::int AS k, nth.nth) s
WHERE bt.status <> 'new' AND bt.r_search < 0.60
;
INSERT INTO metric_exclusions (ticket_id, reason, by_id)
SELECT id, 'Game day', (SELECT min(id) FROM users WHERE role = 'manager') FROM bt WHERE n % 300 = 150
;
-- Sampled triage reviews: one triaged ticket in 200, graded (each
-- question "yes" 80% of the time; the score is the share of "yes").
INSERT INTO triage_reviews (ticket_id, week_start, triager_id, reviewer_id, right_model, duplicates_checked,
                            searches_good, reply_fast, escalated_right, comment, score, created_at)
SELECT id, week_start, by_id, (SELECT min(id) FROM users WHERE role = 'reviewer'),
       ans[1], ans[2], ans[3], ans[4], ans[5], '',
       (100 * (SELECT count(*) FROM unnest(ans) v WHERE v = 'yes')
            / GREATEST((SELECT count(*) FROM unnest(ans) v WHERE v <> 'na'), 1))::int2,
       created_at + interval '3 days'
FROM (
    SELECT bt.id, bt.created_at, date_trunc('week', bt.created_at)::date AS week_start, tt.by_id,
           ARRAY(SELECT CASE WHEN random() < 0.8 + bt.n * 0 THEN 'yes' ELSE 'no' END FROM generate_series(1, 4))
             || CASE WHEN bt.r_esc < 0.10 THEN 'yes' ELSE 'na' END AS ans
    FROM bt JOIN ticket_transitions tt ON tt.ticket_id = bt.id AND tt.to_status = 'triaged'
    WHERE bt.n % 200 = 17 AND bt.created_at < now() - interval '3 days'
) r
;
INSERT INTO improvements (title, kind, model_id, owner_id, due_on, priority, status, reason, created_by, created_at, updated_at)
SELECT 'Bench item ' || n, kind,
       CASE WHEN kind IN ('update_model', 'retire_model') THEN (SELECT min(id) FROM incident_models) + (n * 7) % 2000 END,
       (SELECT min(id) FROM users) + (n % 40),
       (now() + (random() * 120 - 60) * interval '1 day')::date,
       1 + (random() * 3)::int,
       st, CASE WHEN st = 'wont_do' THEN 'Not worth it' ELSE '' END,
       (SELECT min(id) FROM users WHERE role = 'reviewer'),
       now() - (random() * interval '364 days'), now()
FROM (SELECT n,
             (ARRAY['update_model','new_model','retire_model','monitoring','automation','product_fix','process'])[1 + n % 7] AS kind,
             CASE WHEN random() < 0.4 THEN 'open' WHEN random() < 0.2 THEN 'in_progress'
                  WHEN random() < 0.8 THEN 'done' ELSE 'wont_do' END AS st
      FROM generate_series(1, 5000) n) g
;
INSERT INTO improvement_events (improvement_id, actor_id, at, action, priority, status, due_on)
SELECT id, created_by, created_at, 'created', priority, 'open', due_on FROM improvements
;
INSERT INTO improvement_events (improvement_id, actor_id, at, action, priority, status, due_on)
SELECT id, created_by, created_at + (now() - created_at) / 2, 'edited', priority, status, due_on
FROM improvements WHERE status <> 'open'
