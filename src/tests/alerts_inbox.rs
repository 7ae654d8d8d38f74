//! The durable inbox of Alertmanager deliveries: accepted with 202 and a
//! status URL, applied by one applier in the order they came. An accepted
//! delivery survives a stop before it is applied and is applied once;
//! a payload queued twice opens one ticket; a fingerprint's firing and
//! resolution keep their order; a delivery that cannot be applied is
//! parked after its attempts without holding up the next ones; a
//! delivery's status is its integration's alone.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use casebook::db::schema::{alert_inbox, alerts, integrations, journal_entries, tickets};
use casebook::metrics::Sources;
use casebook::tickets::inbox::{MAX_ATTEMPTS, apply_pending};

use crate::alerts::{AM, applied, desk, disk_full, integration, json_of, payload, send};
use crate::support::fixtures;
use crate::support::process::{Serve, api_get, api_post, data_dir};

async fn ticket_count(conn: &mut AsyncPgConnection) -> i64 {
    tickets::table.count().get_result(conn).await.unwrap()
}

/// Sends a delivery that must be accepted; answers its status URL.
async fn accepted(app: &crate::support::TestApp, token: &str, body: &str) -> String {
    let res = send(app, token, AM, body).await;
    assert_eq!(res.status, 202, "{}", res.body);
    json_of(&res)["status_url"].as_str().unwrap().to_owned()
}

async fn status(app: &crate::support::TestApp, token: &str, url: &str) -> Value {
    let res = app.api_get(token, url).await;
    assert_eq!(res.status, 200, "{}", res.body);
    json_of(&res)
}

