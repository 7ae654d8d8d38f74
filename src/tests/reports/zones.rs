//! Report days and weeks in the viewer's zone (an IANA name): tickets
//! placed a second either side of local midnight on the days the US
//! changes its clocks (2026-03-08, 23 hours; 2026-11-01, 25 hours) and in
//! a half-hour zone (Asia/Kolkata) are counted in the right day, week and
//! period, by the SQL and by the plain-Rust reference alike; the API and
//! the pages use the caller's own zone unless `tz` names another.

use casebook::domain::account::{Role, UserId};
use casebook::domain::report::{ReportQuery, VolumeRow, reference};
use casebook::domain::zone::Tz;
use diesel_async::AsyncPgConnection;

use super::{Seed, at, desk, query};
use crate::support::fixtures;

/// The tickets, as (name, created, resolved): resolved ones are
/// "resolved", the others "new".
const TICKETS: &[(&str, &str, Option<&str>)] = &[
    // New York, spring forward: Sunday 03-08 is 05:00Z to 04:00Z next day.
    ("N1", "2026-03-08T04:59:59Z", Some("2026-03-09T03:30:00Z")),
    ("N2", "2026-03-08T05:00:00Z", Some("2026-03-09T04:30:00Z")),
    ("N3", "2026-03-09T03:59:59Z", None),
    ("N4", "2026-03-09T04:00:00Z", None),
    // New York, fall back: Sunday 11-01 is 04:00Z to 05:00Z next day.
    ("F1", "2026-11-01T03:59:59Z", Some("2026-11-02T04:59:00Z")),
    ("F2", "2026-11-01T04:00:00Z", Some("2026-11-02T05:00:00Z")),
    // 01:30 twice: EDT, then EST.
    ("F3", "2026-11-01T05:30:00Z", None),
    ("F4", "2026-11-01T06:30:00Z", None),
    ("F5", "2026-11-02T04:59:59Z", None),
    ("F6", "2026-11-02T05:00:00Z", None),
    // Kolkata (+05:30): Monday 10-05 starts at 10-04T18:30Z.
    ("K1", "2026-10-04T18:29:59Z", None),
    ("K2", "2026-10-04T18:30:00Z", None),
];

async fn seed(conn: &mut AsyncPgConnection) {
    let requester = fixtures::user().role(Role::Engineer).create(conn).await;
    let mut s = Seed {
        conn,
        requester: requester.id,
    };
    for (name, created, resolved) in TICKETS {
        let status = if resolved.is_some() {
            "resolved"
        } else {
            "new"
        };
        let id = s
            .ticket(name, "zones", 2, None, None, status, None, at(created))
            .await;
        if let Some(when) = resolved {
            s.move_(id, Some("in_progress"), "resolved", None, at(when))
                .await;
        }
    }
}

fn weeks(rows: &[VolumeRow]) -> Vec<(String, i64, i64)> {
    rows.iter()
        .map(|r| (r.week.to_string(), r.opened, r.resolved))
        .collect()
}

fn opened(r: &casebook::domain::report::Report) -> i64 {
    r.volume.iter().map(|v| v.opened).sum()
}

