//! Alerts in (issue 14): integrations made on the admin page, real
//! Alertmanager webhook payloads (version 4) and generic alerts through the
//! real HTTP stack and database: firing, repeat, resolved, grouped,
//! retried and concurrent deliveries, reopening, bad input, token
//! revocation, the customer boundary, escaping, and triage on arrival.

use actix_web::test::TestRequest;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};

use casebook::db::schema::{
    alert_inbox, alerts, integrations, journal_entries, tickets, triage_searches,
};
use casebook::db::users::User;
use casebook::domain::account::Role;
use casebook::tickets::inbox::apply_pending;

use crate::support::fixtures;
use crate::support::{Browser, TestApp, TestResponse};

pub(crate) const AM: &str = "/api/v1/alerts/alertmanager";
const GENERIC: &str = "/api/v1/alerts/generic";

pub(crate) struct Desk {
    pub(crate) app: TestApp,
    pub(crate) admin: User,
    pub(crate) browser: Browser,
}

pub(crate) async fn desk() -> Desk {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    let browser = app.sign_in(&admin).await;
    Desk {
        app,
        admin,
        browser,
    }
}

/// Creates an integration through the admin page; answers its token.
pub(crate) async fn integration(desk: &Desk, fields: &[(&str, &str)]) -> String {
    let mut all: Vec<(&str, &str)> = vec![
        ("name", "Alertmanager prod"),
        ("default_priority", "P3"),
        ("priority_label", "severity"),
        ("priority_map", "critical = P1\nwarning = P3"),
        ("category_label", "team"),
        ("default_category", "infrastructure"),
        ("resolve_on_resolved", "on"),
        ("reopen_window_hours", "24"),
    ];
    for (name, value) in fields {
        all.retain(|(n, _)| n != name);
        if !value.is_empty() || *name == "organization" || *name == "category_label" {
            all.push((name, value));
        }
    }
    let res = desk
        .app
        .post_as(&desk.browser, "/admin/integrations", &all)
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let start = res.body.find("cbi_").expect("the token is shown once");
    res.body[start..start + 68].to_owned()
}

fn alert(
    fingerprint: &str,
    status: &str,
    starts: &str,
    labels: Value,
    annotations: Value,
) -> Value {
    json!({
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": starts,
        "endsAt": if status == "resolved" { "2026-11-29T10:30:00Z" } else { "0001-01-01T00:00:00Z" },
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up%3D%3D0",
        "fingerprint": fingerprint,
    })
}

pub(crate) fn disk_full(fingerprint: &str, status: &str, starts: &str) -> Value {
    alert(
        fingerprint,
        status,
        starts,
        json!({ "alertname": "DiskFull", "severity": "critical", "instance": "db1:9100", "team": "database" }),
        json!({ "summary": "Disk on db1 is 97% full", "description": "The data volume of db1 will fill within the hour." }),
    )
}

/// A webhook body as Alertmanager 0.27 sends it.
pub(crate) fn payload(status: &str, alerts: Vec<Value>) -> String {
    json!({
        "receiver": "casebook",
        "status": status,
        "alerts": alerts,
        "groupLabels": { "alertname": "DiskFull" },
        "commonLabels": { "alertname": "DiskFull" },
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": "{}:{alertname=\"DiskFull\"}",
        "truncatedAlerts": 0
    })
    .to_string()
}

/// Sends a delivery. An Alertmanager delivery accepted into the inbox
/// (202) is then applied, as `serve`'s applier would (the test app runs no
/// background tasks), and the answer is its status URL's receipt, read
/// with the same token: what the delivery did.
pub(crate) async fn post(app: &TestApp, token: &str, path: &str, body: &str) -> TestResponse {
    let res = send(app, token, path, body).await;
    if path != AM || res.status != 202 {
        return res;
    }
    let accepted = json_of(&res);
    let url = accepted["status_url"].as_str().unwrap().to_owned();
    assert_eq!(res.header("location"), Some(url.as_str()));
    assert_eq!(accepted["state"], "pending", "{}", res.body);
    let status = applied(app, token, &url).await;
    assert_eq!(status["state"], "applied", "{status}");
    TestResponse {
        status: 200,
        headers: res.headers,
        body: status["receipt"].to_string(),
    }
}

/// Sends a body as it is, answer and all.
pub(crate) async fn send(app: &TestApp, token: &str, path: &str, body: &str) -> TestResponse {
    app.call(
        TestRequest::post()
            .uri(path)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body.to_owned()),
    )
    .await
}

