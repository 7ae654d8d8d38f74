//! Mail through the real binaries: `casebook mailgate` posts to a real
//! `casebook serve` (exit statuses an MTA understands), and a `kill -9` of
//! serve while mail is queued loses nothing and sends nothing twice.

use std::io::Write;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::{Value, json};

use casebook::db::schema::deliveries;
use casebook::domain::account::Role;

use crate::support::TestDb;
use crate::support::fixtures;
use crate::support::process::{Serve, api_post, casebook, data_dir, free_port};
use crate::support::smtp::{SmtpServer, mailgate_token, message};

fn mailgate(url: &str, token: &str, raw: &[u8]) -> Output {
    let mut child = casebook()
        .args([
            "mailgate",
            "--url",
            url,
            "--token",
            token,
            "--timeout",
            "10",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(raw).unwrap();
    child.wait_with_output().unwrap()
}

fn start(dir: &std::path::Path, db: &TestDb, relay: std::net::SocketAddr) -> Serve {
    let mut serve = Serve::start_with(dir, |c| {
        c.env("DATABASE_URL", &db.url).args([
            "--smtp-host",
            "127.0.0.1",
            "--smtp-port",
            &relay.port().to_string(),
            "--mail-from",
            "Casebook Desk <desk@casebook.test>",
            "--retry-base-ms",
            "200",
        ]);
    });
    serve.wait_ready();
    serve
}

#[test]
fn mailgate_and_a_kill_9_with_mail_queued_deliver_each_message_exactly_once() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(TestDb::new());
    let (engineer_token, gate_token) = runtime.block_on(async {
        let mut conn = db.conn().await;
        let acme = fixtures::organization(&mut conn, "Acme").await;
        fixtures::user()
            .role(Role::Customer)
            .org(&acme)
            .email("ann@acme.test")
            .create(&mut conn)
            .await;
        let engineer = fixtures::user()
            .role(Role::Engineer)
            .create(&mut conn)
            .await;
        let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
        (
            fixtures::api_token(&mut conn, &engineer).await,
            mailgate_token(&mut conn, &admin).await,
        )
    });
    // The relay's port: nothing listens there until after the crash.
    let relay_addr = free_port();
    let dir = data_dir();
    let mut serve = start(dir.path(), &db, relay_addr);
    let url = serve.url("");

    // A customer opens a ticket through mailgate.
    let out = mailgate(
        &url,
        &gate_token,
        &message("ann@acme.test", "VPN down", &[], "Nobody can connect."),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said = String::from_utf8_lossy(&out.stdout);
    let answer: Value =
        serde_json::from_str(said.trim().trim_start_matches("casebook mailgate: ")).unwrap();
    assert_eq!(answer["outcome"], "opened");
    let ticket = answer["ticket"].as_i64().unwrap();
    // Exit statuses an MTA acts on: bad message, sender not allowed.
    let out = mailgate(&url, &gate_token, b"garbage without headers");
    assert_eq!(
        out.status.code(),
        Some(65),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = mailgate(
        &url,
        &gate_token,
        &message("eve@evil.test", "Hi", &[], "let me in"),
    );
    assert_eq!(
        out.status.code(),
        Some(77),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Five public replies, queued while the relay is down.
    for n in 1..=5 {
        let (status, body) = api_post(
            serve.addr,
            &engineer_token,
            &format!("/api/v1/tickets/{ticket}/entries"),
            &json!({ "body": format!("Status update {n}."), "visibility": "public" }),
        );
        assert_eq!(status, 201, "{body}");
    }
    let tries = |db: &TestDb| {
        runtime.block_on(async {
            let mut conn = db.conn().await;
            deliveries::table
                .select(diesel::dsl::sum(deliveries::attempts))
                .first::<Option<i64>>(&mut conn)
                .await
                .unwrap()
                .unwrap_or(0)
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while tries(&db) < 2 {
        assert!(
            Instant::now() < deadline,
            "no failed tries:\n{}",
            serve.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    serve.kill();
    // Casebook is down: the MTA is told to try again later.
    let out = mailgate(
        &url,
        &gate_token,
        &message("ann@acme.test", "Still down", &[], "Hello?"),
    );
    assert_eq!(out.status.code(), Some(75));

    let relay = SmtpServer::start_on(relay_addr);
    let serve = start(dir.path(), &db, relay_addr);
    let deadline = Instant::now() + Duration::from_secs(60);
    while relay.messages().len() < 5 {
        assert!(Instant::now() < deadline, "mail lost:\n{}", serve.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Everything marked sent, and nothing more arrives.
    let sent = |db: &TestDb| {
        runtime.block_on(async {
            let mut conn = db.conn().await;
            deliveries::table
                .filter(deliveries::status.eq("sent"))
                .count()
                .get_result::<i64>(&mut conn)
                .await
                .unwrap()
        })
    };
    while sent(&db) < 5 {
        assert!(
            Instant::now() < deadline,
            "not marked sent:\n{}",
            serve.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(800));
    let got = relay.messages();
    assert_eq!(got.len(), 5, "each message exactly once: {got:#?}");
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.to, vec!["ann@acme.test".to_owned()]);
        assert!(
            m.body().contains(&format!("Status update {}.", i + 1)),
            "in order: {}",
            m.body()
        );
    }
}
