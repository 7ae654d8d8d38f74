//! Reports: every measure's SQL against the plain-Rust reference on
//! generated fixture data with fixed timestamps (and hand-counted edge
//! cases), the customer boundary on every reports route, CSV and JSON
//! export, excluding tickets, drafting a model from a ticket.

mod zones;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use casebook::db::users::User;
use casebook::domain::account::Role;
use casebook::domain::report::period::QueryInput;
use casebook::domain::report::{Filters, Headline, Part, Period, ReportQuery, reference};
use casebook::domain::zone::Tz;

use crate::support::{TestApp, fixtures};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn query(first: &str, last: &str, zone: &str) -> ReportQuery {
    ReportQuery {
        period: Period::days(day(first), day(last), zone.parse().unwrap()),
        filters: Filters::default(),
        verify_by_days: 180,
    }
}

fn ts(t: DateTime<Utc>) -> String {
    format!("'{}'", t.to_rfc3339())
}

async fn exec(conn: &mut AsyncPgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
}

/// Inserts rows with fixed times, straight into the tables (the services
/// stamp `now()`; a report test needs the past).
struct Seed<'a> {
    conn: &'a mut AsyncPgConnection,
    requester: i64,
}

impl Seed<'_> {
    async fn model(
        &mut self,
        key: &str,
        category: &str,
        status: &str,
        owner: Option<i64>,
        verified: Option<DateTime<Utc>>,
        created: DateTime<Utc>,
    ) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Int8)]
            id: i64,
        }
        let sql = format!(
            "INSERT INTO incident_models (key, title, category, status, revision, owner_id, verified_at, created_at)
             VALUES ('{key}', 'Title of {key}', '{category}', '{status}', 1, {}, {}, {}) RETURNING id",
            owner.map_or("NULL".to_owned(), |o| o.to_string()),
            verified.map_or("NULL".to_owned(), ts),
            ts(created)
        );
        let rows: Vec<Id> = diesel::sql_query(sql).load(self.conn).await.unwrap();
        rows[0].id
    }

    #[allow(clippy::too_many_arguments)]
    async fn ticket(
        &mut self,
        title: &str,
        category: &str,
        priority: i16,
        org: Option<i64>,
        assignee: Option<i64>,
        status: &str,
        duplicate_of: Option<i64>,
        created: DateTime<Utc>,
    ) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Int8)]
            id: i64,
        }
        let opt = |v: Option<i64>| v.map_or("NULL".to_owned(), |v| v.to_string());
        let sql = format!(
            "INSERT INTO tickets (title, requester_id, organization_id, priority, category, assignee_id, status, duplicate_of, created_at)
             VALUES ('{title}', {}, {}, {priority}, '{category}', {}, '{status}', {}, {}) RETURNING id",
            self.requester,
            opt(org),
            opt(assignee),
            opt(duplicate_of),
            ts(created)
        );
        let rows: Vec<Id> = diesel::sql_query(sql).load(self.conn).await.unwrap();
        rows[0].id
    }

    async fn move_(
        &mut self,
        ticket: i64,
        from: Option<&str>,
        to: &str,
        by: Option<i64>,
        when: DateTime<Utc>,
    ) {
        let sql = format!(
            "INSERT INTO ticket_transitions (ticket_id, from_status, to_status, by_id, at) VALUES ({ticket}, {}, '{to}', {}, {})",
            from.map_or("NULL".to_owned(), |f| format!("'{f}'")),
            by.map_or("NULL".to_owned(), |b| b.to_string()),
            ts(when)
        );
        exec(self.conn, &sql).await;
    }

    async fn link(&mut self, ticket: i64, model: Option<i64>, outcome: &str, when: DateTime<Utc>) {
        let sql = format!(
            "INSERT INTO ticket_models (ticket_id, model_id, revision, outcome, missing, created_at)
             VALUES ({ticket}, {m}, {r}, '{outcome}', 'x', {})
             ON CONFLICT {target} DO UPDATE SET outcome = EXCLUDED.outcome",
            ts(when),
            m = model.map_or("NULL".to_owned(), |m| m.to_string()),
            r = if model.is_some() { "1" } else { "NULL" },
            // A ticket links a model once: linking it again updates the
            // outcome (as the ticket service does).
            target = if model.is_some() {
                "(ticket_id, model_id) WHERE model_id IS NOT NULL"
            } else {
                "(ticket_id) WHERE model_id IS NULL"
            },
        );
        exec(self.conn, &sql).await;
    }

    async fn escalate(&mut self, ticket: i64, from: i64, followed: &str, when: DateTime<Utc>) {
        let sql = format!(
            "INSERT INTO escalations (ticket_id, from_id, to_team, followed_model, reason, created_at)
             VALUES ({ticket}, {from}, 'dba', '{followed}', 'r', {})",
            ts(when)
        );
        exec(self.conn, &sql).await;
    }

    async fn reply(&mut self, ticket: i64, author: i64, visibility: &str, when: DateTime<Utc>) {
        let sql = format!(
            "INSERT INTO journal_entries (ticket_id, author_id, kind, visibility, body, created_at)
             VALUES ({ticket}, {author}, 'reply', '{visibility}', 'On it', {})",
            ts(when)
        );
        exec(self.conn, &sql).await;
    }

    async fn search(
        &mut self,
        ticket: i64,
        user: i64,
        q: &str,
        results: &str,
        picked: Option<&str>,
        when: DateTime<Utc>,
    ) {
        let sql = format!(
            "INSERT INTO triage_searches (ticket_id, user_id, query, results, picked, created_at)
             VALUES ({ticket}, {user}, '{q}', '{results}'::jsonb, {}, {})",
            picked.map_or("NULL".to_owned(), |p| format!("'{p}'")),
            ts(when)
        );
        exec(self.conn, &sql).await;
    }

    async fn exclude(&mut self, ticket: i64) {
        exec(
            self.conn,
            &format!(
                "INSERT INTO metric_exclusions (ticket_id, reason) VALUES ({ticket}, 'game day')"
            ),
        )
        .await;
    }
}

/// A small deterministic generator (no dependency, same data every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

struct World {
    engineers: Vec<User>,
    orgs: Vec<i64>,
}

