//! Triage on arrival, queued (issue 14): a delivery queues the triage of
//! the tickets it opens in its own transaction; the arrival worker records
//! it once, and a `casebook serve` started on a database with triage still
//! queued (what a crash after the delivery's commit leaves) does it.

use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use casebook::db::schema::{arrival_triage, integrations, journal_entries, triage_searches};
use casebook::tickets::arrival::triage_pending;

use crate::alerts::{AM, desk, disk_full, integration, json_of, payload, post};
use crate::support::process::{Serve, api_get, api_post, data_dir};

async fn queued(conn: &mut AsyncPgConnection) -> Vec<i64> {
    arrival_triage::table
        .select(arrival_triage::ticket_id)
        .order(arrival_triage::ticket_id.asc())
        .load(conn)
        .await
        .unwrap()
}

/// The triage searches recorded on a ticket: (by, query, results).
async fn searches(conn: &mut AsyncPgConnection, ticket: i64) -> Vec<(i64, String, Value)> {
    triage_searches::table
        .filter(triage_searches::ticket_id.eq(ticket))
        .select((
            triage_searches::user_id,
            triage_searches::query,
            triage_searches::results,
        ))
        .order(triage_searches::id.asc())
        .load(conn)
        .await
        .unwrap()
}

fn ticket_ids(receipt: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = receipt["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["ticket_id"].as_i64())
        .collect();
    ids.sort_unstable();
    ids
}

#[actix_web::test]
async fn alerts_queue_the_triage_of_new_tickets_with_the_delivery_and_it_is_recorded_once() {
    let desk = desk().await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    let token = integration(&desk, &[]).await;
    let body = payload(
        "firing",
        vec![
            disk_full("q1", "firing", "2026-11-29T10:00:00Z"),
            disk_full("q2", "firing", "2026-11-29T10:00:00Z"),
        ],
    );
    let res = post(app, &token, AM, &body).await;
    assert_eq!(res.status, 200, "{}", res.body);
    let tickets = ticket_ids(&json_of(&res));
    assert_eq!(tickets.len(), 2);
    // Queued with the tickets; the request did not search.
    assert_eq!(queued(&mut conn).await, tickets);
    for &t in &tickets {
        assert!(searches(&mut conn, t).await.is_empty());
    }
    // A retry of the delivery queues nothing more.
    let res = post(app, &token, AM, &body).await;
    assert_eq!(json_of(&res)["unchanged"], 2, "{}", res.body);
    assert_eq!(queued(&mut conn).await, tickets);

    assert_eq!(
        triage_pending(&mut conn, &app.state.search).await.unwrap(),
        2
    );
    assert!(queued(&mut conn).await.is_empty());
    let account: i64 = integrations::table
        .select(integrations::user_id)
        .first(&mut conn)
        .await
        .unwrap();
    for &t in &tickets {
        let found = searches(&mut conn, t).await;
        assert_eq!(found.len(), 1, "{found:?}");
        let (by, query, _) = &found[0];
        assert_eq!(*by, account, "recorded as the integration's search");
        assert!(query.starts_with("DiskFull: Disk on db1"), "{query}");
        let data: Vec<Value> = journal_entries::table
            .filter(journal_entries::ticket_id.eq(t))
            .filter(journal_entries::kind.eq("triage"))
            .select(journal_entries::data)
            .load(&mut conn)
            .await
            .unwrap();
        assert_eq!(data.len(), 1, "{data:?}");
        assert_eq!(data[0]["on_arrival"], true);
    }
    // Nothing is left: another run records nothing twice.
    assert_eq!(
        triage_pending(&mut conn, &app.state.search).await.unwrap(),
        0
    );
    for &t in &tickets {
        assert_eq!(searches(&mut conn, t).await.len(), 1);
    }
}

/// Waits (up to a minute, for a loaded machine) until `ticket` has a
/// recorded triage search; answers its results.
async fn recorded(conn: &mut AsyncPgConnection, serve: &Serve, ticket: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some((_, _, results)) = searches(conn, ticket).await.pop() {
            return results;
        }
        assert!(
            Instant::now() < deadline,
            "ticket {ticket} was not triaged on arrival within 60 s:\n{}",
            serve.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn alerts_triage_queued_before_a_crash_is_done_by_the_next_serve_and_new_ones_at_once() {
    let desk = desk().await;
    let app = &desk.app;
    let mut conn = app.conn().await;
    // A model that declares the alert: it comes first whatever the index
    // of the new process holds yet.
    let models = tempfile::tempdir().unwrap();
    std::fs::write(
        models.path().join("storage-pressure.md"),
        "# Storage pressure run-book\nkey: storage-pressure\nalerts: DiskFull\nstatus: published\n\n## Statement\nCapacity planning for storage.\n\n## Steps\n1. Page storage.\n",
    )
    .unwrap();
    casebook::commands::import_dir(&mut conn, models.path())
        .await
        .unwrap();
    let token = integration(&desk, &[]).await;
    // Delivered and committed, with no worker running: the state a crash
    // right after the delivery's commit leaves behind.
    let res = post(
        app,
        &token,
        AM,
        &payload(
            "firing",
            vec![disk_full("c1", "firing", "2026-11-29T10:00:00Z")],
        ),
    )
    .await;
    let first = ticket_ids(&json_of(&res))[0];
    assert_eq!(queued(&mut conn).await, [first]);
    assert!(searches(&mut conn, first).await.is_empty());

    let dir = data_dir();
    let mut serve = Serve::start_with(dir.path(), |c| {
        c.env("DATABASE_URL", &app.db.url);
    });
    serve.wait_ready();
    let results = recorded(&mut conn, &serve, first).await;
    assert_eq!(results[0]["key"], "storage-pressure", "{results}");
    assert!(queued(&mut conn).await.is_empty());

    // A delivery to the running process is triaged by its worker.
    let body: Value = serde_json::from_str(&payload(
        "firing",
        vec![disk_full("c2", "firing", "2026-11-29T10:00:00Z")],
    ))
    .unwrap();
    let (status, answer) = api_post(serve.addr, &token, AM, &body);
    assert_eq!(status, 202, "{answer}");
    let accepted: Value = serde_json::from_str(&answer).unwrap();
    let url = accepted["status_url"].as_str().unwrap();
    // Applied by the process's applier, moments later.
    let deadline = Instant::now() + Duration::from_secs(60);
    let receipt = loop {
        let (status, body) = api_get(serve.addr, &token, url);
        assert_eq!(status, 200, "{body}");
        let doc: Value = serde_json::from_str(&body).unwrap();
        if doc["state"] == "applied" {
            break doc["receipt"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "not applied within 60 s: {doc}\n{}",
            serve.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let second = ticket_ids(&receipt)[0];
    let results = recorded(&mut conn, &serve, second).await;
    assert_eq!(results[0]["key"], "storage-pressure", "{results}");
    assert_eq!(searches(&mut conn, first).await.len(), 1);
    serve.kill();
}