#[actix_web::test]
async fn an_accepted_delivery_survives_a_stop_before_it_is_applied_and_is_applied_once() {
    let desk = desk().await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let token = integration(&desk, &[]).await;
    // Accepted and committed, with no applier running: what a crash right
    // after the 202 leaves behind.
    let url = accepted(
        app,
        &token,
        &payload(
            "firing",
            vec![disk_full("s1", "firing", "2026-11-29T10:00:00Z")],
        ),
    )
    .await;
    assert_eq!(status(app, &token, &url).await["state"], "pending");
    assert_eq!(ticket_count(&mut conn).await, 0);

    // A `casebook serve` on the same database applies it.
    let dir = data_dir();
    let start = || {
        let mut serve = Serve::start_with(dir.path(), |c| {
            c.env("DATABASE_URL", &app.db.url);
        });
        serve.wait_ready();
        serve
    };
    let mut serve = start();
    let wait_applied = |serve: &Serve, url: &str| {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (code, body) = api_get(serve.addr, &token, url);
            assert_eq!(code, 200, "{body}");
            let doc: Value = serde_json::from_str(&body).unwrap();
            if doc["state"] != "pending" {
                return doc;
            }
            assert!(
                Instant::now() < deadline,
                "{url} was not applied within 60 s:\n{}",
                serve.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let doc = wait_applied(&serve, &url);
    assert_eq!(doc["state"], "applied", "{doc}");
    assert_eq!(doc["receipt"]["opened"], 1, "{doc}");
    assert_eq!(ticket_count(&mut conn).await, 1);

    // A delivery to the running process: 202, applied by its applier.
    let body: Value = serde_json::from_str(&payload(
        "firing",
        vec![
            disk_full("s1", "firing", "2026-11-29T10:00:00Z"),
            disk_full("s2", "firing", "2026-11-29T10:00:00Z"),
        ],
    ))
    .unwrap();
    let (code, answer) = api_post(serve.addr, &token, AM, &body);
    assert_eq!(code, 202, "{answer}");
    let second: Value = serde_json::from_str(&answer).unwrap();
    let doc = wait_applied(&serve, second["status_url"].as_str().unwrap());
    assert_eq!(doc["receipt"]["opened"], 1, "{doc}");
    assert_eq!(doc["receipt"]["unchanged"], 1, "{doc}");
    serve.kill();

    // Started again: nothing is applied twice.
    let mut serve = start();
    let (code, body) = api_get(serve.addr, &token, &url);
    assert_eq!(code, 200, "{body}");
    serve.kill();
    assert_eq!(ticket_count(&mut conn).await, 2);
    let states: Vec<(String, i32)> = alert_inbox::table
        .order(alert_inbox::id.asc())
        .select((alert_inbox::state, alert_inbox::attempts))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        states,
        [("applied".to_owned(), 1), ("applied".to_owned(), 1)],
        "each applied once"
    );
    let data: Vec<Value> = journal_entries::table
        .filter(journal_entries::kind.eq("system"))
        .select(journal_entries::data)
        .load(&mut conn)
        .await
        .unwrap();
    let opened = data.iter().filter(|d| d["alert"] == "opened").count();
    assert_eq!(opened, 2, "{data:?}");
}

#[actix_web::test]
async fn the_same_payload_queued_twice_opens_one_ticket() {
    let desk = desk().await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let token = integration(&desk, &[]).await;
    let body = payload(
        "firing",
        vec![
            disk_full("t1", "firing", "2026-11-29T10:00:00Z"),
            disk_full("t2", "firing", "2026-11-29T10:00:00Z"),
        ],
    );
    // Alertmanager retried before the first was applied: both queued.
    let first = accepted(app, &token, &body).await;
    let retry = accepted(app, &token, &body).await;
    assert_ne!(first, retry, "each delivery has its own id");
    let pending: i64 = alert_inbox::table
        .filter(alert_inbox::state.eq("pending"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(pending, 2);
    let drained = apply_pending(&mut conn, &app.state.metrics).await.unwrap();
    assert_eq!(drained.applied, 2);
    let first = status(app, &token, &first).await;
    let retry = status(app, &token, &retry).await;
    assert_eq!(first["receipt"]["opened"], 2, "{first}");
    assert_eq!(retry["receipt"]["unchanged"], 2, "{retry}");
    for i in 0..2 {
        assert_eq!(
            first["receipt"]["alerts"][i]["ticket_id"],
            retry["receipt"]["alerts"][i]["ticket_id"]
        );
    }
    assert_eq!(ticket_count(&mut conn).await, 2);
    let rows: i64 = alerts::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(rows, 2);
}

#[actix_web::test]
async fn firing_then_resolved_across_two_queued_deliveries_keeps_its_order() {
    let desk = desk().await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let token = integration(&desk, &[]).await;
    let fired = accepted(
        app,
        &token,
        &payload(
            "firing",
            vec![disk_full("o1", "firing", "2026-11-29T10:00:00Z")],
        ),
    )
    .await;
    let resolved = accepted(
        app,
        &token,
        &payload(
            "resolved",
            vec![disk_full("o1", "resolved", "2026-11-29T10:00:00Z")],
        ),
    )
    .await;
    apply_pending(&mut conn, &app.state.metrics).await.unwrap();
    let fired = status(app, &token, &fired).await;
    let resolved = status(app, &token, &resolved).await;
    assert_eq!(fired["receipt"]["opened"], 1, "{fired}");
    // Applied after the firing: it found the ticket and resolved it (a
    // resolution applied first would have found nothing).
    assert_eq!(resolved["receipt"]["resolved"], 1, "{resolved}");
    let id = fired["receipt"]["alerts"][0]["ticket_id"].as_i64().unwrap();
    assert_eq!(resolved["receipt"]["alerts"][0]["ticket_id"], id);
    let status: String = tickets::table
        .find(id)
        .select(tickets::status)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(status, "resolved");
    let data: Vec<Value> = journal_entries::table
        .filter(journal_entries::ticket_id.eq(id))
        .filter(journal_entries::kind.eq("system"))
        .order(journal_entries::id.asc())
        .select(journal_entries::data)
        .load(&mut conn)
        .await
        .unwrap();
    let words: Vec<&str> = data.iter().filter_map(|d| d["alert"].as_str()).collect();
    assert_eq!(words, ["opened", "resolved"]);
}

#[actix_web::test]
async fn a_delivery_status_is_read_with_its_own_integrations_token_only() {
    let desk = desk().await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let ours = integration(&desk, &[]).await;
    let theirs = integration(&desk, &[("name", "Grafana staging")]).await;
    let url = accepted(
        app,
        &ours,
        &payload(
            "firing",
            vec![disk_full("p1", "firing", "2026-11-29T10:00:00Z")],
        ),
    )
    .await;
    assert_eq!(app.api_get(&ours, &url).await.status, 200);
    let other = app.api_get(&theirs, &url).await;
    assert_eq!(other.status, 404, "{}", other.body);
    assert!(!other.body.contains("p1"), "{}", other.body);
    let person = fixtures::api_token(&mut conn, &desk.admin).await;
    assert_eq!(app.api_get(&person, &url).await.status, 401);
    let anonymous = app
        .call(actix_web::test::TestRequest::get().uri(&url))
        .await;
    assert_eq!(anonymous.status, 401);
    // Applied, it is still theirs alone.
    let doc = applied(app, &ours, &url).await;
    assert_eq!(doc["receipt"]["opened"], 1, "{doc}");
    assert_eq!(app.api_get(&theirs, &url).await.status, 404);
    assert_eq!(
        app.api_get(&ours, "/api/v1/alerts/deliveries/999999")
            .await
            .status,
        404
    );
}

#[actix_web::test]
async fn a_delivery_that_cannot_be_applied_is_parked_after_its_attempts_and_the_queue_goes_on() {
    let desk = desk().await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let token = integration(&desk, &[]).await;
    let integration_id: i64 = integrations::table
        .select(integrations::id)
        .first(&mut conn)
        .await
        .unwrap();
    let first = accepted(
        app,
        &token,
        &payload(
            "firing",
            vec![disk_full("f1", "firing", "2026-11-29T10:00:00Z")],
        ),
    )
    .await;
    // A delivery the applier cannot read (as an older or newer version's
    // stored form, or a damaged row, would be).
    let broken: i64 = diesel::insert_into(alert_inbox::table)
        .values((
            alert_inbox::integration_id.eq(integration_id),
            alert_inbox::alerts.eq(serde_json::json!({ "not": "a list" })),
            alert_inbox::alert_count.eq(1),
        ))
        .returning(alert_inbox::id)
        .get_result(&mut conn)
        .await
        .unwrap();
    let after = accepted(
        app,
        &token,
        &payload(
            "firing",
            vec![disk_full("f2", "firing", "2026-11-29T10:00:00Z")],
        ),
    )
    .await;
    let broken_url = format!("/api/v1/alerts/deliveries/{broken}");

    // Each pass applies what comes before it, then stops at it: the ones
    // behind may concern the same alerts.
    for attempt in 1..MAX_ATTEMPTS {
        let drained = apply_pending(&mut conn, &app.state.metrics).await.unwrap();
        assert!(drained.retry, "attempt {attempt}");
        assert_eq!(drained.parked, 0);
        let doc = status(app, &token, &broken_url).await;
        assert_eq!(doc["state"], "pending", "{doc}");
        assert_eq!(doc["attempts"], attempt, "{doc}");
        assert!(
            doc["error"].as_str().unwrap().contains("unreadable"),
            "{doc}"
        );
        assert_eq!(status(app, &token, &after).await["state"], "pending");
    }
    assert_eq!(status(app, &token, &first).await["state"], "applied");
    // The last attempt parks it, and the queue goes on.
    let drained = apply_pending(&mut conn, &app.state.metrics).await.unwrap();
    assert_eq!(
        (drained.parked, drained.applied, drained.retry),
        (1, 1, false)
    );
    let doc = status(app, &token, &broken_url).await;
    assert_eq!(doc["state"], "failed", "{doc}");
    assert_eq!(doc["attempts"], MAX_ATTEMPTS, "{doc}");
    assert!(doc["receipt"].is_null(), "{doc}");
    let doc = status(app, &token, &after).await;
    assert_eq!(doc["receipt"]["opened"], 1, "{doc}");
    assert_eq!(ticket_count(&mut conn).await, 2);
    // Nothing more to do, and the parked one is not tried again.
    let drained = apply_pending(&mut conn, &app.state.metrics).await.unwrap();
    assert_eq!(
        (drained.parked, drained.applied, drained.retry),
        (0, 0, false)
    );

    // Operators see it in /metrics, admins on the integration's page.
    let text = app
        .state
        .metrics
        .render(Sources {
            pool: &app.state.pool,
            search: &app.state.search,
            hub: &app.state.hub,
        })
        .await
        .unwrap();
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap();
    let value = |name: &str| {
        scrape
            .samples
            .iter()
            .find(|s| s.metric == name)
            .map(|s| match s.value {
                prometheus_parse::Value::Gauge(v) => v,
                ref other => panic!("{name}: {other:?}"),
            })
    };
    assert_eq!(value("casebook_alert_inbox_failed"), Some(1.0));
    assert_eq!(value("casebook_alert_inbox_pending"), Some(0.0));
    assert_eq!(value("casebook_alert_inbox_oldest_age_seconds"), Some(0.0));
    let page = app
        .get_as(
            &desk.browser,
            &format!("/admin/integrations/{integration_id}"),
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Deliveries that failed to apply"),
        "{}",
        page.body
    );
    assert!(page.body.contains("unreadable"), "{}", page.body);
}

/// What an integration's alerts did, in words that do not depend on ids:
/// per fingerprint, the alert row (status, fire count, notifications
/// counted), its ticket's status, the ticket's journal (kind and data,
/// oldest first; the integration's name left out) and its transitions.
async fn what_alerts_did(conn: &mut AsyncPgConnection, integration: i64) -> Vec<Value> {
    use casebook::db::schema::ticket_transitions;
    let rows: Vec<(String, Option<i64>, String, i32, i64)> = alerts::table
        .filter(alerts::integration_id.eq(integration))
        .order(alerts::fingerprint.asc())
        .select((
            alerts::fingerprint,
            alerts::ticket_id,
            alerts::status,
            alerts::fire_count,
            alerts::received,
        ))
        .load(conn)
        .await
        .unwrap();
    let mut out = Vec::new();
    for (fp, ticket, status, fire_count, received) in rows {
        let ticket = ticket.unwrap();
        let mut journal: Vec<(String, String, Value)> = journal_entries::table
            .filter(journal_entries::ticket_id.eq(ticket))
            .order(journal_entries::id.asc())
            .select((
                journal_entries::kind,
                journal_entries::body,
                journal_entries::data,
            ))
            .load(conn)
            .await
            .unwrap();
        for (_, _, data) in &mut journal {
            if let Some(d) = data.as_object_mut() {
                d.remove("integration");
            }
        }
        let moves: Vec<(Option<String>, String)> = ticket_transitions::table
            .filter(ticket_transitions::ticket_id.eq(ticket))
            .order(ticket_transitions::id.asc())
            .select((
                ticket_transitions::from_status,
                ticket_transitions::to_status,
            ))
            .load(conn)
            .await
            .unwrap();
        let ticket_status: String = tickets::table
            .find(ticket)
            .select(tickets::status)
            .first(conn)
            .await
            .unwrap();
        out.push(serde_json::json!({
            "fingerprint": fp, "status": status, "fire_count": fire_count,
            "received": received, "ticket": ticket_status,
            "journal": journal, "transitions": moves,
        }));
    }
    out
}

/// Deliveries queued together are applied as one run (`intake::apply_many`,
/// a few statements for all of them): each fingerprint's notifications are
/// decided in order on what the ones before did, so the run does exactly
/// what the same deliveries do applied one by one — repeats, fired again,
/// resolved, reopened within the window, a resolution never seen firing,
/// and its later firing.
#[actix_web::test]
async fn a_run_of_queued_deliveries_does_what_they_do_one_by_one() {
    let desk = desk().await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let one_by_one = integration(&desk, &[("name", "One by one")]).await;
    let together = integration(&desk, &[("name", "Together")]).await;
    let at = |h: u32| format!("2026-11-29T{h:02}:00:00Z");
    let bodies = [
        payload(
            "firing",
            vec![
                disk_full("r1", "firing", &at(10)),
                disk_full("r2", "firing", &at(10)),
            ],
        ),
        payload("firing", vec![disk_full("r1", "firing", &at(10))]),
        payload("firing", vec![disk_full("r1", "firing", &at(11))]),
        payload(
            "resolved",
            vec![
                disk_full("r1", "resolved", &at(11)),
                disk_full("r3", "resolved", &at(10)),
            ],
        ),
        payload(
            "firing",
            vec![
                disk_full("r1", "firing", &at(12)),
                disk_full("r3", "firing", &at(10)),
            ],
        ),
        payload("resolved", vec![disk_full("r2", "resolved", &at(10))]),
        payload("resolved", vec![disk_full("r2", "resolved", &at(10))]),
        payload("firing", vec![disk_full("r2", "firing", &at(13))]),
    ];
    let mut expected = Vec::new();
    for body in &bodies {
        let url = accepted(app, &one_by_one, body).await;
        expected.push(applied(app, &one_by_one, &url).await["receipt"].clone());
    }
    let mut urls = Vec::new();
    for body in &bodies {
        urls.push(accepted(app, &together, body).await);
    }
    let drained = apply_pending(&mut conn, &app.state.metrics).await.unwrap();
    assert_eq!(drained.applied, bodies.len());
    assert_eq!(drained.together, bodies.len(), "applied as one run");
    let outcomes = |receipt: &Value| -> Vec<(String, String)> {
        receipt["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["fingerprint"].as_str().unwrap().to_owned(),
                    a["outcome"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    for (url, expected) in urls.iter().zip(&expected) {
        let got = status(app, &together, url).await;
        assert_eq!(got["state"], "applied", "{got}");
        assert_eq!(outcomes(&got["receipt"]), outcomes(expected), "{url}");
    }
    // Both integrations' ids, in the order they were made.
    let ids: Vec<i64> = integrations::table
        .order(integrations::id.asc())
        .select(integrations::id)
        .load(&mut conn)
        .await
        .unwrap();
    let (first, second) = (
        what_alerts_did(&mut conn, ids[0]).await,
        what_alerts_did(&mut conn, ids[1]).await,
    );
    assert_eq!(first.len(), 3, "{first:#?}");
    assert_eq!(first, second);
    // The run's own decisions, spelled out: r1 fired again, resolved and
    // reopened; r3's resolution came first and changed nothing.
    let r1 = &second[0];
    assert_eq!(r1["fire_count"], 3, "{r1}");
    assert_eq!(r1["ticket"], "in_progress", "{r1}");
    assert_eq!(
        outcomes(&status(app, &together, &urls[4]).await["receipt"]),
        [
            ("r1".to_owned(), "reopened".to_owned()),
            ("r3".to_owned(), "opened".to_owned())
        ]
    );
}