/// 240 tickets over four months with every kind of fact, plus the models.
async fn generate(conn: &mut AsyncPgConnection) -> World {
    let acme = fixtures::organization(conn, "Reports Acme").await;
    let beta = fixtures::organization(conn, "Reports Beta").await;
    let customer = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(conn)
        .await;
    let mut engineers = Vec::new();
    for _ in 0..3 {
        engineers.push(fixtures::user().role(Role::Engineer).create(conn).await);
    }
    let e: Vec<i64> = engineers.iter().map(|u| u.id).collect();
    let mut s = Seed {
        conn,
        requester: customer.id,
    };
    let t0 = at("2026-08-01T00:00:00Z");
    let models = [
        s.model(
            "db-disk-full",
            "database",
            "published",
            Some(e[0]),
            Some(at("2026-10-20T00:00:00Z")),
            at("2025-01-01T00:00:00Z"),
        )
        .await,
        s.model(
            "web-502",
            "web",
            "published",
            None,
            None,
            at("2026-02-01T00:00:00Z"),
        )
        .await,
        s.model(
            "old-vpn",
            "network",
            "retired",
            Some(e[1]),
            Some(at("2025-01-01T00:00:00Z")),
            at("2025-01-01T00:00:00Z"),
        )
        .await,
        s.model(
            "unused",
            "network",
            "published",
            None,
            Some(at("2025-06-01T00:00:00Z")),
            at("2025-01-01T00:00:00Z"),
        )
        .await,
        s.model(
            "db-slow",
            "database",
            "draft",
            Some(e[2]),
            Some(at("2026-05-01T00:00:00Z")),
            at("2026-05-01T00:00:00Z"),
        )
        .await,
    ];
    let keys = ["db-disk-full", "web-502", "old-vpn", "unused", "db-slow"];
    let titles = [
        "Disk full",
        "disk full ",
        "502 on checkout",
        "VPN down",
        "Slow queries",
        "Printer on fire",
    ];
    let categories = ["database", "web", "network", ""];
    let mut rng = Lcg(42);
    let mut ids: Vec<i64> = Vec::new();
    for i in 0..240 {
        let created = t0 + Duration::minutes(rng.next(120 * 24 * 60) as i64);
        let category = categories[rng.next(4) as usize];
        let title = titles[rng.next(titles.len() as u64) as usize];
        let priority = 1 + rng.next(4) as i16;
        let org = match rng.next(3) {
            0 => Some(acme.id),
            1 => Some(beta.id),
            _ => None,
        };
        let assignee = match rng.next(4) {
            3 => None,
            n => Some(e[n as usize]),
        };
        // What happened to it: 0 open, 1 triaged only, 2..=5 resolved,
        // 6 resolved then closed, 7 reopened and resolved again, 8
        // reopened and still open, 9 duplicate.
        let fate = rng.next(10);
        let duplicate_of = if fate == 9 && !ids.is_empty() {
            Some(ids[rng.next(ids.len() as u64) as usize])
        } else {
            None
        };
        let status = match (fate, duplicate_of) {
            (_, Some(_)) => "closed",
            (0, _) => "new",
            (1, _) => "triaged",
            (6, _) => "closed",
            (8, _) => "in_progress",
            _ => "resolved",
        };
        let id = s
            .ticket(
                title,
                category,
                priority,
                org,
                assignee,
                status,
                duplicate_of,
                created,
            )
            .await;
        ids.push(id);
        let triager = match rng.next(5) {
            4 => None,
            n => Some(e[(n % 3) as usize]),
        };
        let mut now = created;
        if fate >= 1 {
            now += Duration::minutes(1 + rng.next(600) as i64);
            s.move_(id, Some("new"), "triaged", triager, now).await;
        }
        if duplicate_of.is_some() {
            now += Duration::minutes(5);
            s.move_(id, Some("triaged"), "closed", triager, now).await;
        } else if fate >= 2 {
            now += Duration::minutes(1 + rng.next(60) as i64);
            s.move_(id, Some("triaged"), "in_progress", triager, now)
                .await;
            now += Duration::minutes(1 + rng.next(5 * 24 * 60) as i64);
            s.move_(id, Some("in_progress"), "resolved", triager, now)
                .await;
            if fate >= 7 {
                now += Duration::minutes(1 + rng.next(3 * 24 * 60) as i64);
                s.move_(id, Some("resolved"), "in_progress", triager, now)
                    .await;
                if fate == 7 {
                    now += Duration::minutes(1 + rng.next(10 * 24 * 60) as i64);
                    s.move_(id, Some("in_progress"), "resolved", triager, now)
                        .await;
                }
            }
            if fate == 6 {
                now += Duration::hours(1);
                s.move_(id, Some("resolved"), "closed", triager, now).await;
            }
        }
        // Links: none, one, or two (sometimes the same model twice).
        let links = rng.next(4);
        let mut first_model = None;
        for _ in 0..links.min(2) {
            let when = created + Duration::minutes(rng.next(3000) as i64);
            match rng.next(5) {
                0 => s.link(id, None, "no_fit", when).await,
                n => {
                    // Never "unused" (index 3): it is the retire candidate.
                    let m = first_model.unwrap_or(models[[0, 1, 2, 4][(n as usize + i) % 4]]);
                    first_model = Some(m);
                    let outcome = if rng.next(3) == 0 {
                        "partial"
                    } else {
                        "resolved"
                    };
                    s.link(id, Some(m), outcome, when).await;
                }
            }
        }
        if rng.next(4) == 0 {
            let followed = ["yes", "no", "no_model"][rng.next(3) as usize];
            let when = created + Duration::minutes(rng.next(4000) as i64);
            s.escalate(id, e[0], followed, when).await;
        }
        if rng.next(3) != 0 {
            let when = created + Duration::minutes(1 + rng.next(900) as i64);
            s.reply(id, e[i % 3], "public", when).await;
        }
        if rng.next(5) == 0 {
            // The customer's own reply never counts as the team's.
            s.reply(id, customer.id, "public", created + Duration::minutes(1))
                .await;
        }
        for _ in 0..rng.next(3) {
            let when = created + Duration::minutes(rng.next(200) as i64);
            let (q, results, picked) = match rng.next(5) {
                0 => ("zebra unicorn disk", "[]".to_owned(), None),
                1 => ("Printer FIRE, smoke!", "[]".to_owned(), None),
                2 => (
                    "disk",
                    format!(r#"[{{"key":"{}"}},{{"key":"web-502"}}]"#, keys[0]),
                    Some(keys[0]),
                ),
                3 => (
                    "slow",
                    r#"[{"key":"a"},{"nokey":1},{"key":"b"},{"key":"db-slow"}]"#.to_owned(),
                    Some("db-slow"),
                ),
                _ => (
                    "vpn",
                    r#"[{"key":"x"},{"key":"old-vpn"}]"#.to_owned(),
                    Some(if i % 2 == 0 { "old-vpn" } else { "gone" }),
                ),
            };
            s.search(id, e[i % 3], q, &results, picked, when).await;
        }
        if i % 37 == 5 {
            s.exclude(id).await;
        }
    }
    // A rota for most weeks (some weeks nobody), and sampled triage
    // reviews with scores (one not scored).
    exec(
        s.conn,
        &format!(
            "INSERT INTO rota_weeks (week_start, triager_id)
             SELECT w::date, (ARRAY[{}, {}, {}])[1 + (k % 3)]
             FROM generate_series(0, 25) k, LATERAL (SELECT '2026-07-27'::date + k * 7 AS w) x
             WHERE k % 5 <> 3",
            engineers[0].id, engineers[1].id, engineers[2].id
        ),
    )
    .await;
    exec(
        s.conn,
        &format!(
            "INSERT INTO triage_reviews (ticket_id, week_start, triager_id, reviewer_id, right_model,
                 duplicates_checked, searches_good, reply_fast, escalated_right, score)
             SELECT t.id, date_trunc('week', t.created_at)::date, (ARRAY[{}, {}, {}])[1 + (t.id % 3)], {},
                    'yes', 'no', 'yes', 'na', 'na',
                    CASE WHEN t.id % 11 = 0 THEN NULL ELSE ((t.id * 37) % 101)::int2 END
             FROM tickets t WHERE t.id % 4 = 1",
            engineers[0].id, engineers[1].id, engineers[2].id, engineers[0].id
        ),
    )
    .await;
    // Improvement items about some models: open, in progress, done, won't do.
    exec(
        s.conn,
        &format!(
            "INSERT INTO improvements (title, kind, model_id, priority, status, reason, created_by)
             SELECT 'Fix ' || m.key, 'update_model', m.id, 2, st, CASE WHEN st = 'wont_do' THEN 'no' ELSE '' END, {}
             FROM incident_models m, unnest(ARRAY['open', 'in_progress', 'done', 'wont_do']) st
             WHERE m.id % 3 = 0 AND (st <> 'in_progress' OR m.id % 2 = 0)",
            engineers[0].id
        ),
    )
    .await;
    World {
        engineers,
        orgs: vec![acme.id, beta.id],
    }
}

#[actix_web::test]
async fn reports_sql_agrees_with_the_reference_on_generated_data() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let world = generate(&mut conn).await;
    let facts = casebook::db::reports::facts(&mut conn).await.unwrap();
    let mut queries = vec![
        query("2026-08-01", "2026-12-31", "UTC"),
        query("2026-09-01", "2026-09-30", "UTC"),
        query("2026-09-01", "2026-09-30", "Asia/Kolkata"),
        query("2026-10-05", "2026-10-11", "America/Los_Angeles"),
        query("2026-10-05", "2026-10-05", "Pacific/Kiritimati"),
        // Across the daylight-saving ends: Europe on 10-25, the US on 11-01.
        query("2026-10-19", "2026-11-08", "Europe/Berlin"),
        query("2026-10-26", "2026-11-08", "America/New_York"),
        query("2026-08-01", "2026-12-31", "America/New_York"),
    ];
    let mut filtered = query("2026-08-01", "2026-12-31", "UTC");
    filtered.filters.category = Some("database".into());
    queries.push(filtered.clone());
    filtered.filters.category = None;
    filtered.filters.priority = Some(2);
    filtered.filters.organization = Some(world.orgs[0]);
    queries.push(filtered.clone());
    filtered.filters = Filters {
        assignee: Some(world.engineers[1].id),
        ..Filters::default()
    };
    filtered.verify_by_days = 30;
    queries.push(filtered);
    // Priority alone reads the monthly model counts (as category does);
    // an edge of the period inside a month, in a zone west of UTC.
    let mut by_priority = query("2026-08-20", "2026-11-12", "America/Chicago");
    by_priority.filters.priority = Some(3);
    queries.push(by_priority);
    // A second connection for half of the tables, in the same snapshot.
    let mut other = app.conn().await;
    let mut nonempty = 0;
    for q in &queries {
        let sql = casebook::db::reports::report(&mut conn, q).await.unwrap();
        let plain = reference::report(&facts, q);
        let shared =
            casebook::db::reports::report_parts_on(&mut conn, Some(&mut other), q, &Part::ALL)
                .await
                .unwrap();
        assert_eq!(shared, plain, "tables on two connections differ for {q:?}");
        assert_eq!(
            casebook::db::reports::headline(&mut conn, q).await.unwrap(),
            Headline::of(&plain),
            "headline differs for {q:?}"
        );
        // The overview reads its tables and headline in one query, and the
        // period before on the other connection (or after, on one).
        let p = q.period;
        let before = ReportQuery {
            period: Period::days(
                p.first_day - Duration::days(40),
                p.first_day - Duration::days(1),
                p.tz,
            ),
            ..q.clone()
        };
        let plain_before = reference::report(&facts, &before);
        for second in [true, false] {
            let ov = casebook::db::reports::overview(
                &mut conn,
                second.then_some(&mut other),
                q,
                &before,
            )
            .await
            .unwrap();
            assert_eq!(ov.report.volume, plain.volume, "overview volume for {q:?}");
            assert_eq!(ov.report.mix, plain.mix, "overview mix for {q:?}");
            assert_eq!(
                ov.report.links_by_week, plain.links_by_week,
                "overview links by week for {q:?}"
            );
            assert_eq!(ov.report.links_total, plain.links_total, "{q:?}");
            assert_eq!(ov.report.searches, plain.searches, "{q:?}");
            assert_eq!(
                ov.headline,
                Headline::of(&plain),
                "overview headline for {q:?}"
            );
            assert_eq!(
                ov.previous,
                Headline::of(&plain_before),
                "previous for {q:?}"
            );
            assert_eq!(ov.previous_searches, plain_before.searches, "{q:?}");
        }
        macro_rules! same {
            ($($field:ident),*) => {$(
                assert_eq!(sql.$field, plain.$field, "{} differs for {q:?}", stringify!($field));
            )*};
        }
        same!(
            volume,
            mix,
            links_total,
            links_by_category,
            links_by_week,
            links_by_triager,
            gaps,
            models,
            resolution,
            triage,
            triage_by_rota,
            triage_reviews,
            searches,
            empty_words
        );
        if sql.links_total.resolved > 0 && !sql.gaps.is_empty() && sql.searches.empty > 0 {
            nonempty += 1;
        }
    }
    // The data exercise the measures, not just empty tables.
    assert!(nonempty >= 4, "only {nonempty} queries had data");
    let all = casebook::db::reports::report(&mut conn, &queries[0])
        .await
        .unwrap();
    assert!(
        all.models
            .iter()
            .any(|m| m.retire_candidate && m.key == "unused")
    );
    assert!(all.models.iter().any(|m| m.escalations_after > 0));
    assert!(all.models.iter().any(|m| m.open_items >= 1));
    assert!(
        all.triage_by_rota.len() >= 3
            && all.triage_by_rota.iter().any(|r| r.triager == "(no rota)")
    );
    assert!(all.triage_by_rota.iter().any(|r| r.by_holder > 0));
    assert!(
        all.triage_reviews
            .iter()
            .any(|r| r.score.is_some() && r.reviews > 1)
    );
    assert!(all.models.iter().any(|m| m.open_items == 0));
    assert!(all.resolution.iter().any(|r| r.reopened > 0));
    assert!(all.searches.rank_4_plus > 0 && all.searches.not_listed > 0 && all.searches.rank_1 > 0);
    assert!(all.empty_words.iter().any(|w| w.word == "printer"));
}