#[actix_web::test]
async fn days_and_weeks_are_local_across_clock_changes_and_half_hour_zones() {
    let app = crate::support::TestApp::new().await;
    let mut conn = app.conn().await;
    seed(&mut conn).await;
    let facts = casebook::db::reports::facts(&mut conn).await.unwrap();
    let conn = &mut conn;
    let facts = &facts;
    // The SQL's answer, held to the reference's.
    macro_rules! report {
        ($q:expr) => {{
            let q: &ReportQuery = $q;
            let sql = casebook::db::reports::report(conn, q).await.unwrap();
            assert_eq!(
                sql,
                reference::report(facts, q),
                "SQL and reference differ for {q:?}"
            );
            sql
        }};
    }

    // The whole year in zones with clock changes of an hour and of half
    // an hour (Lord Howe), a half-hour offset, and none.
    for zone in [
        "UTC",
        "America/New_York",
        "Europe/Berlin",
        "Asia/Kolkata",
        "Australia/Lord_Howe",
    ] {
        let r = report!(&query("2026-01-01", "2026-12-31", zone));
        assert_eq!(opened(&r), TICKETS.len() as i64, "{zone}");
    }

    // The 23-hour day: N2 and N3 opened on it, N1 resolved on it (23:30
    // EDT); N4 is on Monday already.
    let q = query("2026-03-08", "2026-03-08", "America/New_York");
    assert_eq!((q.period.to - q.period.from).num_hours(), 23);
    let r = report!(&q);
    assert_eq!(opened(&r), 2);
    assert_eq!(r.links_total.resolved, 1);
    // Weeks from Monday, local: N3 (Sunday 23:59:59 EDT) is in the week of
    // 03-02, N4 (Monday 00:00 EDT) in the next; N2 was resolved on Monday
    // 00:30 EDT.
    let r = report!(&query("2026-03-02", "2026-03-15", "America/New_York"));
    assert_eq!(
        weeks(&r.volume),
        [("2026-03-02".into(), 3, 1), ("2026-03-09".into(), 1, 1)]
    );
    // In UTC the same instants fall otherwise.
    let r = report!(&query("2026-03-02", "2026-03-15", "UTC"));
    assert_eq!(
        weeks(&r.volume),
        [("2026-03-02".into(), 2, 0), ("2026-03-09".into(), 2, 2)]
    );

    // The 25-hour day: F2 to F5 (01:30 counted twice), F1 resolved at
    // 23:59 EST; F2's resolution at 00:00 EST is the next day.
    let q = query("2026-11-01", "2026-11-01", "America/New_York");
    assert_eq!((q.period.to - q.period.from).num_hours(), 25);
    let r = report!(&q);
    assert_eq!(opened(&r), 4);
    assert_eq!(r.links_total.resolved, 1);
    let r = report!(&query("2026-10-26", "2026-11-08", "America/New_York"));
    assert_eq!(
        weeks(&r.volume),
        [("2026-10-26".into(), 5, 1), ("2026-11-02".into(), 1, 1)]
    );

    // Half an hour off the hour: K2 is Monday in Kolkata, K1 Sunday; in
    // UTC both are Sunday.
    let r = report!(&query("2026-10-05", "2026-10-05", "Asia/Kolkata"));
    assert_eq!(opened(&r), 1);
    let r = report!(&query("2026-09-28", "2026-10-11", "Asia/Kolkata"));
    assert_eq!(
        weeks(&r.volume),
        [("2026-09-28".into(), 1, 0), ("2026-10-05".into(), 1, 0)]
    );
    let r = report!(&query("2026-09-28", "2026-10-11", "UTC"));
    assert_eq!(weeks(&r.volume), [("2026-09-28".into(), 2, 0)]);
}

#[actix_web::test]
async fn the_api_and_pages_count_in_the_callers_zone_unless_tz_names_another() {
    let d = desk().await;
    let mut conn = d.app.conn().await;
    seed(&mut conn).await;
    casebook::db::users::set_time_zone(
        &mut conn,
        UserId(d.manager.id),
        Some(Tz::America__New_York),
    )
    .await
    .unwrap();
    let token = fixtures::api_token(&mut conn, &d.manager).await;
    let json = |body: &str| serde_json::from_str::<serde_json::Value>(body).unwrap();
    let sum = |v: &serde_json::Value| {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["opened"].as_i64().unwrap())
            .sum::<i64>()
    };

    // No tz: the caller's own zone.
    let res = d
        .app
        .api_get(
            &token,
            "/api/v1/reports/volume?from=2026-11-01&to=2026-11-01",
        )
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let v = json(&res.body);
    assert_eq!(v["period"]["zone"], "America/New_York");
    assert_eq!(v["period"]["from"], "2026-11-01T04:00:00+00:00");
    assert_eq!(v["period"]["to"], "2026-11-02T05:00:00+00:00");
    assert_eq!(sum(&v), 4);

    // tz names another zone.
    let res = d
        .app
        .api_get(
            &token,
            "/api/v1/reports/volume?from=2026-10-05&to=2026-10-05&tz=Asia/Kolkata",
        )
        .await;
    let v = json(&res.body);
    assert_eq!(v["period"]["zone"], "Asia/Kolkata");
    assert_eq!(v["period"]["from"], "2026-10-04T18:30:00+00:00");
    assert_eq!(sum(&v), 1);

    // A name that is no zone: a problem naming the field, nothing counted.
    let res = d
        .app
        .api_get(&token, "/api/v1/reports/volume?tz=Europe/Atlantis")
        .await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("application/problem+json")
    );
    let v = json(&res.body);
    assert!(v.to_string().contains("\"tz\""), "{v}");
    assert!(v.to_string().contains("not a time zone name"), "{v}");

    // The pages say which zone, and the links they make keep it.
    let manager = d.app.sign_in(&d.manager).await;
    let page = d
        .app
        .get_as(&manager, "/reports?from=2026-11-01&to=2026-11-01")
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("times in <strong class=\"report-zone\">America/New_York</strong>"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("tz=America/New_York"),
        "the CSV and JSON links keep the zone"
    );
    let page = d
        .app
        .get_as(&manager, "/reports/triage?days=7&tz=Asia%2FKolkata")
        .await;
    assert!(page.body.contains(">Asia/Kolkata</strong>"));
    let csv = d
        .app
        .get_as(
            &manager,
            "/reports/export/volume?from=2026-10-26&to=2026-11-08",
        )
        .await;
    assert_eq!(
        csv.body,
        "week,opened,resolved\r\n2026-10-26,5,1\r\n2026-11-02,1,1\r\n"
    );
}