/// Drives the applier until the delivery at `url` is no longer pending
/// (another caller may hold the applier's lock meanwhile); answers its
/// status document.
pub(crate) async fn applied(app: &TestApp, token: &str, url: &str) -> Value {
    for _ in 0..1000 {
        let mut conn = app.conn().await;
        apply_pending(&mut conn, &app.state.metrics).await.unwrap();
        let res = app.api_get(token, url).await;
        assert_eq!(res.status, 200, "{}", res.body);
        let status = json_of(&res);
        if status["state"] != "pending" {
            return status;
        }
        tokio::task::yield_now().await;
    }
    panic!("the delivery at {url} stayed pending");
}

pub(crate) fn json_of(res: &TestResponse) -> Value {
    serde_json::from_str(&res.body).unwrap_or_else(|e| panic!("{e}: {}", res.body))
}

async fn ticket_count(conn: &mut AsyncPgConnection) -> i64 {
    tickets::table.count().get_result(conn).await.unwrap()
}

async fn entry_count(conn: &mut AsyncPgConnection) -> i64 {
    journal_entries::table
        .count()
        .get_result(conn)
        .await
        .unwrap()
}

async fn status_of(conn: &mut AsyncPgConnection, ticket: i64) -> String {
    tickets::table
        .find(ticket)
        .select(tickets::status)
        .first(conn)
        .await
        .unwrap()
}

/// The words of the alert entries on a ticket, oldest first.
async fn alert_events(conn: &mut AsyncPgConnection, ticket: i64) -> Vec<Value> {
    journal_entries::table
        .filter(journal_entries::ticket_id.eq(ticket))
        .filter(journal_entries::kind.eq("system"))
        .order(journal_entries::id.asc())
        .select(journal_entries::data)
        .load(conn)
        .await
        .unwrap()
}