/// The weekly tables read each week as an index range when
/// `report_weeks` vouches for the week bounds, and find each row's week by
/// the definition when it cannot (no zone needs that in 2025–2026, so this
/// test makes it answer NULLs): both ways equal the reference.
#[actix_web::test]
async fn weekly_tables_agree_with_the_reference_when_week_bounds_are_not_vouched() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    generate(&mut conn).await;
    let facts = casebook::db::reports::facts(&mut conn).await.unwrap();
    exec(
        &mut conn,
        "CREATE OR REPLACE FUNCTION report_weeks(from_at TIMESTAMPTZ, to_at TIMESTAMPTZ, zone TEXT,
                                                 OUT bounds TIMESTAMPTZ[], OUT weeks DATE[])
         LANGUAGE sql STABLE AS $$ SELECT NULL::timestamptz[], NULL::date[] $$",
    )
    .await;
    let mut other = app.conn().await;
    for q in [
        query("2026-08-01", "2026-12-31", "UTC"),
        query("2026-09-01", "2026-09-30", "Asia/Kolkata"),
        query("2026-10-19", "2026-11-08", "Europe/Berlin"),
        query("2026-08-01", "2026-12-31", "America/New_York"),
    ] {
        let plain = reference::report(&facts, &q);
        assert!(
            !plain.triage.is_empty() && !plain.triage_by_rota.is_empty(),
            "{q:?}"
        );
        let sql = casebook::db::reports::report(&mut conn, &q).await.unwrap();
        assert_eq!(sql.triage, plain.triage, "triage for {q:?}");
        assert_eq!(sql.triage_by_rota, plain.triage_by_rota, "rota for {q:?}");
        assert_eq!(sql.volume, plain.volume, "volume for {q:?}");
        assert_eq!(sql.links_by_week, plain.links_by_week, "links for {q:?}");
        let ov = casebook::db::reports::overview(&mut conn, Some(&mut other), &q, &q)
            .await
            .unwrap();
        assert_eq!(ov.report.volume, plain.volume, "overview volume for {q:?}");
        assert_eq!(ov.report.mix, plain.mix, "overview mix for {q:?}");
        assert_eq!(ov.report.links_by_week, plain.links_by_week, "{q:?}");
        assert_eq!(
            ov.headline,
            Headline::of(&plain),
            "overview headline for {q:?}"
        );
    }
}

/// Hand-counted: reopened, linked twice, duplicate, excluded, retired
/// model, period boundaries, and the viewer's zone.
#[actix_web::test]
async fn edge_cases_count_as_defined() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let customer = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(&mut conn)
        .await;
    let eng = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let mut s = Seed {
        conn: &mut conn,
        requester: customer.id,
    };
    let live = s
        .model(
            "live",
            "db",
            "published",
            None,
            Some(at("2026-10-01T00:00:00Z")),
            at("2026-01-01T00:00:00Z"),
        )
        .await;
    let retired = s
        .model(
            "gone",
            "db",
            "retired",
            None,
            None,
            at("2026-01-01T00:00:00Z"),
        )
        .await;
    // Period: 2026-10-01 .. 2026-10-07 UTC = [10-01T00:00, 10-08T00:00).
    let d = |s: &str| at(&format!("2026-10-{s}Z"));
    // A: reopened, resolved twice inside the period, linked twice to the same model.
    let a = s
        .ticket(
            "Disk full",
            "db",
            1,
            None,
            None,
            "resolved",
            None,
            d("01T00:00:00"),
        )
        .await;
    s.move_(a, Some("new"), "triaged", Some(eng.id), d("01T01:00:00"))
        .await;
    s.move_(a, Some("in_progress"), "resolved", None, d("02T00:00:00"))
        .await;
    s.move_(a, Some("resolved"), "in_progress", None, d("03T00:00:00"))
        .await;
    s.move_(a, Some("in_progress"), "resolved", None, d("04T00:00:00"))
        .await;
    s.link(a, Some(live), "partial", d("01T02:00:00")).await;
    s.link(a, Some(live), "resolved", d("03T02:00:00")).await;
    s.escalate(a, eng.id, "yes", d("03T03:00:00")).await;
    // B: linked to a model retired since: still a link.
    let b = s
        .ticket(
            "disk FULL",
            "db",
            1,
            None,
            None,
            "closed",
            None,
            d("02T00:00:00"),
        )
        .await;
    s.move_(b, Some("in_progress"), "resolved", None, d("02T06:00:00"))
        .await;
    s.link(b, Some(retired), "resolved", d("02T01:00:00")).await;
    // C: a duplicate: opened, never resolved.
    let c = s
        .ticket(
            "Disk full",
            "db",
            1,
            None,
            None,
            "closed",
            Some(a),
            d("02T00:00:00"),
        )
        .await;
    s.move_(c, Some("new"), "closed", None, d("02T00:10:00"))
        .await;
    // D: excluded: nowhere.
    let dx = s
        .ticket(
            "Disk full",
            "db",
            1,
            None,
            None,
            "resolved",
            None,
            d("02T00:00:00"),
        )
        .await;
    s.move_(dx, Some("in_progress"), "resolved", None, d("02T01:00:00"))
        .await;
    s.exclude(dx).await;
    // E: resolved exactly at the end of the period: not in it; no link.
    let e = s
        .ticket(
            "Printer",
            "hw",
            2,
            None,
            None,
            "resolved",
            None,
            d("06T00:00:00"),
        )
        .await;
    s.move_(e, Some("in_progress"), "resolved", None, d("08T00:00:00"))
        .await;
    // F: created a second before the period: not opened in it; "no model fits".
    let f = s
        .ticket(
            "Printer",
            "hw",
            2,
            None,
            None,
            "resolved",
            None,
            at("2026-09-30T23:59:59Z"),
        )
        .await;
    s.move_(f, Some("in_progress"), "resolved", None, d("07T23:59:59"))
        .await;
    s.link(f, None, "no_fit", d("07T00:00:00")).await;

    let q = query("2026-10-01", "2026-10-07", "UTC");
    let r = casebook::db::reports::report(&mut conn, &q).await.unwrap();
    let facts = casebook::db::reports::facts(&mut conn).await.unwrap();
    assert_eq!(r, reference::report(&facts, &q));

    // Opened: A, B, C, E (D excluded, F before the period).
    assert_eq!(r.volume.iter().map(|v| v.opened).sum::<i64>(), 4);
    // Resolved: A (once, though resolved twice), B, F; not C (duplicate), D, E.
    let t = &r.links_total;
    assert_eq!(
        (t.resolved, t.by_model, t.partly, t.no_fit, t.no_link),
        (3, 2, 0, 1, 0)
    );
    let live_row = r.models.iter().find(|m| m.key == "live").unwrap();
    assert_eq!(
        (
            live_row.uses_period,
            live_row.resolved_period,
            live_row.partial_period
        ),
        // Linked "partial", then again "resolved": one link, its outcome
        // updated (a ticket links a model once).
        (1, 1, 0)
    );
    assert_eq!(live_row.escalations_after, 1);
    // A took 3 days to its final resolution.
    assert_eq!(live_row.median_secs, Some(3 * 86_400));
    let gone = r.models.iter().find(|m| m.key == "gone").unwrap();
    assert!(
        !gone.stale && !gone.retire_candidate,
        "a retired model is neither"
    );
    // Reopened: A, with a model.
    let p1_with = r
        .resolution
        .iter()
        .find(|x| x.dimension == "priority" && x.value == "P1" && x.with_model)
        .unwrap();
    assert_eq!(
        (p1_with.tickets, p1_with.reopened, p1_with.escalated),
        (2, 1, 1)
    );
    // Titles group without case: F is the only gap ("printer", no fit).
    assert_eq!(r.gaps.len(), 1);
    assert_eq!(
        (
            r.gaps[0].title.as_str(),
            r.gaps[0].no_fit,
            r.gaps[0].examples.clone()
        ),
        ("printer", 1, vec![f])
    );
    // Triager of A named; B was never triaged.
    assert!(
        r.links_by_triager
            .iter()
            .any(|l| l.group == eng.display_name && l.resolved == 1)
    );
    assert!(
        r.links_by_triager
            .iter()
            .any(|l| l.group == "(not triaged)" && l.resolved == 2)
    );

    // In a zone 14 hours east, F's creation (09-30 23:59:59 UTC) is on
    // 10-01, and its resolution (10-07 23:59:59 UTC) on 10-08: opened in
    // the period, not resolved in it.
    let east = query("2026-10-01", "2026-10-07", "Pacific/Kiritimati");
    let r = casebook::db::reports::report(&mut conn, &east)
        .await
        .unwrap();
    assert_eq!(r, reference::report(&facts, &east));
    assert!(r.triage.iter().map(|t| t.opened).sum::<i64>() >= 1);
    assert!(r.gaps.is_empty());
}

async fn one(conn: &mut AsyncPgConnection, sql: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::Int8)]
        n: i64,
    }
    let rows: Vec<N> = diesel::sql_query(sql).load(conn).await.unwrap();
    rows[0].n
}

/// Rows where the kept facts and a fresh computation from the source
/// tables differ (0 when the triggers kept them right).
async fn stale_facts(conn: &mut AsyncPgConnection) -> i64 {
    let mut stale = 0;
    for table in [
        "ticket_report_facts",
        "ticket_link_facts",
        "triage_search_facts",
    ] {
        stale += one(
            conn,
            &format!(
                "SELECT count(*) AS n FROM (
                    (SELECT * FROM {table} EXCEPT SELECT * FROM {table}_source)
                    UNION ALL
                    (SELECT * FROM {table}_source EXCEPT SELECT * FROM {table})
                 ) d"
            ),
        )
        .await;
    }
    stale + stale_months(conn).await + stale_days(conn).await
}