/// Every zone Casebook accepts is one PostgreSQL knows too (the per-week
/// SQL groups `AT TIME ZONE` the name), so no accepted name can fail there.
#[actix_web::test]
async fn every_accepted_zone_name_is_known_to_the_database() {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let app = crate::support::TestApp::new().await;
    let mut conn = app.conn().await;
    let names: Vec<String> = casebook::domain::zone::names().map(str::to_owned).collect();
    let unknown: Vec<Name> = diesel_async::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT n AS name FROM unnest($1::text[]) n
             WHERE n NOT IN (SELECT name FROM pg_timezone_names)",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&names),
        &mut conn,
    )
    .await
    .unwrap();
    let unknown: Vec<String> = unknown.into_iter().map(|n| n.name).collect();
    assert!(unknown.is_empty(), "unknown to PostgreSQL: {unknown:?}");
}

/// The weekly tables find an instant's week by a binary search in the
/// bounds `report_weeks` computes, not by converting each row: in zones
/// with half-hour and 45-minute offsets, half-hour daylight saving, clock
/// changes at midnight and changes twice a year for Ramadan, the bounds
/// are vouched for and give every quarter hour of two years, and the
/// microseconds either side of each bound, the week the definition gives.
#[actix_web::test]
async fn week_bounds_give_the_defined_week_in_odd_zones() {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        zone: String,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        vouched: bool,
        #[diesel(sql_type = diesel::sql_types::Int8)]
        weeks: i64,
        #[diesel(sql_type = diesel::sql_types::Int8)]
        checked: i64,
        #[diesel(sql_type = diesel::sql_types::Int8)]
        wrong: i64,
    }
    let app = crate::support::TestApp::new().await;
    let mut conn = app.conn().await;
    let zones = [
        "America/New_York",
        "Asia/Kolkata",
        "Asia/Kathmandu",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "America/Santiago",
        "America/Havana",
        "America/Asuncion",
        "Africa/Casablanca",
        "Pacific/Kiritimati",
        "UTC",
    ];
    let rows: Vec<Row> = diesel_async::RunQueryDsl::load(
        diesel::sql_query(
            "WITH p AS (
                SELECT z, ('2025-01-01'::timestamp AT TIME ZONE z) AS lo,
                       ('2027-01-01'::timestamp AT TIME ZONE z) AS hi
                FROM unnest($1::text[]) z
             ),
             b AS (SELECT p.*, w.bounds, w.weeks FROM p, report_weeks(p.lo, p.hi, p.z) w),
             t AS (
                SELECT b.z, b.bounds, b.weeks, x.t FROM b, LATERAL (
                    SELECT g AS t FROM generate_series(b.lo, b.hi - interval '1 microsecond',
                                                       interval '15 minutes') g
                    UNION ALL
                    SELECT e + d FROM unnest(b.bounds[2:]) e,
                                      unnest(ARRAY[interval '-1 microsecond', interval '0']) d
                    UNION ALL SELECT b.hi - interval '1 microsecond'
                ) x
             )
             SELECT b.z AS zone, b.bounds IS NOT NULL AS vouched,
                    COALESCE(cardinality(b.weeks), 0)::int8 AS weeks,
                    (SELECT count(*) FROM t WHERE t.z = b.z) AS checked,
                    (SELECT count(*) FROM t WHERE t.z = b.z
                       AND t.weeks[width_bucket(t.t, t.bounds)]
                           IS DISTINCT FROM (date_trunc('week', t.t AT TIME ZONE t.z))::date) AS wrong
             FROM b ORDER BY 1",
        )
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&zones[..]),
        &mut conn,
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), zones.len());
    for r in rows {
        assert!(r.vouched, "{}: bounds not vouched for", r.zone);
        assert!(r.weeks >= 105, "{}: only {} weeks", r.zone, r.weeks);
        assert!(
            r.checked > 70_000,
            "{}: only {} instants",
            r.zone,
            r.checked
        );
        assert_eq!(
            r.wrong, 0,
            "{}: {} instants in the wrong week",
            r.zone, r.wrong
        );
    }
}