#[actix_web::test]
async fn a_firing_alert_opens_a_ticket_repeats_count_and_resolution_resolves_it() {
    let desk = desk().await;
    let token = integration(&desk, &[]).await;
    let app = &desk.app;
    let mut conn = app.conn().await;

    let firing = payload(
        "firing",
        vec![disk_full("a1b2c3", "firing", "2026-11-29T10:00:00Z")],
    );
    let res = post(app, &token, AM, &firing).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let receipt = json_of(&res);
    assert_eq!(receipt["opened"], 1);
    let id = receipt["alerts"][0]["ticket_id"].as_i64().unwrap();
    let (title, priority, category, description): (String, i16, String, String) = tickets::table
        .find(id)
        .select((
            tickets::title,
            tickets::priority,
            tickets::category,
            tickets::description,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(title, "DiskFull: Disk on db1 is 97% full");
    assert_eq!(priority, 1, "severity=critical maps to P1");
    assert_eq!(category, "database", "from the team label");
    assert!(description.contains("db1:9100"), "{description}");

    // Alertmanager retries the same payload: nothing changes.
    let entries = entry_count(&mut conn).await;
    for _ in 0..3 {
        let res = post(app, &token, AM, &firing).await;
        assert_eq!(json_of(&res)["unchanged"], 1, "{}", res.body);
    }
    assert_eq!(ticket_count(&mut conn).await, 1);
    assert_eq!(entry_count(&mut conn).await, entries);

    // The alert fires again (a new start) while the ticket is open.
    let again = payload(
        "firing",
        vec![disk_full("a1b2c3", "firing", "2026-11-29T11:00:00Z")],
    );
    let res = post(app, &token, AM, &again).await;
    assert_eq!(json_of(&res)["fired_again"], 1, "{}", res.body);
    assert_eq!(json_of(&res)["alerts"][0]["ticket_id"], id);
    assert_eq!(ticket_count(&mut conn).await, 1);
    let events = alert_events(&mut conn, id).await;
    assert_eq!(events.last().unwrap()["alert"], "fired_again");
    assert_eq!(events.last().unwrap()["count"], 2);
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let page = app
        .get_as(&app.sign_in(&engineer).await, &format!("/tickets/{id}"))
        .await;
    assert!(page.body.contains("fired again (count 2)"), "{}", page.body);

    // Resolved: an entry, and the ticket resolves (the integration says so).
    let resolved = payload(
        "resolved",
        vec![disk_full("a1b2c3", "resolved", "2026-11-29T11:00:00Z")],
    );
    let res = post(app, &token, AM, &resolved).await;
    assert_eq!(json_of(&res)["resolved"], 1, "{}", res.body);
    assert_eq!(status_of(&mut conn, id).await, "resolved");
    assert_eq!(
        alert_events(&mut conn, id).await.last().unwrap()["alert"],
        "resolved"
    );
    // ... once.
    let entries = entry_count(&mut conn).await;
    let res = post(app, &token, AM, &resolved).await;
    assert_eq!(json_of(&res)["unchanged"], 1);
    assert_eq!(entry_count(&mut conn).await, entries);
}

#[actix_web::test]
async fn without_auto_resolve_a_resolved_alert_only_adds_an_entry() {
    let desk = desk().await;
    let token = integration(&desk, &[("resolve_on_resolved", "")]).await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let res = post(
        app,
        &token,
        AM,
        &payload(
            "firing",
            vec![disk_full("f1", "firing", "2026-11-29T10:00:00Z")],
        ),
    )
    .await;
    let id = json_of(&res)["alerts"][0]["ticket_id"].as_i64().unwrap();
    let res = post(
        app,
        &token,
        AM,
        &payload(
            "resolved",
            vec![disk_full("f1", "resolved", "2026-11-29T10:00:00Z")],
        ),
    )
    .await;
    assert_eq!(json_of(&res)["resolved"], 1, "{}", res.body);
    assert_eq!(status_of(&mut conn, id).await, "new");
    assert_eq!(
        alert_events(&mut conn, id).await.last().unwrap()["alert"],
        "resolved"
    );
    // Firing again while the ticket is still open is counted on it.
    let res = post(
        app,
        &token,
        AM,
        &payload(
            "firing",
            vec![disk_full("f1", "firing", "2026-11-29T12:00:00Z")],
        ),
    )
    .await;
    assert_eq!(json_of(&res)["fired_again"], 1, "{}", res.body);
    assert_eq!(ticket_count(&mut conn).await, 1);
}

#[actix_web::test]
async fn a_grouped_payload_opens_one_ticket_per_alert_and_maps_each() {
    let desk = desk().await;
    let token = integration(&desk, &[]).await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let warning = alert(
        "w1",
        "firing",
        "2026-11-29T10:00:00Z",
        json!({ "alertname": "DiskFull", "severity": "warning", "instance": "db2:9100" }),
        json!({ "summary": "Disk on db2 is 85% full" }),
    );
    let unknown = alert(
        "u1",
        "firing",
        "2026-11-29T10:00:00Z",
        json!({ "alertname": "DiskFull", "severity": "page-everyone" }),
        json!({}),
    );
    let body = payload(
        "firing",
        vec![
            disk_full("c1", "firing", "2026-11-29T10:00:00Z"),
            warning,
            unknown,
            // Never seen firing: nothing to resolve.
            disk_full("gone", "resolved", "2026-11-29T09:00:00Z"),
        ],
    );
    let res = post(app, &token, AM, &body).await;
    let receipt = json_of(&res);
    assert_eq!(receipt["received"], 4, "{}", res.body);
    assert_eq!(receipt["opened"], 3);
    assert_eq!(receipt["unchanged"], 1);
    let rows: Vec<(String, i16, String)> = tickets::table
        .order(tickets::id.asc())
        .select((tickets::title, tickets::priority, tickets::category))
        .load(&mut conn)
        .await
        .unwrap();
    let find = |t: &str| rows.iter().find(|r| r.0.contains(t)).unwrap().clone();
    assert_eq!(find("db1").1, 1);
    assert_eq!(find("db2").1, 3, "warning → P3");
    assert_eq!(find("DiskFull").2, "database");
    let unknown = rows.iter().find(|r| r.0 == "DiskFull").unwrap();
    assert_eq!(unknown.1, 3, "an unmapped value gets the default");
    assert_eq!(unknown.2, "infrastructure", "no team label: the default");
    let group: Vec<String> = alerts::table
        .select(alerts::group_key)
        .load(&mut conn)
        .await
        .unwrap();
    assert!(
        group.iter().all(|g| g == "{}:{alertname=\"DiskFull\"}"),
        "{group:?}"
    );
    // The same group again (Alertmanager's repeat_interval): no change.
    let res = post(app, &token, AM, &body).await;
    assert_eq!(json_of(&res)["unchanged"], 4, "{}", res.body);
    assert_eq!(ticket_count(&mut conn).await, 3);
}

#[actix_web::test]
async fn sixteen_concurrent_identical_deliveries_open_exactly_one_ticket() {
    let desk = desk().await;
    let token = integration(&desk, &[]).await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let body = payload(
        "firing",
        vec![
            disk_full("same-1", "firing", "2026-11-29T10:00:00Z"),
            disk_full("same-2", "firing", "2026-11-29T10:00:00Z"),
        ],
    );
    let results =
        futures_util::future::join_all((0..16).map(|_| post(app, &token, AM, &body))).await;
    let mut opened = 0;
    for res in &results {
        assert_eq!(res.status, 200, "{}", res.body);
        opened += json_of(res)["opened"].as_i64().unwrap();
    }
    assert_eq!(opened, 2, "one delivery opened both tickets");
    assert_eq!(ticket_count(&mut conn).await, 2);
    let rows: i64 = alerts::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(rows, 2);
    // Every delivery answered with the same tickets.
    let first = json_of(&results[0])["alerts"].clone();
    for res in &results {
        let alerts = &json_of(res)["alerts"];
        for i in 0..2 {
            assert_eq!(alerts[i]["ticket_id"], first[i]["ticket_id"]);
        }
    }
}

#[actix_web::test]
async fn firing_again_reopens_within_the_window_and_opens_a_new_ticket_after_it() {
    let desk = desk().await;
    let token = integration(&desk, &[]).await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let fire = |starts: &str| payload("firing", vec![disk_full("r1", "firing", starts)]);
    let resolve = |starts: &str| payload("resolved", vec![disk_full("r1", "resolved", starts)]);
    let res = post(app, &token, AM, &fire("2026-11-29T10:00:00Z")).await;
    let id = json_of(&res)["alerts"][0]["ticket_id"].as_i64().unwrap();
    post(app, &token, AM, &resolve("2026-11-29T10:00:00Z")).await;
    assert_eq!(status_of(&mut conn, id).await, "resolved");
    // Within 24 hours: the same ticket reopens.
    let res = post(app, &token, AM, &fire("2026-11-29T11:00:00Z")).await;
    assert_eq!(json_of(&res)["reopened"], 1, "{}", res.body);
    assert_eq!(json_of(&res)["alerts"][0]["ticket_id"], id);
    assert_eq!(status_of(&mut conn, id).await, "in_progress");
    assert_eq!(ticket_count(&mut conn).await, 1);

    // Resolved again, and the window passes: the next firing is a new ticket.
    post(app, &token, AM, &resolve("2026-11-29T11:00:00Z")).await;
    assert_eq!(status_of(&mut conn, id).await, "resolved");
    diesel::update(casebook::db::schema::ticket_transitions::table)
        .filter(casebook::db::schema::ticket_transitions::ticket_id.eq(id))
        .set(
            casebook::db::schema::ticket_transitions::at
                .eq(chrono::Utc::now() - chrono::Duration::hours(25)),
        )
        .execute(&mut conn)
        .await
        .unwrap();
    let res = post(app, &token, AM, &fire("2026-11-29T12:00:00Z")).await;
    assert_eq!(json_of(&res)["opened"], 1, "{}", res.body);
    let new_id = json_of(&res)["alerts"][0]["ticket_id"].as_i64().unwrap();
    assert_ne!(new_id, id);
    assert_eq!(status_of(&mut conn, id).await, "resolved");
    assert_eq!(ticket_count(&mut conn).await, 2);
    let (ticket, fire_count): (Option<i64>, i32) = alerts::table
        .select((alerts::ticket_id, alerts::fire_count))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!((ticket, fire_count), (Some(new_id), 1));
}

#[actix_web::test]
async fn the_generic_intake_dedups_resolves_and_reopens() {
    let desk = desk().await;
    let token = integration(&desk, &[]).await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let firing = json!({
        "title": "Zabbix: web3 unreachable",
        "description": "ICMP ping to web3 failed 5 times.",
        "priority": "P2",
        "category": "network",
        "dedup_key": "zabbix-1234",
        "labels": { "host": "web3", "alertname": "HostUnreachable" },
        "status": "firing"
    })
    .to_string();
    let res = post(app, &token, GENERIC, &firing).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let id = json_of(&res)["alerts"][0]["ticket_id"].as_i64().unwrap();
    let (title, priority, category): (String, i16, String) = tickets::table
        .find(id)
        .select((tickets::title, tickets::priority, tickets::category))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        (title.as_str(), priority, category.as_str()),
        ("Zabbix: web3 unreachable", 2, "network")
    );
    // Retried: no change.
    let res = post(app, &token, GENERIC, &firing).await;
    assert_eq!(json_of(&res)["unchanged"], 1, "{}", res.body);
    // Resolved: resolves the ticket.
    let resolved = json!({ "dedup_key": "zabbix-1234", "status": "resolved" }).to_string();
    let res = post(app, &token, GENERIC, &resolved).await;
    assert_eq!(json_of(&res)["resolved"], 1, "{}", res.body);
    assert_eq!(status_of(&mut conn, id).await, "resolved");
    // Fires again soon: reopened, no second ticket.
    let res = post(app, &token, GENERIC, &firing).await;
    assert_eq!(json_of(&res)["reopened"], 1, "{}", res.body);
    assert_eq!(ticket_count(&mut conn).await, 1);
    // A generic alert without a title is refused, naming the field.
    let res = post(
        app,
        &token,
        GENERIC,
        &json!({ "dedup_key": "x" }).to_string(),
    )
    .await;
    assert_eq!(res.status, 422);
    assert_eq!(json_of(&res)["field"], "title");
}

#[actix_web::test]
async fn bad_deliveries_get_a_problem_and_change_nothing() {
    let desk = desk().await;
    let token = integration(&desk, &[]).await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let person = fixtures::api_token(&mut conn, &desk.admin).await;
    let good = payload(
        "firing",
        vec![disk_full("b1", "firing", "2026-11-29T10:00:00Z")],
    );
    let huge = payload(
        "firing",
        vec![alert(
            "big",
            "firing",
            "2026-11-29T10:00:00Z",
            json!({ "alertname": "Big", "blob": "x".repeat(3 * 1024 * 1024) }),
            json!({}),
        )],
    );
    let mut wrong_version: Value = serde_json::from_str(&good).unwrap();
    wrong_version["version"] = json!("5");
    let mut no_fingerprint: Value = serde_json::from_str(&good).unwrap();
    no_fingerprint["alerts"][0]
        .as_object_mut()
        .unwrap()
        .remove("fingerprint");
    let mut bad_status: Value = serde_json::from_str(&good).unwrap();
    bad_status["alerts"][0]["status"] = json!("burning");
    let mut nul: Value = serde_json::from_str(&good).unwrap();
    nul["alerts"][0]["labels"]["instance"] = json!("db\u{0}1");
    let made_up = format!("cbi_{}", "0".repeat(64));
    let cases: Vec<(&str, Option<&str>, String, u16, &str)> = vec![
        (
            "malformed JSON",
            Some(&token),
            "{\"version\": \"4\", ".to_owned(),
            400,
            "not valid JSON",
        ),
        (
            "unknown version",
            Some(&token),
            wrong_version.to_string(),
            422,
            "unsupported webhook payload version",
        ),
        (
            "no version",
            Some(&token),
            "{\"alerts\": []}".to_owned(),
            422,
            "no version",
        ),
        (
            "missing fingerprint",
            Some(&token),
            no_fingerprint.to_string(),
            422,
            "fingerprint",
        ),
        (
            "unknown status",
            Some(&token),
            bad_status.to_string(),
            422,
            "burning",
        ),
        ("NUL in a label", Some(&token), nul.to_string(), 422, "NUL"),
        ("oversized", Some(&token), huge, 413, "larger than"),
        (
            "no token",
            None,
            good.clone(),
            401,
            "authentication required",
        ),
        (
            "a person's API token",
            Some(&person),
            good.clone(),
            401,
            "authentication required",
        ),
        (
            "a made-up token",
            Some(&made_up),
            good.clone(),
            401,
            "unknown or revoked",
        ),
    ];
    for (what, token, body, status, says) in cases {
        let mut req = TestRequest::post()
            .uri(AM)
            .insert_header(("Content-Type", "application/json"))
            .set_payload(body);
        if let Some(token) = token {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let res = app.call(req).await;
        assert_eq!(res.status, status, "{what}: {}", res.body);
        assert_eq!(
            res.header("content-type"),
            Some("application/problem+json"),
            "{what}"
        );
        assert!(res.body.contains(says), "{what}: {}", res.body);
    }
    assert_eq!(ticket_count(&mut conn).await, 0);
    let rows: i64 = alerts::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(rows, 0);
    let queued: i64 = alert_inbox::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(queued, 0, "nothing was queued either");
    // And the good one still works.
    assert_eq!(post(app, &token, AM, &good).await.status, 200);
    assert_eq!(ticket_count(&mut conn).await, 1);
}

#[actix_web::test]
async fn integrations_are_made_edited_and_revoked_on_the_admin_page() {
    let desk = desk().await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let empty = app.get_as(&desk.browser, "/admin/integrations").await;
    assert_eq!(empty.status, 200);
    assert!(empty.body.contains("No integrations yet"), "{}", empty.body);
    // A bad priority map is refused with the form again, nothing made.
    let res = app
        .post_as(
            &desk.browser,
            "/admin/integrations",
            &[
                ("name", "Grafana"),
                ("default_priority", "P3"),
                ("priority_map", "critical = P9"),
                ("reopen_window_hours", "24"),
            ],
        )
        .await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("choose P1, P2, P3 or P4"), "{}", res.body);
    let made: i64 = integrations::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(made, 0);

    let token = integration(&desk, &[]).await;
    let (id, hash, prefix): (i64, String, String) = integrations::table
        .select((
            integrations::id,
            integrations::token_hash,
            integrations::prefix,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    assert_ne!(hash, token, "stored hashed");
    assert!(token.starts_with(&prefix));
    let list = app.get_as(&desk.browser, "/admin/integrations").await;
    assert!(list.body.contains(&prefix) && !list.body.contains(&token));
    // The map is shown and editable.
    let show = app
        .get_as(&desk.browser, &format!("/admin/integrations/{id}"))
        .await;
    assert!(
        show.body.contains("critical = P1\nwarning = P3"),
        "{}",
        show.body
    );
    let res = app
        .post_as(
            &desk.browser,
            &format!("/admin/integrations/{id}"),
            &[
                ("name", "Alertmanager prod"),
                ("default_priority", "P4"),
                ("priority_label", "level"),
                ("priority_map", "sev1 = P1, sev2 = P2"),
                ("reopen_window_hours", "1.5"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let (label, minutes, resolves): (String, i32, bool) = integrations::table
        .find(id)
        .select((
            integrations::priority_label,
            integrations::reopen_window_minutes,
            integrations::resolve_on_resolved,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!((label.as_str(), minutes, resolves), ("level", 90, false));
    let res = post(
        app,
        &token,
        AM,
        &payload(
            "firing",
            vec![alert(
                "l1",
                "firing",
                "2026-11-29T10:00:00Z",
                json!({ "alertname": "X", "level": "sev2" }),
                json!({}),
            )],
        ),
    )
    .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let priority: i16 = tickets::table
        .select(tickets::priority)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(priority, 2);

    // Revoked: refused with 401, nothing written.
    let res = app
        .post_as(
            &desk.browser,
            &format!("/admin/integrations/{id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(res.status, 303);
    let before = ticket_count(&mut conn).await;
    let res = post(
        app,
        &token,
        AM,
        &payload(
            "firing",
            vec![disk_full("after", "firing", "2026-11-29T10:00:00Z")],
        ),
    )
    .await;
    assert_eq!(res.status, 401, "{}", res.body);
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    assert!(res.body.contains("unknown or revoked"), "{}", res.body);
    assert_eq!(ticket_count(&mut conn).await, before);
    let list = app.get_as(&desk.browser, "/admin/integrations").await;
    assert!(list.body.contains("revoked"), "{}", list.body);
    // An engineer may not manage integrations.
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let res = app
        .get_as(&app.sign_in(&engineer).await, "/admin/integrations")
        .await;
    assert_eq!(res.status, 403);
}

#[actix_web::test]
async fn alert_tickets_stay_in_their_organization_and_labels_are_escaped() {
    let desk = desk().await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let globex = fixtures::organization(&mut conn, "Globex").await;
    let acme_id = acme.id.to_string();
    let token = integration(&desk, &[("organization", &acme_id)]).await;
    let hostile = alert(
        "x1",
        "firing",
        "2026-11-29T10:00:00Z",
        json!({ "alertname": "Injected", "instance": "<img src=x onerror=alert(1)>", "team": "<b>ops</b>" }),
        json!({ "summary": "<script>alert(2)</script>", "description": "[click](javascript:alert(3))" }),
    );
    let res = post(app, &token, AM, &payload("firing", vec![hostile])).await;
    let id = json_of(&res)["alerts"][0]["ticket_id"].as_i64().unwrap();

    let customer = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(&mut conn)
        .await;
    let rival = fixtures::user()
        .role(Role::Customer)
        .org(&globex)
        .create(&mut conn)
        .await;
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;

    let page = app
        .get_as(&app.sign_in(&engineer).await, &format!("/tickets/{id}"))
        .await;
    assert_eq!(page.status, 200);
    for raw in [
        "<img src=x",
        "<script>alert(2)",
        "<b>ops",
        "href=\"javascript",
    ] {
        assert!(!page.body.contains(raw), "{raw} in {}", page.body);
    }
    assert!(
        page.body.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{}",
        page.body
    );
    assert!(page.body.contains("&lt;script&gt;alert(2)&lt;/script&gt;"));
    // The Acme customer sees it (public), the Globex customer never.
    let mine = app
        .get_as(&app.sign_in(&customer).await, &format!("/tickets/{id}"))
        .await;
    assert_eq!(mine.status, 200);
    assert!(
        !mine.body.contains("opened this ticket from alert"),
        "internal entries stay internal"
    );
    let rival_browser = app.sign_in(&rival).await;
    assert_eq!(
        app.get_as(&rival_browser, &format!("/tickets/{id}"))
            .await
            .status,
        404
    );
    let list = app.get_as(&rival_browser, "/tickets?queue=all").await;
    assert!(!list.body.contains("Injected"), "{}", list.body);
    let rival_token = fixtures::api_token(&mut conn, &rival).await;
    assert_eq!(
        app.api_get(&rival_token, &format!("/api/v1/tickets/{id}"))
            .await
            .status,
        404
    );
    let api_list = app.api_get(&rival_token, "/api/v1/tickets").await;
    assert!(!api_list.body.contains("Injected"), "{}", api_list.body);
}

#[actix_web::test]
async fn a_new_alert_ticket_arrives_with_its_models_suggested_the_declared_one_first() {
    let desk = desk().await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let dir = tempfile::tempdir().unwrap();
    // A model that fits the words, and one that declares the alert but
    // shares few of its words.
    std::fs::write(
        dir.path().join("disk-space.md"),
        "# Disk almost full on a database volume\nkey: disk-space\nstatus: published\n\n## Statement\nDisk on a database host is full; the data volume will fill and writes fail.\n\n## Steps\n1. Check the disk with df.\n",
    )
    .unwrap();
    let declared = "# Storage pressure run-book\nkey: storage-pressure\ntags: storage\nalerts: DiskFull, VolumeFull\nstatus: published\n\n## Statement\nCapacity planning for storage.\n\n## Steps\n1. Page storage.\n";
    std::fs::write(dir.path().join("storage-pressure.md"), declared).unwrap();
    casebook::commands::import_dir(&mut conn, dir.path())
        .await
        .unwrap();
    let mut writer = casebook::search::indexer::writer(&app.state.search).unwrap();
    casebook::search::indexer::catch_up(&app.state.search, &mut writer, &mut conn)
        .await
        .unwrap();
    // The declared names are stored and round-trip through export.
    let names: Vec<Option<String>> = casebook::db::schema::incident_models::table
        .filter(casebook::db::schema::incident_models::key.eq("storage-pressure"))
        .select(casebook::db::schema::incident_models::alerts)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        names,
        [Some("DiskFull".to_owned()), Some("VolumeFull".to_owned())]
    );
    let out = tempfile::tempdir().unwrap();
    casebook::commands::export(&mut conn, out.path())
        .await
        .unwrap();
    let exported = std::fs::read_to_string(out.path().join("storage-pressure.md")).unwrap();
    assert_eq!(exported, declared);

    let token = integration(&desk, &[]).await;
    let res = post(
        app,
        &token,
        AM,
        &payload(
            "firing",
            vec![disk_full("t1", "firing", "2026-11-29T10:00:00Z")],
        ),
    )
    .await;
    let id = json_of(&res)["alerts"][0]["ticket_id"].as_i64().unwrap();
    // The arrival worker's work, done here (`serve` runs it after commit).
    casebook::tickets::arrival::triage_pending(&mut conn, &app.state.search)
        .await
        .unwrap();
    let (query, results): (String, Value) = triage_searches::table
        .filter(triage_searches::ticket_id.eq(id))
        .select((triage_searches::query, triage_searches::results))
        .first(&mut conn)
        .await
        .unwrap();
    assert!(
        query.starts_with("DiskFull: Disk on db1 is 97% full"),
        "{query}"
    );
    let keys: Vec<&str> = results
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys[0], "storage-pressure", "{results}");
    assert!(
        keys.contains(&"disk-space"),
        "the ranked suggestions follow: {results}"
    );
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let page = app
        .get_as(&app.sign_in(&engineer).await, &format!("/tickets/{id}"))
        .await;
    assert!(
        page.body.contains("suggested models on arrival"),
        "{}",
        page.body
    );
    let first = page.body.find("storage-pressure").unwrap();
    assert!(page.body[first..].contains("disk-space"));
    let model = app
        .get_as(&app.sign_in(&engineer).await, "/models/storage-pressure")
        .await;
    assert!(
        model
            .body
            .contains("first for alerts <code>DiskFull</code>, <code>VolumeFull</code>"),
        "{}",
        model.body
    );

    // An alert whose runbook_url names a model gets that model first.
    let runbook = alert(
        "t2",
        "firing",
        "2026-11-29T10:00:00Z",
        json!({ "alertname": "SomethingElse", "severity": "warning" }),
        json!({ "summary": "Disk on db9 is full", "runbook_url": "https://casebook.example/models/disk-space" }),
    );
    let res = post(app, &token, AM, &payload("firing", vec![runbook])).await;
    let id = json_of(&res)["alerts"][0]["ticket_id"].as_i64().unwrap();
    casebook::tickets::arrival::triage_pending(&mut conn, &app.state.search)
        .await
        .unwrap();
    let results: Value = triage_searches::table
        .filter(triage_searches::ticket_id.eq(id))
        .select(triage_searches::results)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(results[0]["key"], "disk-space", "{results}");
}

#[actix_web::test]
async fn an_integrations_account_is_neither_listed_nor_edited_as_a_person() {
    let desk = desk().await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    integration(&desk, &[("name", "Grafana staging")]).await;
    let account: i64 = integrations::table
        .select(integrations::user_id)
        .first(&mut conn)
        .await
        .unwrap();
    let list = app.get_as(&desk.browser, "/admin/users").await;
    assert_eq!(list.status, 200);
    assert!(
        !list.body.contains("Grafana staging (integration)"),
        "{}",
        list.body
    );
    assert!(
        list.body.contains(&desk.admin.display_name),
        "{}",
        list.body
    );
    // Managed with its integration, not on the people pages.
    let page = app
        .get_as(&desk.browser, &format!("/admin/users/{account}"))
        .await;
    assert_eq!(page.status, 404, "{}", page.body);
    for (path, form) in [
        ("role", vec![("role", "admin"), ("organization", "")]),
        ("enable", vec![]),
        ("password", vec![("password", "a long enough passphrase 1")]),
    ] {
        let res = app
            .post_as(
                &desk.browser,
                &format!("/admin/users/{account}/{path}"),
                &form,
            )
            .await;
        assert_eq!(res.status, 404, "{path}: {}", res.body);
    }
    let (role, disabled): (String, bool) = casebook::db::schema::users::table
        .find(account)
        .select((
            casebook::db::schema::users::role,
            casebook::db::schema::users::disabled,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!((role.as_str(), disabled), ("engineer", true));
    let own = app
        .get_as(&desk.browser, &format!("/admin/users/{}", desk.admin.id))
        .await;
    assert_eq!(own.status, 200);
}