/// Rows where the overview's day counts and a recount of the facts differ
/// (a kept row that fell to zero counts as no row).
async fn stale_days(conn: &mut AsyncPgConnection) -> i64 {
    let tickets = one(
        conn,
        "WITH recount AS (
            SELECT c.side, c.day, c.priority, c.category, sum(c.n) AS n, sum(c.b3) AS b3,
                   sum(c.b2) AS b2, sum(c.b1) AS b1, sum(c.w_esc) AS w_esc,
                   sum(c.w_back) AS w_back, sum(c.o_esc) AS o_esc, sum(c.o_back) AS o_back,
                   sum(c.dups) AS dups, sum(c.searches) AS searches
            FROM ticket_report_facts f, report_day_tickets_of(f, 1) c GROUP BY 1, 2, 3, 4
         ),
         kept AS (SELECT * FROM report_day_tickets WHERE n <> 0)
         SELECT count(*) AS n FROM (
            (SELECT * FROM kept EXCEPT SELECT * FROM recount)
            UNION ALL
            (SELECT * FROM recount EXCEPT SELECT * FROM kept)
         ) d",
    )
    .await;
    let searches = one(
        conn,
        "WITH recount AS (
            SELECT c.day, c.priority, c.category, sum(c.searches) AS searches,
                   sum(c.empty) AS empty, sum(c.picked) AS picked, sum(c.rank_1) AS rank_1,
                   sum(c.rank_2_3) AS rank_2_3, sum(c.rank_4_plus) AS rank_4_plus,
                   sum(c.not_listed) AS not_listed
            FROM triage_search_facts s, report_day_searches_of(s, 1) c GROUP BY 1, 2, 3
         ),
         kept AS (SELECT * FROM report_day_searches WHERE searches <> 0)
         SELECT count(*) AS n FROM (
            (SELECT * FROM kept EXCEPT SELECT * FROM recount)
            UNION ALL
            (SELECT * FROM recount EXCEPT SELECT * FROM kept)
         ) d",
    )
    .await;
    tickets + searches
}

/// Rows where the monthly model counts and a recount of the link facts
/// differ.
async fn stale_months(conn: &mut AsyncPgConnection) -> i64 {
    one(
        conn,
        "WITH recount AS (
            SELECT model_id, date_trunc('month', created_at, 'UTC') AS month, category, priority,
                   count(*) AS uses, max(created_at) AS last_at
            FROM ticket_link_facts WHERE NOT excluded GROUP BY 1, 2, 3, 4
         ),
         kept AS (SELECT model_id, month, category, priority, uses, last_at FROM model_use_months)
         SELECT count(*) AS n FROM (
            (SELECT * FROM kept EXCEPT SELECT * FROM recount)
            UNION ALL
            (SELECT * FROM recount EXCEPT SELECT * FROM kept)
         ) d",
    )
    .await
}

/// The facts the reports read are kept by the database as each fact is
/// written: after a reopen, a relink, an exclusion and its undoing, a
/// correction, a duplicate marking and deletions, the kept rows equal a
/// fresh computation, and the measures still equal the reference.
#[actix_web::test]
async fn kept_facts_follow_reopens_relinks_exclusions_and_corrections() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let world = generate(&mut conn).await;
    let wide = query("2026-08-01", "2026-12-31", "UTC");
    let mut by_category = wide.clone();
    by_category.filters.category = Some("network".into());
    let check = async |conn: &mut AsyncPgConnection, step: &str| {
        assert_eq!(stale_facts(conn).await, 0, "facts stale after {step}");
        let facts = casebook::db::reports::facts(conn).await.unwrap();
        for q in [&wide, &by_category] {
            let sql = casebook::db::reports::report(conn, q).await.unwrap();
            let plain = reference::report(&facts, q);
            assert_eq!(
                casebook::db::reports::headline(conn, q).await.unwrap(),
                Headline::of(&plain),
                "headline after {step}"
            );
            assert_eq!(sql, plain, "after {step}");
        }
    };
    check(&mut conn, "generating").await;
    let eng = world.engineers[0].id;
    let resolved: Vec<i64> = {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Int8)]
            ticket_id: i64,
        }
        let rows: Vec<Id> = diesel::sql_query(
            "SELECT ticket_id FROM ticket_report_facts WHERE resolved_at IS NOT NULL
             ORDER BY ticket_id LIMIT 3",
        )
        .load(&mut conn)
        .await
        .unwrap();
        rows.into_iter().map(|r| r.ticket_id).collect()
    };
    let (a, b, c) = (resolved[0], resolved[1], resolved[2]);
    let model = one(&mut conn, "SELECT min(id) AS n FROM incident_models").await;
    let requester = one(&mut conn, "SELECT min(requester_id) AS n FROM tickets").await;
    let mut s = Seed {
        conn: &mut conn,
        requester,
    };
    // Reopened: no longer resolved, then resolved again later.
    exec(
        s.conn,
        &format!("UPDATE tickets SET status = 'in_progress' WHERE id = {a}"),
    )
    .await;
    s.move_(
        a,
        Some("resolved"),
        "in_progress",
        Some(eng),
        at("2026-11-20T10:00:00Z"),
    )
    .await;
    check(s.conn, "a reopen").await;
    exec(
        s.conn,
        &format!("UPDATE tickets SET status = 'resolved' WHERE id = {a}"),
    )
    .await;
    s.move_(
        a,
        Some("in_progress"),
        "resolved",
        Some(eng),
        at("2026-11-21T10:00:00Z"),
    )
    .await;
    check(s.conn, "resolving again").await;
    // Relinked: the same model with another outcome, then a no-fit row.
    s.link(b, Some(model), "partial", at("2026-11-02T10:00:00Z"))
        .await;
    s.link(b, Some(model), "resolved", at("2026-11-02T11:00:00Z"))
        .await;
    s.link(b, None, "no_fit", at("2026-11-02T12:00:00Z")).await;
    check(s.conn, "relinking").await;
    // A model link on the ticket that is excluded and corrected next, so
    // the monthly counts move with it.
    s.link(c, Some(model), "resolved", at("2026-10-15T10:00:00Z"))
        .await;
    check(s.conn, "linking").await;
    // Excluded, then counted again.
    s.exclude(c).await;
    check(s.conn, "an exclusion").await;
    exec(
        s.conn,
        &format!("DELETE FROM metric_exclusions WHERE ticket_id = {c}"),
    )
    .await;
    check(s.conn, "counting again").await;
    // Corrected category and priority; marked a duplicate; an escalation,
    // a reply and a search added; a link and an escalation removed.
    exec(
        s.conn,
        &format!("UPDATE tickets SET category = 'network', priority = 1, title = '  VPN Down ' WHERE id = {c}"),
    )
    .await;
    exec(
        s.conn,
        &format!("UPDATE tickets SET duplicate_of = {a} WHERE id = {b}"),
    )
    .await;
    s.escalate(c, eng, "yes", at("2026-11-03T10:00:00Z")).await;
    s.reply(c, eng, "public", at("2026-11-03T11:00:00Z")).await;
    s.search(c, eng, "vpn down", "[]", None, at("2026-11-03T09:00:00Z"))
        .await;
    check(s.conn, "corrections and new facts").await;
    exec(
        s.conn,
        &format!("DELETE FROM ticket_models WHERE ticket_id = {b}"),
    )
    .await;
    exec(
        s.conn,
        &format!("DELETE FROM escalations WHERE ticket_id = {c}"),
    )
    .await;
    check(s.conn, "deletions").await;
    // A search's facts go with it (a cascade, not the refresh), and a
    // rebuild of every fact recounts the overview's day counts.
    exec(
        s.conn,
        &format!("DELETE FROM triage_searches WHERE ticket_id = {c}"),
    )
    .await;
    check(s.conn, "a search's deletion").await;
    exec(s.conn, "SELECT report_facts_rebuild()").await;
    check(s.conn, "a rebuild").await;
}

/// The facts of a transaction's tickets are refreshed once, at its commit:
/// several statements on the same tickets (one rolled back to a savepoint)
/// leave the kept rows equal to a fresh computation once committed, and
/// nothing noted for the refresh outlives the transaction.
#[actix_web::test]
async fn facts_are_refreshed_at_commit_after_several_statements() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let eng = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let opened = |n: usize| {
        format!(
            "INSERT INTO tickets (title, requester_id, priority, category)
             SELECT 'Disk full ' || g, {}, 2, 'storage' FROM generate_series(1, {n}) g",
            eng.id
        )
    };
    exec(&mut conn, "BEGIN").await;
    exec(&mut conn, &opened(3)).await;
    let first = one(&mut conn, "SELECT max(id) AS n FROM tickets").await;
    exec(
        &mut conn,
        &format!(
            "INSERT INTO ticket_transitions (ticket_id, to_status, by_id)
             SELECT id, 'new', {} FROM tickets WHERE id > {first} - 3",
            eng.id
        ),
    )
    .await;
    exec(&mut conn, "SAVEPOINT undone").await;
    exec(&mut conn, &opened(1)).await;
    exec(&mut conn, "ROLLBACK TO SAVEPOINT undone").await;
    exec(
        &mut conn,
        &format!("UPDATE tickets SET status = 'triaged', title = 'Disk Full!' WHERE id = {first}"),
    )
    .await;
    exec(
        &mut conn,
        &format!(
            "INSERT INTO ticket_transitions (ticket_id, from_status, to_status, by_id)
             VALUES ({first}, 'new', 'triaged', {})",
            eng.id
        ),
    )
    .await;
    exec(
        &mut conn,
        &format!(
            "INSERT INTO journal_entries (ticket_id, author_id, kind, visibility, body)
             VALUES ({first}, {}, 'reply', 'public', 'Looking at it.')",
            eng.id
        ),
    )
    .await;
    exec(&mut conn, "COMMIT").await;
    assert_eq!(stale_facts(&mut conn).await, 0);
    assert_eq!(
        one(&mut conn, "SELECT count(*) AS n FROM ticket_report_facts").await,
        3
    );
    let triaged_and_replied = one(
        &mut conn,
        &format!(
            "SELECT count(*) AS n FROM ticket_report_facts WHERE ticket_id = {first}
               AND title_key = 'disk full!' AND triaged_by = {} AND first_reply_at IS NOT NULL",
            eng.id
        ),
    )
    .await;
    assert_eq!(triaged_and_replied, 1);
    assert_eq!(
        one(&mut conn, "SELECT count(*) AS n FROM report_facts_dirty").await,
        0
    );
}

