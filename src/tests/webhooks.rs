//! Outgoing webhooks against a real HTTP endpoint (an actix server in the
//! test): signatures verify (checked here with the hmac crate, not with
//! Casebook's own code), a customer-visible subscription never carries an
//! internal entry or another organization's ticket, internal targets are
//! refused, and a failing or hanging endpoint is retried to its bound
//! without holding anyone else up.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use casebook::db::schema::deliveries;
use casebook::domain::account::Role;
use casebook::domain::policy::Visibility;
use casebook::tickets::{self, Escalation, OpenTicket};

use crate::support::TestApp;
use crate::support::fixtures;
use crate::support::smtp::{settings, start_delivering};

#[derive(Debug, Clone)]
struct Call {
    path: String,
    timestamp: String,
    signature: String,
    event: String,
    body: String,
}

type Calls = Arc<Mutex<Vec<Call>>>;

async fn record(req: HttpRequest, body: web::Bytes, calls: web::Data<Calls>) -> HttpResponse {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let path = req.path().to_owned();
    calls.lock().unwrap().push(Call {
        path: path.clone(),
        timestamp: header("x-casebook-timestamp"),
        signature: header("x-casebook-signature"),
        event: header("x-casebook-event"),
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    match path.as_str() {
        "/fail" => HttpResponse::InternalServerError().body("broken"),
        "/hang" => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            HttpResponse::Ok().finish()
        }
        _ => HttpResponse::Ok().finish(),
    }
}

/// The endpoint: answers 200 on any path but /fail (500) and /hang.
fn endpoint() -> (String, Calls) {
    let calls: Calls = Arc::default();
    let data = web::Data::new(calls.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .default_service(web::to(record))
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (base, calls)
}

/// HMAC-SHA256(secret, timestamp "." body), written out here.
fn verifies(secret: &str, call: &Call) -> bool {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{}.{}", call.timestamp, call.body).as_bytes());
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    call.signature == format!("sha256={want}")
}

async fn pending(conn: &mut diesel_async::AsyncPgConnection) -> i64 {
    deliveries::table
        .filter(deliveries::status.eq("pending"))
        .count()
        .get_result(conn)
        .await
        .unwrap()
}

async fn settle(conn: &mut diesel_async::AsyncPgConnection, limit: Duration) {
    let deadline = Instant::now() + limit;
    while pending(conn).await > 0 {
        assert!(
            Instant::now() < deadline,
            "deliveries still pending after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn secret_of(conn: &mut diesel_async::AsyncPgConnection, url: &str) -> String {
    casebook::db::webhooks::list(conn)
        .await
        .unwrap()
        .into_iter()
        .find(|(s, _)| s.url == url)
        .map(|(s, _)| s.secret)
        .unwrap()
}

#[actix_web::test]
async fn a_customer_visible_subscription_never_carries_internal_entries_and_signatures_verify() {
    let (base, calls) = endpoint();
    let mut app = TestApp::new().await;
    let _delivering = start_delivering(&mut app, settings(None));
    let mut conn = app.conn().await;
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let globex = fixtures::organization(&mut conn, "Globex").await;
    let ann = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(&mut conn)
        .await;
    let gus = fixtures::user()
        .role(Role::Customer)
        .org(&globex)
        .create(&mut conn)
        .await;
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let other = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    let browser = app.sign_in(&admin).await;

    let team_url = format!("{base}/team");
    let mut fields: Vec<(&str, &str)> = vec![("url", &team_url), ("format", "json")];
    for e in casebook::domain::notice::Event::ALL {
        fields.push((e.as_str(), "on"));
    }
    let res = app.post_as(&browser, "/admin/webhooks", &fields).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let acme_url = format!("{base}/acme");
    let acme_id = acme.id.to_string();
    let customer_fields = [
        ("url", acme_url.as_str()),
        ("customer_visible_only", "on"),
        ("organization", &acme_id),
        ("ticket.opened", "on"),
        ("entry.public", "on"),
        ("ticket.status_changed", "on"),
    ];
    let res = app
        .post_as(&browser, "/admin/webhooks", &customer_fields)
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    // Internal events cannot be chosen for a customer-visible subscription,
    // nor can internal targets be subscribed at all.
    let mut with_internal = customer_fields.to_vec();
    with_internal.push(("entry.internal", "on"));
    let res = app
        .post_as(&browser, "/admin/webhooks", &with_internal)
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("for the team only"), "{}", res.body);
    for internal in [
        "http://127.0.0.2:9/x",
        "http://10.1.2.3/x",
        "http://169.254.169.254/latest",
    ] {
        let res = app
            .post_as(
                &browser,
                "/admin/webhooks",
                &[("url", internal), ("ticket.opened", "on")],
            )
            .await;
        assert_eq!(res.status, 422, "{internal}");
        assert!(
            res.body.contains("internal address"),
            "{internal}: {}",
            res.body
        );
    }

    let open = |title: &'static str| OpenTicket {
        title,
        description: "as the title says",
        priority: "2",
        category: "",
        organization: None,
    };
    let ticket = tickets::open(&mut conn, &ann.viewer(), open("Acme checkout down"))
        .await
        .unwrap()
        .id;
    tickets::open(&mut conn, &gus.viewer(), open("Globex private matter"))
        .await
        .unwrap();
    let staff = engineer.viewer();
    tickets::write(
        &mut conn,
        &staff,
        ticket,
        "We are looking.",
        Visibility::Public,
    )
    .await
    .unwrap();
    tickets::write(
        &mut conn,
        &staff,
        ticket,
        "SECRET-NOTE the db is ours to blame",
        Visibility::Internal,
    )
    .await
    .unwrap();
    tickets::escalate(
        &mut conn,
        &staff,
        ticket,
        Escalation {
            to_user: Some(other.id),
            to_team: "",
            followed: "no",
            step_reached: "",
            reason: "SECRET-ESCALATION needs a DBA",
        },
    )
    .await
    .unwrap();
    tickets::link_model(
        &mut conn,
        &staff,
        ticket,
        "",
        "no_fit",
        "SECRET-GAP no model",
        None,
    )
    .await
    .unwrap();
    tickets::change_status(&mut conn, &staff, ticket, "in_progress", "")
        .await
        .unwrap();
    settle(&mut conn, Duration::from_secs(20)).await;

    let calls = calls.lock().unwrap().clone();
    let team: Vec<&Call> = calls.iter().filter(|c| c.path == "/team").collect();
    let acme_calls: Vec<&Call> = calls.iter().filter(|c| c.path == "/acme").collect();
    let team_events: Vec<&str> = team.iter().map(|c| c.event.as_str()).collect();
    for event in [
        "ticket.opened",
        "entry.public",
        "entry.internal",
        "ticket.escalated",
        "ticket.model_linked",
        "ticket.status_changed",
    ] {
        assert!(
            team_events.contains(&event),
            "team missed {event}: {team_events:?}"
        );
    }
    assert!(
        team.iter().any(|c| c.body.contains("SECRET-NOTE")),
        "the team hears internal notes"
    );
    let acme_events: Vec<&str> = acme_calls.iter().map(|c| c.event.as_str()).collect();
    assert_eq!(
        acme_events,
        vec![
            "ticket.opened",
            "entry.public",
            "ticket.status_changed",
            "entry.public"
        ],
        "{acme_calls:#?}"
    );
    for call in &acme_calls {
        for secret in [
            "SECRET",
            "Globex",
            "category",
            "assignee_id",
            "followed_model",
        ] {
            assert!(
                !call.body.contains(secret),
                "{secret} reached the customer channel: {}",
                call.body
            );
        }
        let body: Value = serde_json::from_str(&call.body).unwrap();
        assert_eq!(body["data"]["ticket"]["organization_id"], acme.id);
    }
    let team_secret = secret_of(&mut conn, &team_url).await;
    let acme_secret = secret_of(&mut conn, &acme_url).await;
    assert!(
        team.iter().all(|c| verifies(&team_secret, c)),
        "team signatures"
    );
    assert!(
        acme_calls.iter().all(|c| verifies(&acme_secret, c)),
        "customer signatures"
    );
    assert!(
        !verifies(&team_secret, acme_calls[0]),
        "each subscription has its own secret"
    );
    let age = chrono::Utc::now().timestamp() - acme_calls[0].timestamp.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "the timestamp is the sending time");
}

#[actix_web::test]
async fn a_failing_or_hanging_endpoint_is_retried_to_its_bound_and_blocks_nobody() {
    let (base, calls) = endpoint();
    let mut app = TestApp::new().await;
    let mut fast = settings(None);
    fast.max_attempts = 3;
    fast.retry_base = Duration::from_millis(50);
    fast.retry_max = Duration::from_millis(100);
    fast.timeout = Duration::from_secs(1);
    let _delivering = start_delivering(&mut app, fast);
    let mut conn = app.conn().await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    let browser = app.sign_in(&admin).await;
    for path in ["hang", "fail", "good"] {
        let url = format!("{base}/{path}");
        let res = app
            .post_as(
                &browser,
                "/admin/webhooks",
                &[("url", &url), ("ticket.opened", "on")],
            )
            .await;
        assert_eq!(res.status, 303, "{}", res.body);
    }
    let desk = fixtures::desk(&mut conn).await;
    let started = Instant::now();
    // The good endpoint hears at once, while the hanging one still hangs.
    loop {
        let got = calls.lock().unwrap().iter().any(|c| c.path == "/good");
        if got {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the good endpoint waited"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "blocked by the hanging endpoint: {:?}",
        started.elapsed()
    );
    settle(&mut conn, Duration::from_secs(30)).await;
    let rows: Vec<(String, String, i32, String)> = deliveries::table
        .order(deliveries::id.asc())
        .select((
            deliveries::recipient,
            deliveries::status,
            deliveries::attempts,
            deliveries::last_error,
        ))
        .load(&mut conn)
        .await
        .unwrap();
    let by_path = |path: &str| {
        calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.path == path)
            .count()
    };
    assert_eq!(by_path("/fail"), 3, "three tries, then no more");
    assert_eq!(by_path("/hang"), 3);
    assert_eq!(by_path("/good"), 1);
    let statuses: Vec<(&str, i32)> = rows.iter().map(|r| (r.1.as_str(), r.2)).collect();
    assert_eq!(
        statuses,
        vec![("failed", 3), ("failed", 3), ("sent", 1)],
        "{rows:#?}"
    );
    assert!(rows[1].3.contains("HTTP 500"), "{rows:#?}");
    assert!(rows[0].3.contains("no answer within"), "{rows:#?}");
    let page = app.get_as(&browser, "/admin/webhooks").await;
    assert!(
        page.body.contains("HTTP 500") && page.body.contains("failed"),
        "the delivery log shows it"
    );
    let _ = desk;
}