/// A transaction whose only change to a ticket is new recorded searches
/// refreshes just the search facts (the `searches` count and the new
/// searches' rows), and that leaves exactly the rows the whole refresh
/// leaves: after searches alone (one, several in one statement, on several
/// tickets, with and without results and picks), after a search together
/// with another change to the same ticket or another ticket, and after a
/// search picked in the same transaction, the kept facts equal a fresh
/// computation, and a whole refresh of every ticket changes nothing.
#[actix_web::test]
async fn new_searches_alone_refresh_only_the_search_facts_and_stay_exact() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let world = generate(&mut conn).await;
    assert_eq!(
        stale_facts(&mut conn).await,
        0,
        "facts stale after generating"
    );
    let eng = world.engineers[0].id;
    let ids: Vec<i64> = {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Int8)]
            ticket_id: i64,
        }
        let rows: Vec<Id> = diesel::sql_query(
            "SELECT ticket_id FROM ticket_report_facts ORDER BY ticket_id LIMIT 6",
        )
        .load(&mut conn)
        .await
        .unwrap();
        rows.into_iter().map(|r| r.ticket_id).collect()
    };
    let results = r#"[{"key":"vpn-down","title":"VPN down","score":3.5},{"key":"dns","title":"DNS","score":1.5}]"#;
    let search = |ticket: i64, q: &str, results: &str, picked: &str| {
        format!(
            "INSERT INTO triage_searches (ticket_id, user_id, query, results, picked)
             VALUES ({ticket}, {eng}, '{q}', '{results}'::jsonb, {picked})"
        )
    };

    // The search path is the one taken: a wrong fact it does not read
    // stays wrong (the whole refresh would mend it), the count is right.
    let a = ids[0];
    exec(
        &mut conn,
        &format!(
            "UPDATE ticket_report_facts SET escalations = escalations + 7 WHERE ticket_id = {a}"
        ),
    )
    .await;
    exec(&mut conn, &search(a, "vpn down again", results, "NULL")).await;
    let kept = one(
        &mut conn,
        &format!(
            "SELECT count(*) AS n FROM ticket_report_facts f JOIN ticket_report_facts_source s
               USING (ticket_id)
             WHERE ticket_id = {a} AND f.escalations = s.escalations + 7
               AND f.searches = s.searches"
        ),
    )
    .await;
    assert_eq!(kept, 1, "a new search alone took the whole refresh");
    exec(
        &mut conn,
        &format!("SELECT report_facts_refresh(ARRAY[{a}]::int8[])"),
    )
    .await;
    assert_eq!(stale_facts(&mut conn).await, 0, "facts stale after mending");

    // One search, no results (its words are kept), picked nothing.
    exec(
        &mut conn,
        &search(ids[1], "Printer on fire 42", "[]", "NULL"),
    )
    .await;
    assert_eq!(stale_facts(&mut conn).await, 0, "after one empty search");
    // Several searches of several tickets in one statement, one with a
    // pick already (as a recorded search never is, but the facts must
    // follow whatever is written).
    exec(
        &mut conn,
        &format!(
            "INSERT INTO triage_searches (ticket_id, user_id, query, results, picked)
             VALUES ({t1}, {eng}, 'vpn', '{results}'::jsonb, NULL),
                    ({t1}, {eng}, 'vpn tunnel', '{results}'::jsonb, 'dns'),
                    ({t2}, {eng}, 'nothing at all', '[]'::jsonb, NULL),
                    ({t3}, {eng}, 'not an array', '{{}}'::jsonb, NULL)",
            t1 = ids[1],
            t2 = ids[2],
            t3 = ids[3],
        ),
    )
    .await;
    assert_eq!(stale_facts(&mut conn).await, 0, "after several searches");
    // A search and another change to the same ticket, and a search of a
    // second ticket, in one transaction: the first takes the whole
    // refresh, the second the search refresh.
    exec(&mut conn, "BEGIN").await;
    exec(&mut conn, &search(ids[4], "vpn", results, "NULL")).await;
    exec(
        &mut conn,
        &format!(
            "UPDATE tickets SET category = 'network', priority = 1 WHERE id = {}",
            ids[4]
        ),
    )
    .await;
    exec(&mut conn, &search(ids[5], "dns", results, "NULL")).await;
    exec(&mut conn, "COMMIT").await;
    assert_eq!(
        stale_facts(&mut conn).await,
        0,
        "after a search and a correction"
    );
    // The change first, then the search.
    exec(&mut conn, "BEGIN").await;
    exec(
        &mut conn,
        &format!(
            "UPDATE tickets SET category = 'storage' WHERE id = {}",
            ids[5]
        ),
    )
    .await;
    exec(&mut conn, &search(ids[5], "disk", results, "NULL")).await;
    exec(&mut conn, "COMMIT").await;
    assert_eq!(
        stale_facts(&mut conn).await,
        0,
        "after a correction and a search"
    );
    // A search picked in its own transaction (a link from it).
    exec(&mut conn, "BEGIN").await;
    exec(&mut conn, &search(ids[2], "vpn", results, "NULL")).await;
    exec(
        &mut conn,
        &format!(
            "UPDATE triage_searches SET picked = 'vpn-down'
             WHERE id = (SELECT max(id) FROM triage_searches WHERE ticket_id = {})",
            ids[2]
        ),
    )
    .await;
    exec(&mut conn, "COMMIT").await;
    assert_eq!(
        stale_facts(&mut conn).await,
        0,
        "after a search picked at once"
    );
    // A search rolled back to a savepoint, then one kept.
    exec(&mut conn, "BEGIN").await;
    exec(&mut conn, "SAVEPOINT undone").await;
    exec(&mut conn, &search(ids[3], "gone", results, "NULL")).await;
    exec(&mut conn, "ROLLBACK TO SAVEPOINT undone").await;
    exec(&mut conn, &search(ids[3], "kept", results, "NULL")).await;
    exec(&mut conn, "COMMIT").await;
    assert_eq!(
        stale_facts(&mut conn).await,
        0,
        "after a search rolled back"
    );

    // The whole refresh of every ticket finds nothing to change.
    exec(
        &mut conn,
        "CREATE TEMP TABLE before_facts AS SELECT * FROM ticket_report_facts",
    )
    .await;
    exec(
        &mut conn,
        "CREATE TEMP TABLE before_searches AS SELECT * FROM triage_search_facts",
    )
    .await;
    exec(
        &mut conn,
        "SELECT report_facts_refresh(ARRAY(SELECT id FROM tickets ORDER BY id))",
    )
    .await;
    let changed = one(
        &mut conn,
        "SELECT count(*) AS n FROM (
            (SELECT * FROM ticket_report_facts EXCEPT SELECT * FROM before_facts)
            UNION ALL (SELECT * FROM before_facts EXCEPT SELECT * FROM ticket_report_facts)
         ) d",
    )
    .await
        + one(
            &mut conn,
            "SELECT count(*) AS n FROM (
                (SELECT * FROM triage_search_facts EXCEPT SELECT * FROM before_searches)
                UNION ALL (SELECT * FROM before_searches EXCEPT SELECT * FROM triage_search_facts)
             ) d",
        )
        .await;
    assert_eq!(changed, 0);
    assert_eq!(
        one(&mut conn, "SELECT count(*) AS n FROM report_facts_dirty").await,
        0
    );
}

/// Two transactions linking tickets to one model in one month at the same
/// time: the second's refresh waits for the first's (a lock per model and
/// month, held to the commit) and counts its link too, instead of writing a
/// count without it. The refresh runs at commit; `SET CONSTRAINTS ALL
/// IMMEDIATE` runs the first's now, as if its commit were under way.
#[actix_web::test]
async fn monthly_model_counts_take_turns_between_concurrent_links() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    generate(&mut conn).await;
    let model = one(&mut conn, "SELECT min(id) AS n FROM incident_models").await;
    let free = format!(
        "SELECT t.id AS n FROM tickets t WHERE NOT EXISTS (
            SELECT 1 FROM ticket_models m WHERE m.ticket_id = t.id AND m.model_id = {model})
           AND NOT EXISTS (SELECT 1 FROM metric_exclusions x WHERE x.ticket_id = t.id)
         ORDER BY t.id"
    );
    let a = one(&mut conn, &format!("{free} LIMIT 1")).await;
    let b = one(&mut conn, &format!("{free} OFFSET 1 LIMIT 1")).await;
    let link = |ticket: i64| {
        format!(
            "INSERT INTO ticket_models (ticket_id, model_id, revision, outcome, created_at)
             VALUES ({ticket}, {model}, 1, 'resolved', '2026-10-10T10:00:00Z')"
        )
    };
    let mut first = app.conn().await;
    let mut second = app.conn().await;
    let pid = one(&mut second, "SELECT pg_backend_pid()::int8 AS n").await;
    exec(&mut first, "BEGIN").await;
    exec(&mut first, &link(a)).await;
    exec(&mut first, "SET CONSTRAINTS ALL IMMEDIATE").await;
    let done = std::cell::Cell::new(false);
    let linking = async {
        exec(&mut second, &link(b)).await;
        done.set(true);
    };
    let committing = async {
        // Until the second link waits for a lock (or, wrongly, is done).
        let waits = format!("SELECT count(*) AS n FROM pg_locks WHERE pid = {pid} AND NOT granted");
        while !done.get() && one(&mut conn, &waits).await == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // The second link cannot be done while the first is open.
        let waited = !done.get();
        exec(&mut first, "COMMIT").await;
        waited
    };
    let ((), waited) = tokio::join!(linking, committing);
    assert!(waited, "the second link did not wait for the first");
    assert_eq!(stale_facts(&mut conn).await, 0);
    let counted = one(
        &mut conn,
        &format!(
            "SELECT COALESCE(sum(uses), 0)::int8 AS n FROM model_use_months
             WHERE model_id = {model} AND month = '2026-10-01T00:00:00Z'"
        ),
    )
    .await;
    let linked = one(
        &mut conn,
        &format!(
            "SELECT count(*) AS n FROM ticket_link_facts
             WHERE model_id = {model} AND NOT excluded
               AND created_at >= '2026-10-01T00:00:00Z' AND created_at < '2026-11-01T00:00:00Z'"
        ),
    )
    .await;
    assert!(linked >= 2);
    assert_eq!(counted, linked);
}

struct Desk {
    app: TestApp,
    manager: User,
    engineer: User,
    customer: User,
    ticket: i64,
}

async fn desk() -> Desk {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let d = fixtures::desk(&mut conn).await;
    let manager = fixtures::user().role(Role::Manager).create(&mut conn).await;
    Desk {
        app,
        manager,
        engineer: d.engineer,
        customer: d.customer,
        ticket: d.ticket,
    }
}

const PAGES: [&str; 7] = [
    "/reports",
    "/reports/links",
    "/reports/gaps",
    "/reports/models",
    "/reports/resolution",
    "/reports/triage",
    "/reports/exclusions",
];

#[actix_web::test]
async fn customers_never_see_reports_pages_csv_or_json() {
    let d = desk().await;
    let mut conn = d.app.conn().await;
    let customer = d.app.sign_in(&d.customer).await;
    let token = fixtures::api_token(&mut conn, &d.customer).await;
    let mut paths: Vec<String> = PAGES.iter().map(|p| (*p).to_owned()).collect();
    paths.push(format!("/reports/draft/{}", d.ticket));
    for part in casebook::domain::report::Part::ALL {
        paths.push(format!("/reports/export/{}", part.name()));
    }
    for path in &paths {
        let res = d.app.get_as(&customer, path).await;
        assert_eq!(res.status, 403, "{path}: {}", res.body);
        assert!(!res.body.contains("Link rate"), "{path}");
    }
    for part in casebook::domain::report::Part::ALL {
        for suffix in ["", "/csv"] {
            let path = format!("/api/v1/reports/{}{suffix}", part.name());
            let res = d.app.api_get(&token, &path).await;
            assert_eq!(res.status, 403, "{path}: {}", res.body);
            assert!(res.body.contains("you do not have access"), "{path}");
        }
    }
    // Nor may a customer exclude their ticket or draft a model from it.
    let before = casebook::db::reports::exclusions(&mut conn)
        .await
        .unwrap()
        .len();
    let res = d
        .app
        .post_as(
            &customer,
            "/reports/exclusions",
            &[("ticket", &d.ticket.to_string()), ("reason", "mine")],
        )
        .await;
    assert_eq!(res.status, 403);
    let res = d
        .app
        .post_as(
            &customer,
            &format!("/reports/draft/{}", d.ticket),
            &[(
                "text",
                "# T\nkey: t\nstatus: draft\n\n## Statement\nS\n\n## Steps\n1. a\n",
            )],
        )
        .await;
    assert_eq!(res.status, 403);
    assert_eq!(
        casebook::db::reports::exclusions(&mut conn)
            .await
            .unwrap()
            .len(),
        before
    );
    assert!(
        casebook::db::models::find_by_key(&mut conn, "t")
            .await
            .unwrap()
            .is_none()
    );

    // The team reads every page.
    let engineer = d.app.sign_in(&d.engineer).await;
    for path in PAGES {
        let res = d.app.get_as(&engineer, path).await;
        assert_eq!(res.status, 200, "{path}: {}", res.body);
    }
}

#[actix_web::test]
async fn pages_show_definitions_charts_and_numbers() {
    let d = desk().await;
    let mut conn = d.app.conn().await;
    generate(&mut conn).await;
    let manager = d.app.sign_in(&d.manager).await;
    let res = d
        .app
        .get_as(&manager, "/reports?from=2026-08-01&to=2026-12-31")
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains("<svg"), "a chart");
    assert!(
        res.body
            .contains("Share of resolved tickets with at least one model link")
    );
    let q = query("2026-08-01", "2026-12-31", "UTC");
    let r = casebook::db::reports::report(&mut conn, &q).await.unwrap();
    let rate = casebook::domain::report::percent(r.links_total.link_rate());
    assert!(
        res.body
            .contains(&format!("<dd id=\"m-link-rate\">{rate}</dd>")),
        "link rate {rate}"
    );
    // Trends: October against the 31 days before it.
    let res = d
        .app
        .get_as(&manager, "/reports?from=2026-10-01&to=2026-10-31")
        .await;
    let now = casebook::db::reports::report(&mut conn, &query("2026-10-01", "2026-10-31", "UTC"))
        .await
        .unwrap();
    let before =
        casebook::db::reports::report(&mut conn, &query("2026-08-31", "2026-09-30", "UTC"))
            .await
            .unwrap();
    let trend = format!(
        "previous period {} → now {}",
        casebook::domain::report::percent(before.links_total.link_rate()),
        casebook::domain::report::percent(now.links_total.link_rate())
    );
    assert!(res.body.contains(&trend), "{trend}");
    let res = d
        .app
        .get_as(&manager, "/reports/models?from=2026-08-01&to=2026-12-31")
        .await;
    assert_eq!(res.status, 200);
    assert!(res.body.contains("<svg") && res.body.contains("db-disk-full"));
    assert!(res.body.contains("Candidates to retire") && res.body.contains("/models/unused"));
    let res = d
        .app
        .get_as(&manager, "/reports/gaps?from=2026-08-01&to=2026-12-31")
        .await;
    assert!(res.body.contains("draft a model from this ticket"));
    for path in ["/reports/links", "/reports/resolution", "/reports/triage"] {
        let res = d
            .app
            .get_as(&manager, &format!("{path}?from=2026-08-01&to=2026-12-31"))
            .await;
        assert_eq!(res.status, 200, "{path}");
        assert!(res.body.contains("<svg"), "{path} has a chart");
    }
}

#[actix_web::test]
async fn bad_picker_input_gets_a_clear_message_and_no_panic() {
    let d = desk().await;
    let mut conn = d.app.conn().await;
    let manager = d.app.sign_in(&d.manager).await;
    let token = fixtures::api_token(&mut conn, &d.manager).await;
    for (qs, message) in [
        ("days=8", "choose 7, 30 or 90 days"),
        ("from=2026-13-01", "give a date as YYYY-MM-DD"),
        (
            "from=2026-10-05&to=2026-10-01",
            "must not be before the start",
        ),
        ("tz=Mars/Base", "not a time zone name"),
        ("tz=%2B02:00", "not an offset"),
        ("priority=P0", "choose P1 to P4"),
        ("from=1900-01-01&to=2026-01-01", "at most"),
        ("assignee=abc", "choose one from the list"),
    ] {
        let res = d.app.get_as(&manager, &format!("/reports?{qs}")).await;
        assert_eq!(res.status, 422, "{qs}");
        assert!(res.body.contains(message), "{qs}: {}", res.body);
        let res = d
            .app
            .api_get(&token, &format!("/api/v1/reports/volume?{qs}"))
            .await;
        assert_eq!(res.status, 422, "{qs}");
        assert!(res.body.contains("\"field\""), "{qs}: {}", res.body);
    }
    let res = d.app.api_get(&token, "/api/v1/reports/no-such-table").await;
    assert_eq!(res.status, 404);
}

#[actix_web::test]
async fn every_table_exports_as_csv_and_json() {
    let d = desk().await;
    let mut conn = d.app.conn().await;
    generate(&mut conn).await;
    let manager = d.app.sign_in(&d.manager).await;
    let token = fixtures::api_token(&mut conn, &d.manager).await;
    let q = query("2026-08-01", "2026-12-31", "UTC");
    let r = casebook::db::reports::report(&mut conn, &q).await.unwrap();
    for part in casebook::domain::report::Part::ALL {
        let name = part.name();
        let qs = "from=2026-08-01&to=2026-12-31";
        let csv = d
            .app
            .get_as(&manager, &format!("/reports/export/{name}?{qs}"))
            .await;
        assert_eq!(csv.status, 200, "{name}");
        assert!(csv.header("content-type").unwrap().starts_with("text/csv"));
        assert!(
            csv.header("content-disposition")
                .unwrap()
                .contains(&format!("casebook-{name}-2026-08-01-2026-12-31.csv"))
        );
        let expected = casebook::web::reports::export::table(&r, part);
        let lines: Vec<&str> = csv.body.split("\r\n").filter(|l| !l.is_empty()).collect();
        assert_eq!(lines[0], expected.columns.join(","), "{name}");
        assert_eq!(lines.len(), expected.rows.len() + 1, "{name}");
        let api_csv = d
            .app
            .api_get(&token, &format!("/api/v1/reports/{name}/csv?{qs}"))
            .await;
        assert_eq!(api_csv.body, csv.body, "{name}");
        let json = d
            .app
            .api_get(&token, &format!("/api/v1/reports/{name}?{qs}"))
            .await;
        assert_eq!(json.status, 200, "{name}");
        let v: serde_json::Value = serde_json::from_str(&json.body).unwrap();
        assert_eq!(v["table"], name);
        assert_eq!(v["period"]["first_day"], "2026-08-01");
        assert_eq!(
            v["rows"].as_array().unwrap().len(),
            expected.rows.len(),
            "{name}"
        );
    }
    // A value with a comma is quoted.
    let gaps = d
        .app
        .get_as(
            &manager,
            "/reports/export/gaps?from=2026-08-01&to=2026-12-31",
        )
        .await;
    assert!(gaps.body.contains("printer on fire"), "{}", gaps.body);
    let json = d
        .app
        .api_get(
            &token,
            "/api/v1/reports/models?from=2026-08-01&to=2026-12-31",
        )
        .await;
    let v: serde_json::Value = serde_json::from_str(&json.body).unwrap();
    assert_eq!(v["rows"][0]["key"], r.models[0].key.as_str());
    assert_eq!(v["rows"][0]["attention"], r.models[0].attention);
}

#[actix_web::test]
async fn excluded_tickets_count_nowhere_and_the_journal_says_so() {
    let d = desk().await;
    let mut conn = d.app.conn().await;
    let engineer = d.app.sign_in(&d.engineer).await;
    let today = Utc::now().date_naive().to_string();
    let qs = format!("from={today}&to={today}");
    let opened = |body: &str| body.contains("<td>1</td><td>0</td>");
    let res = d.app.get_as(&engineer, &format!("/reports?{qs}")).await;
    assert!(
        opened(&res.body),
        "the desk's ticket is counted: {}",
        res.body
    );

    // Bad input changes nothing.
    for (ticket, reason, message) in [
        ("abc", "game day", "give the number of a ticket"),
        ("999999", "game day", "there is no ticket"),
        (&d.ticket.to_string()[..], " ", "say in one line"),
    ] {
        let res = d
            .app
            .post_as(
                &engineer,
                "/reports/exclusions",
                &[("ticket", ticket), ("reason", reason)],
            )
            .await;
        assert_eq!(res.status, 422, "{ticket}");
        assert!(res.body.contains(message), "{ticket}: {}", res.body);
    }
    assert!(
        casebook::db::reports::exclusions(&mut conn)
            .await
            .unwrap()
            .is_empty()
    );

    let res = d
        .app
        .post_as(
            &engineer,
            "/reports/exclusions",
            &[
                ("ticket", &format!("#{}", d.ticket)),
                ("reason", "game day"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let list = d.app.get_as(&engineer, "/reports/exclusions").await;
    assert!(list.body.contains("game day") && list.body.contains("Checkout fails with 502"));
    let res = d.app.get_as(&engineer, &format!("/reports?{qs}")).await;
    assert!(!opened(&res.body), "an excluded ticket is not counted");
    let ticket = d
        .app
        .get_as(&engineer, &format!("/tickets/{}", d.ticket))
        .await;
    assert!(
        ticket
            .body
            .contains("Excluded this ticket from metrics: game day")
    );
    // While it lasts, the panel says so and offers to count it again
    // instead of a second exclusion form.
    let include_action = format!(r#"action="/reports/exclusions/{}/include""#, d.ticket);
    assert!(
        ticket
            .body
            .contains("<strong>Excluded from metrics</strong>: game day")
    );
    assert!(ticket.body.contains(&include_action), "{}", ticket.body);
    assert!(!ticket.body.contains(r#"action="/reports/exclusions""#));
    // Twice is refused, clearly.
    let res = d
        .app
        .post_as(
            &engineer,
            "/reports/exclusions",
            &[("ticket", &d.ticket.to_string()), ("reason", "again")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("already excluded"));

    let res = d
        .app
        .post_as(
            &engineer,
            &format!("/reports/exclusions/{}/include", d.ticket),
            &[],
        )
        .await;
    assert_eq!(res.status, 303);
    let res = d.app.get_as(&engineer, &format!("/reports?{qs}")).await;
    assert!(opened(&res.body), "counted again");
    let ticket = d
        .app
        .get_as(&engineer, &format!("/tickets/{}", d.ticket))
        .await;
    assert!(
        ticket
            .body
            .contains("Counted this ticket in metrics again.")
    );
}

/// The ticket page's "exclude from metrics" form: for the team only,
/// back to the ticket, and the kept facts follow.
#[actix_web::test]
async fn the_ticket_page_excludes_from_metrics_for_the_team_only() {
    let d = desk().await;
    let mut conn = d.app.conn().await;
    let engineer = d.app.sign_in(&d.engineer).await;
    let customer = d.app.sign_in(&d.customer).await;
    let path = format!("/tickets/{}", d.ticket);
    let page = d.app.get_as(&engineer, &path).await;
    assert!(
        page.body.contains(r#"id="exclude-metrics""#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"action="/reports/exclusions""#));
    let theirs = d.app.get_as(&customer, &path).await;
    assert_eq!(theirs.status, 200);
    assert!(!theirs.body.contains("exclude-metrics"));
    assert!(!theirs.body.contains("/reports/exclusions"));
    // A customer posting the form anyway is refused, nothing changes.
    let res = d
        .app
        .post_as(
            &customer,
            "/reports/exclusions",
            &[
                ("ticket", &d.ticket.to_string()),
                ("reason", "mine"),
                ("back", "ticket"),
            ],
        )
        .await;
    assert!(res.status == 403 || res.status == 404, "{}", res.status);
    let excluded = format!(
        "SELECT count(*) AS n FROM ticket_report_facts WHERE excluded AND ticket_id = {}",
        d.ticket
    );
    assert_eq!(one(&mut conn, &excluded).await, 0);
    let res = d
        .app
        .post_as(
            &engineer,
            "/reports/exclusions",
            &[
                ("ticket", &d.ticket.to_string()),
                ("reason", "game day"),
                ("back", "ticket"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.location(), Some(path.as_str()));
    assert_eq!(one(&mut conn, &excluded).await, 1);
    let page = d.app.get_as(&engineer, &path).await;
    assert!(
        page.body
            .contains("Excluded this ticket from metrics: game day")
    );
    let res = d
        .app
        .post_as(
            &engineer,
            &format!("/reports/exclusions/{}/include", d.ticket),
            &[],
        )
        .await;
    assert_eq!(res.status, 303);
    assert_eq!(one(&mut conn, &excluded).await, 0);
    assert_eq!(stale_facts(&mut conn).await, 0);
    let page = d.app.get_as(&engineer, &path).await;
    assert!(!page.body.contains("<strong>Excluded from metrics</strong>"));
    assert!(page.body.contains(r#"action="/reports/exclusions""#));
}

#[actix_web::test]
async fn a_model_drafted_from_a_ticket_is_prefilled_saved_and_linked_back() {
    let d = desk().await;
    let mut conn = d.app.conn().await;
    let engineer = d.app.sign_in(&d.engineer).await;
    let viewer = d.engineer.viewer();
    let id = casebook::domain::ticket::TicketId(d.ticket);
    casebook::tickets::write(
        &mut conn,
        &viewer,
        id,
        "Checked the load balancer: all backends 502",
        casebook::domain::policy::Visibility::Internal,
    )
    .await
    .unwrap();
    casebook::tickets::write(
        &mut conn,
        &viewer,
        id,
        "Restarted the checkout pods; fixed",
        casebook::domain::policy::Visibility::Public,
    )
    .await
    .unwrap();

    let res = d
        .app
        .get_as(&engineer, &format!("/reports/draft/{}", d.ticket))
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let key = format!("checkout-fails-with-502-t{}", d.ticket);
    assert!(res.body.contains("# Checkout fails with 502"));
    assert!(res.body.contains(&format!("key: {key}")));
    assert!(res.body.contains("Since 09:40, for every order."));
    let first = res
        .body
        .find("1. Checked the load balancer")
        .expect("the first step");
    let second = res
        .body
        .find("2. Restarted the checkout pods")
        .expect("the second step");
    assert!(first < second, "steps in the order taken");

    // A text that does not parse: the editor again, nothing saved.
    let res = d
        .app
        .post_as(
            &engineer,
            &format!("/reports/draft/{}", d.ticket),
            &[("text", "not a model")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("not a model"));
    assert!(
        casebook::db::models::find_by_key(&mut conn, &key)
            .await
            .unwrap()
            .is_none()
    );

    let text = casebook::reports::draft_text(&mut conn, &viewer, id)
        .await
        .unwrap();
    let res = d
        .app
        .post_as(
            &engineer,
            &format!("/reports/draft/{}", d.ticket),
            &[("text", &text)],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.location(),
        Some(&*format!("/models/{key}?notice=model-saved"))
    );
    let model = casebook::db::models::find_by_key(&mut conn, &key)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(model.status, "draft");
    assert!(!model.public, "a draft from internal notes is not public");
    let ticket = d
        .app
        .get_as(&engineer, &format!("/tickets/{}", d.ticket))
        .await;
    assert!(
        ticket.body.contains(&format!("/models/{key}")),
        "the journal links the model"
    );
    // The same draft again: the key is taken, said clearly.
    let res = d
        .app
        .post_as(
            &engineer,
            &format!("/reports/draft/{}", d.ticket),
            &[("text", &text)],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("already exists"));
}

/// A draft from a ticket answers the "write a new model" items it is
/// saved for: the page offers the open ones (ticked when filed from this
/// ticket), the save marks them done with the new model, in one
/// transaction; an item that is not open refuses the save and leaves
/// nothing.
#[actix_web::test]
async fn a_drafted_model_marks_its_new_model_items_done() {
    let d = desk().await;
    let mut conn = d.app.conn().await;
    let engineer = d.app.sign_in(&d.engineer).await;
    let item = |ticket: &str, status: &str| {
        format!(
            "INSERT INTO improvements (title, kind, priority, status, reason, ticket_id, created_by)
             VALUES ('Write a model for 502s', 'new_model', 2, '{status}',
                     CASE WHEN '{status}' = 'wont_do' THEN 'no' ELSE '' END, {ticket}, {})
             RETURNING id AS n",
            d.manager.id
        )
    };
    let mine = one(&mut conn, &item(&d.ticket.to_string(), "open")).await;
    let other = one(&mut conn, &item("NULL", "in_progress")).await;
    let closed = one(&mut conn, &item("NULL", "wont_do")).await;
    let page = d
        .app
        .get_as(&engineer, &format!("/reports/draft/{}", d.ticket))
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!(r#"value="{mine}" checked"#)),
        "{}",
        page.body
    );
    assert!(page.body.contains(&format!(r#"value="{other}">"#)));
    assert!(!page.body.contains(&format!(r#"value="{closed}""#)));
    let viewer = d.engineer.viewer();
    let text = casebook::reports::draft_text(
        &mut conn,
        &viewer,
        casebook::domain::ticket::TicketId(d.ticket),
    )
    .await
    .unwrap();
    let key = format!("checkout-fails-with-502-t{}", d.ticket);
    // An item that is not open: refused, nothing saved.
    let res = d
        .app
        .post_as(
            &engineer,
            &format!("/reports/draft/{}", d.ticket),
            &[
                ("text", &text),
                ("resolves", &mine.to_string()),
                ("resolves", &closed.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(
        casebook::db::models::find_by_key(&mut conn, &key)
            .await
            .unwrap()
            .is_none()
    );
    let open = format!(
        "SELECT count(*) AS n FROM improvements WHERE status IN ('open', 'in_progress') AND id IN ({mine}, {other})"
    );
    assert_eq!(one(&mut conn, &open).await, 2);
    let res = d
        .app
        .post_as(
            &engineer,
            &format!("/reports/draft/{}", d.ticket),
            &[
                ("text", &text),
                ("resolves", &mine.to_string()),
                ("resolves", &other.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let model = casebook::db::models::find_by_key(&mut conn, &key)
        .await
        .unwrap()
        .unwrap();
    let done = format!(
        "SELECT count(*) AS n FROM improvements WHERE status = 'done' AND model_id = {} AND id IN ({mine}, {other})",
        model.id
    );
    assert_eq!(one(&mut conn, &done).await, 2);
    let ticket = d
        .app
        .get_as(&engineer, &format!("/tickets/{}", d.ticket))
        .await;
    assert!(
        ticket.body.contains(&format!("#{mine}")),
        "the journal names the items"
    );
}

#[test]
fn the_picker_defaults_to_the_last_30_days() {
    let q =
        ReportQuery::parse(&QueryInput::default(), at("2026-11-29T12:00:00Z"), Tz::UTC).unwrap();
    assert_eq!(q.period.first_day, day("2026-10-31"));
    assert_eq!(q.period.last_day, day("2026-11-29"));
}

/// The overview and model health in headless Chromium through the real
/// `casebook serve`: their charts are drawn (with the theme's colours) and
/// their numbers are the database's.
#[tokio::test(flavor = "multi_thread")]
async fn overview_and_model_health_in_a_browser_show_charts_and_numbers() {
    use crate::support::TestDb;
    // By path: diesel-async's `RunQueryDsl::execute` is in scope here.
    use crate::support::browser::{Browser, Driver};
    use crate::support::process::{Serve, data_dir};

    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    generate(&mut conn).await;
    let manager = fixtures::user().role(Role::Manager).create(&mut conn).await;
    let session = fixtures::session(&mut conn, &manager).await;
    let q = query("2026-08-01", "2026-12-31", "UTC");
    let r = casebook::db::reports::report(&mut conn, &q).await.unwrap();

    let dir = data_dir();
    let mut serve = Serve::start_with(dir.path(), |c| {
        c.env("DATABASE_URL", &db.url);
    });
    serve.wait_ready();
    serve.wait_listening();
    let driver = Driver::start();
    let page = driver.session().await;
    page.goto(&serve.url("/")).await;
    page.set_cookie("casebook_session", &session).await;

    let chart_js = "const svg = document.querySelector('figure.chart svg');
        const rects = [...document.querySelectorAll('figure.chart svg rect')];
        const drawn = rects.filter(r => r.getBoundingClientRect().height > 0);
        return [svg.getBoundingClientRect().width, drawn.length,
                getComputedStyle(drawn[0]).fill];";
    page.goto(&serve.url("/reports?from=2026-08-01&to=2026-12-31"))
        .await;
    let chart = Browser::execute(&page, chart_js, Vec::new()).await;
    assert!(
        chart[0].as_f64().unwrap() > 300.0,
        "the chart is drawn: {chart}"
    );
    assert!(chart[1].as_u64().unwrap() > 0, "with bars: {chart}");
    assert_ne!(chart[2], "rgb(0, 0, 0)", "in the theme's colours");
    let rate = casebook::domain::report::percent(r.links_total.link_rate());
    assert_eq!(page.texts("#m-link-rate").await, vec![rate]);
    assert_eq!(
        page.texts("#m-resolved").await,
        vec![r.links_total.resolved.to_string()]
    );
    let weeks = page.texts("#volume tbody tr").await;
    assert_eq!(weeks.len(), r.volume.len());

    page.goto(&serve.url("/reports/models?from=2026-08-01&to=2026-12-31"))
        .await;
    let chart = Browser::execute(&page, chart_js, Vec::new()).await;
    assert!(chart[1].as_u64().unwrap() > 0, "model chart bars: {chart}");
    let rows = page.texts("#model-health tbody tr").await;
    assert_eq!(rows.len(), r.models.len());
    assert!(rows[0].trim().starts_with(&r.models[0].key), "{rows:?}");
    assert!(
        page.texts("#retire li")
            .await
            .iter()
            .any(|t| t.starts_with("unused"))
    );
    page.close().await;
}

/// A measurement, not a test (ignored; no assertion on time): generates
/// `REPORTS_SCALE_TICKETS` tickets (default 1,000,000) over a year with
/// transitions, links, escalations, replies and searches, and prints how
/// long each reports page's queries take for the last 30 days.
/// `cargo test --release --test integration reports_at_scale -- --ignored --nocapture`
#[actix_web::test]
#[ignore]
async fn reports_at_scale() {
    use std::time::Instant;

    use casebook::domain::report::Part;

    let n: i64 = std::env::var("REPORTS_SCALE_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let customer = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(&mut conn)
        .await;
    let eng = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let started = Instant::now();
    let (c, e) = (customer.id, eng.id);
    for sql in [
        "SET synchronous_commit = off".to_owned(),
        "INSERT INTO incident_models (key, title, category, status, revision, created_at, verified_at)
         SELECT 'm-' || g, 'Model ' || g, 'cat' || (g % 20),
                CASE WHEN g % 50 = 0 THEN 'retired' ELSE 'published' END, 1,
                now() - interval '2 years',
                CASE WHEN g % 3 = 0 THEN NULL ELSE now() - (g % 400) * interval '1 day' END
         FROM generate_series(1, 2000) g".to_owned(),
        format!("INSERT INTO tickets (title, requester_id, organization_id, priority, category, status, duplicate_of, created_at)
         SELECT 'Title ' || (g % 500), {c}, {org}, 1 + (g % 4), 'cat' || (g % 20),
                CASE WHEN g % 10 < 7 THEN 'resolved' WHEN g % 10 = 7 THEN 'closed' ELSE 'in_progress' END,
                NULL, now() - random() * interval '365 days'
         FROM generate_series(1, {n}) g", org = acme.id),
        format!("INSERT INTO ticket_transitions (ticket_id, from_status, to_status, by_id, at)
         SELECT id, 'new', 'triaged', {e}, created_at + random() * interval '5 hours' FROM tickets WHERE id % 10 < 9"),
        "INSERT INTO ticket_transitions (ticket_id, from_status, to_status, by_id, at)
         SELECT id, 'in_progress', 'resolved', NULL, created_at + random() * interval '5 days'
         FROM tickets WHERE status IN ('resolved', 'closed')".to_owned(),
        "INSERT INTO ticket_transitions (ticket_id, from_status, to_status, by_id, at)
         SELECT id, 'resolved', 'in_progress', NULL, created_at + interval '6 days'
         FROM tickets WHERE id % 40 = 0 AND status = 'in_progress'".to_owned(),
        "INSERT INTO ticket_models (ticket_id, model_id, revision, outcome, created_at)
         SELECT id, 1 + (id * 7) % 2000, 1, CASE WHEN id % 3 = 0 THEN 'partial' ELSE 'resolved' END,
                created_at + interval '1 hour'
         FROM tickets WHERE id % 5 < 3".to_owned(),
        "INSERT INTO ticket_models (ticket_id, model_id, revision, outcome, created_at)
         SELECT id, NULL, NULL, 'no_fit', created_at + interval '1 hour' FROM tickets WHERE id % 5 = 3".to_owned(),
        format!("INSERT INTO escalations (ticket_id, from_id, to_team, followed_model, created_at)
         SELECT id, {e}, 'dba', CASE WHEN id % 2 = 0 THEN 'yes' ELSE 'no' END, created_at + interval '2 hours'
         FROM tickets WHERE id % 10 = 1"),
        format!("INSERT INTO journal_entries (ticket_id, author_id, kind, visibility, body, created_at)
         SELECT id, {e}, 'reply', 'public', 'On it', created_at + random() * interval '3 hours'
         FROM tickets WHERE id % 5 < 4"),
        format!("INSERT INTO triage_searches (ticket_id, user_id, query, results, picked, created_at)
         SELECT id, {e}, 'disk full ' || (id % 97),
                CASE WHEN id % 4 = 0 THEN '[]'::jsonb ELSE '[{{\"key\":\"m-1\"}},{{\"key\":\"m-2\"}}]'::jsonb END,
                CASE WHEN id % 4 = 1 THEN 'm-2' END, created_at + interval '10 minutes'
         FROM tickets WHERE id % 2 = 0"),
        "ANALYZE".to_owned(),
    ] {
        exec(&mut conn, &sql).await;
    }
    println!(
        "generated {n} tickets in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let q = ReportQuery::parse(&QueryInput::default(), Utc::now(), Tz::UTC).unwrap();
    let pages: [(&str, &[Part]); 6] = [
        (
            "overview",
            &[
                Part::Volume,
                Part::Mix,
                Part::Links,
                Part::LinksByWeek,
                Part::Resolution,
                Part::Triage,
                Part::Searches,
            ],
        ),
        (
            "links",
            &[
                Part::Links,
                Part::LinksByCategory,
                Part::LinksByWeek,
                Part::LinksByTriager,
            ],
        ),
        ("gaps", &[Part::Gaps, Part::LinksByCategory]),
        ("models", &[Part::Models]),
        ("resolution", &[Part::Resolution]),
        ("triage", &[Part::Triage, Part::Searches, Part::SearchWords]),
    ];
    for (page, parts) in pages {
        let mut times = Vec::new();
        for _ in 0..3 {
            let t = Instant::now();
            casebook::db::reports::report_parts(&mut conn, &q, parts)
                .await
                .unwrap();
            times.push(t.elapsed().as_millis());
        }
        times.sort_unstable();
        println!(
            "{page:>10}: min {} ms, max {} ms (3 runs, last 30 days)",
            times[0], times[2]
        );
        for part in parts {
            let t = Instant::now();
            casebook::db::reports::report_parts(&mut conn, &q, &[*part])
                .await
                .unwrap();
            println!("{:>22} {} ms", part.name(), t.elapsed().as_millis());
        }
    }
}
