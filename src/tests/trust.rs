//! Regression tests for the defects found when Casebook was tried as an
//! attacker, a flaky network and a careless client would try it (issue 10):
//! one test per defect, each through the real app, the real index and a
//! real PostgreSQL.

use std::pin::Pin;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::test::{self, TestRequest};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use casebook::db::models::{self, Save};
use casebook::db::users;
use casebook::db::users::User;
use casebook::domain::account::{OrgId, Role, UserId};
use casebook::domain::model as text;
use casebook::domain::policy::Visibility;
use casebook::domain::ticket::TicketId;
use casebook::search::indexer;
use casebook::tickets::{self as service, OpenTicket};

use crate::support::fixtures;
use crate::support::{Browser, TestApp};
use crate::tickets::world;

async fn open(conn: &mut AsyncPgConnection, who: &User, title: &str) -> i64 {
    service::open(
        conn,
        &who.viewer(),
        OpenTicket {
            title,
            description: "",
            priority: "3",
            category: "",
            organization: None,
        },
    )
    .await
    .unwrap()
    .id
    .0
}

async fn index_everything(app: &TestApp) {
    let mut conn = app.conn().await;
    let mut writer = indexer::writer(&app.state.search).unwrap();
    indexer::catch_up(&app.state.search, &mut writer, &mut conn)
        .await
        .unwrap();
}

/// A small deterministic generator: the same "random" page numbers on
/// every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }

    /// A page number of any size and sign, as text.
    fn page(&mut self) -> String {
        let n = self.next();
        match n % 6 {
            0 => (n % 10).to_string(),
            1 => (n % 100_000).to_string(),
            2 => n.to_string(),
            3 => format!("-{}", n % 1_000_000),
            4 => format!("{n}{n}{n}"),
            _ => i64::MAX.to_string(),
        }
    }
}

#[actix_web::test]
async fn no_page_number_can_kill_or_fail_the_server() {
    let w = world().await;
    let mut conn = w.app.conn().await;
    open(&mut conn, &w.customer, "Checkout fails").await;
    index_everything(&w.app).await;
    let customer = w.app.sign_in(&w.customer).await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let token = fixtures::api_token(&mut conn, &w.customer).await;
    let service = test::init_service(casebook::app::build(w.app.state.clone())).await;
    // The pages found to kill the process or answer 500.
    for path in [
        "/search?q=x&page=99999999999",
        "/search?q=checkout&page=9223372036854775807",
        "/search?q=x&page=99999999999999999999999",
        "/tickets?page=9223372036854775807",
        "/models?page=9223372036854775807",
    ] {
        for browser in [&customer, &engineer] {
            let res = test::call_service(
                &service,
                browser
                    .with_cookies(TestRequest::get().uri(path))
                    .to_request(),
            )
            .await;
            assert_eq!(res.status().as_u16(), 200, "{path}");
        }
    }
    // A thousand random page numbers on every list route: never a 5xx.
    let mut pages = Lcg(10);
    for route in [
        "/search?q=checkout&page=",
        "/tickets?page=",
        "/models?page=",
        "/api/v1/search?q=checkout&page=",
        "/api/v1/tickets?page=",
        "/api/v1/models?page=",
    ] {
        let mut served = 0;
        for _ in 0..1000 {
            let uri = format!("{route}{}", pages.page());
            let req = if route.starts_with("/api/") {
                TestRequest::get()
                    .uri(&uri)
                    .insert_header(("Authorization", format!("Bearer {token}")))
            } else {
                customer.with_cookies(TestRequest::get().uri(&uri))
            };
            let status = test::call_service(&service, req.to_request())
                .await
                .status()
                .as_u16();
            assert!(status < 500, "{uri} answered {status}");
            served += usize::from(status == 200);
        }
        assert_eq!(served, 1000, "{route}");
    }
    let api = w
        .app
        .api_get(&token, "/api/v1/search?q=checkout&page=99999999999")
        .await;
    assert_eq!(api.status, 200);
    assert!(api.body.contains(r#""page":50"#), "{}", api.body);
    // Not a number at all is a clear refusal, not a fault.
    let bad = w.app.get_as(&customer, "/tickets?page=abc").await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}

#[actix_web::test]
async fn a_customer_never_sees_other_organizations_duplicates() {
    let w = world().await;
    let mut conn = w.app.conn().await;
    let ours = open(&mut conn, &w.customer, "Checkout fails with 502").await;
    let theirs = open(&mut conn, &w.rival, "GLOBEX-SECRET payroll export").await;
    let nobodys = service::open(
        &mut conn,
        &w.engineer.viewer(),
        OpenTicket {
            title: "UNOWNED internal incident",
            description: "",
            priority: "3",
            category: "",
            organization: None,
        },
    )
    .await
    .unwrap()
    .id
    .0;
    let also_ours = open(&mut conn, &w.customer, "Checkout fails again").await;
    for dup in [theirs, nobodys, also_ours] {
        service::mark_duplicate(
            &mut conn,
            &w.engineer.viewer(),
            TicketId(dup),
            &ours.to_string(),
        )
        .await
        .unwrap();
    }
    let customer = w.app.sign_in(&w.customer).await;
    let page = w.app.get_as(&customer, &format!("/tickets/{ours}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Checkout fails again"), "{}", page.body);
    for secret in ["GLOBEX-SECRET", "UNOWNED"] {
        assert!(!page.body.contains(secret), "the page showed {secret}");
    }
    // The page again after a refused reply.
    let refused = w
        .app
        .refused_as(
            &customer,
            &format!("/tickets/{ours}/entries"),
            &[("body", "   ")],
        )
        .await;
    assert!(!refused.body.contains("GLOBEX-SECRET"));
    assert!(!refused.body.contains("UNOWNED"));
    // The API.
    let token = fixtures::api_token(&mut conn, &w.customer).await;
    let api = w
        .app
        .api_get(&token, &format!("/api/v1/tickets/{ours}"))
        .await;
    assert_eq!(api.status, 200);
    assert!(api.body.contains("Checkout fails again"));
    assert!(!api.body.contains("GLOBEX-SECRET"), "{}", api.body);
    assert!(!api.body.contains("UNOWNED"), "{}", api.body);
    // The rival's ticket does not name ours as what it duplicates.
    let rival_token = fixtures::api_token(&mut conn, &w.rival).await;
    let rivals = w
        .app
        .api_get(&rival_token, &format!("/api/v1/tickets/{theirs}"))
        .await;
    assert!(
        rivals.body.contains(r#""duplicate_of":null"#),
        "{}",
        rivals.body
    );
    // Staff see them all.
    let engineer = w.app.sign_in(&w.engineer).await;
    let staff = w.app.get_as(&engineer, &format!("/tickets/{ours}")).await;
    assert!(staff.body.contains("GLOBEX-SECRET") && staff.body.contains("UNOWNED"));
}

#[actix_web::test]
async fn a_customers_search_never_reaches_internal_text_whatever_the_syntax() {
    let w = world().await;
    let mut conn = w.app.conn().await;
    let id = open(&mut conn, &w.customer, "Reports are slow").await;
    service::write(
        &mut conn,
        &w.engineer.viewer(),
        TicketId(id),
        "The payroll batch zanzibarquux holds the lock",
        Visibility::Internal,
    )
    .await
    .unwrap();
    index_everything(&w.app).await;
    let token = fixtures::api_token(&mut conn, &w.customer).await;
    let staff_token = fixtures::api_token(&mut conn, &w.engineer).await;
    let search = |token: String, q: &str| {
        let uri = format!("/api/v1/search?q={}", casebook::web::auth::urlencode(q));
        let app = &w.app;
        async move {
            let res = app.api_get(&token, &uri).await;
            assert_eq!(res.status, 200, "{uri}: {}", res.body);
            serde_json::from_str::<serde_json::Value>(&res.body).unwrap()["total"]
                .as_u64()
                .unwrap()
        }
    };
    assert_eq!(search(staff_token.clone(), "payroll").await, 1);
    assert_eq!(search(staff_token, "ticket_internal:payroll").await, 0);
    for q in [
        "payroll",
        "zanzibarquux",
        "ticket_internal:payroll",
        "ticket_internal:zanzibarquux",
        "TICKET_INTERNAL:payroll",
        "ticket_internal:[a TO z]",
        "ticket_internal:[payroll TO payroll]",
        "ticket_internal:{a TO zz}",
        "ticket_internal:>a",
        "ticket_internal:<zzzz",
        "ticket_internal:IN [payroll]",
        "ticket_internal:pay*",
        "+ticket_internal:payroll",
        "(ticket_internal:payroll OR ticket_internal:lock)",
        "\"payroll batch\"",
        "ticket_internal:\"payroll batch\"",
        "payroll^10",
        "zzunrelated ticket_internal:payroll",
    ] {
        assert_eq!(search(token.clone(), q).await, 0, "{q:?} found something");
    }
    // A word the customer may see still finds the ticket (ranked by the
    // words that match, when not all do), never through the internal one.
    assert_eq!(
        search(token.clone(), "reports ticket_internal:payroll").await,
        1
    );
    // The customer still finds the ticket by what they may see.
    assert_eq!(search(token.clone(), "reports slow").await, 1);
    assert_eq!(search(token, "\"reports are slow\"").await, 1);
}

/// Reads server-sent-event frames from a streaming response body.
struct Frames<B> {
    body: Pin<Box<B>>,
    buffer: String,
}

enum Next {
    Entry(String),
    Ended,
    Nothing,
}

impl<B: MessageBody> Frames<B> {
    async fn next(&mut self, within: Duration) -> Next {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                if frame.contains("event: entry") {
                    return Next::Entry(frame);
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(
                deadline,
                futures_util::future::poll_fn(|cx| self.body.as_mut().poll_next(cx)),
            )
            .await;
            match chunk {
                Err(_) => return Next::Nothing,
                Ok(None) | Ok(Some(Err(_))) => return Next::Ended,
                Ok(Some(Ok(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
            }
        }
    }
}

async fn listening(app: &TestApp) -> tokio::task::JoinHandle<()> {
    let listener = casebook::live::spawn_listener(app.db.url.clone(), app.state.hub.clone());
    while !app.state.hub.is_listening() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    listener
}

#[actix_web::test]
async fn event_streams_end_when_access_changes() {
    let w = world().await;
    let listener = listening(&w.app).await;
    let mut conn = w.app.conn().await;
    let id = open(&mut conn, &w.customer, "Live").await;
    let service = test::init_service(casebook::app::build(w.app.state.clone())).await;
    let stream = |browser: &Browser| {
        browser
            .with_cookies(TestRequest::get().uri(&format!("/tickets/{id}/events")))
            .to_request()
    };
    // Four engineers: one is demoted to a customer of another
    // organization, one disabled, one signs out, one's token is revoked.
    let mut people = Vec::new();
    for _ in 0..3 {
        let user = fixtures::user()
            .role(Role::Engineer)
            .create(&mut conn)
            .await;
        let browser = w.app.sign_in(&user).await;
        let res = test::call_service(&service, stream(&browser)).await;
        assert_eq!(res.status().as_u16(), 200);
        people.push((
            user,
            browser,
            Frames {
                body: Box::pin(res.into_body()),
                buffer: String::new(),
            },
        ));
    }
    let api_user = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let token = fixtures::api_token(&mut conn, &api_user).await;
    let api = test::call_service(
        &service,
        TestRequest::get()
            .uri(&format!("/api/v1/tickets/{id}/events"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .to_request(),
    )
    .await;
    assert_eq!(api.status().as_u16(), 200);
    let mut api = Frames {
        body: Box::pin(api.into_body()),
        buffer: String::new(),
    };
    // Everyone gets an internal note while they may.
    service::write(
        &mut conn,
        &w.engineer.viewer(),
        TicketId(id),
        "first internal note",
        Visibility::Internal,
    )
    .await
    .unwrap();
    for (_, _, frames) in &mut people {
        assert!(matches!(
            frames.next(Duration::from_secs(5)).await,
            Next::Entry(f) if f.contains("first internal note")
        ));
    }
    assert!(matches!(
        api.next(Duration::from_secs(5)).await,
        Next::Entry(_)
    ));

    let globex = users::find_organization_by_name(&mut conn, "Globex")
        .await
        .unwrap()
        .unwrap();
    users::set_role(
        &mut conn,
        UserId(people[0].0.id),
        Role::Customer,
        Some(OrgId(globex.id)),
    )
    .await
    .unwrap();
    users::set_disabled(&mut conn, UserId(people[1].0.id), true)
        .await
        .unwrap();
    let signed_out = w.app.post_as(&people[2].1, "/logout", &[]).await;
    assert_eq!(signed_out.status, 303);
    let token_id: i64 = casebook::db::schema::api_tokens::table
        .filter(casebook::db::schema::api_tokens::user_id.eq(api_user.id))
        .select(casebook::db::schema::api_tokens::id)
        .first(&mut conn)
        .await
        .unwrap();
    casebook::db::api_tokens::revoke(
        &mut conn,
        UserId(api_user.id),
        casebook::domain::account::TokenId(token_id),
    )
    .await
    .unwrap()
    .unwrap();
    service::write(
        &mut conn,
        &w.engineer.viewer(),
        TicketId(id),
        "SECOND-INTERNAL note after access changed",
        Visibility::Internal,
    )
    .await
    .unwrap();
    for (user, _, frames) in &mut people {
        match frames.next(Duration::from_secs(5)).await {
            Next::Ended => {}
            Next::Entry(frame) => panic!("{} still got: {frame}", user.email),
            Next::Nothing => panic!("the stream of {} did not end", user.email),
        }
    }
    assert!(matches!(
        api.next(Duration::from_secs(5)).await,
        Next::Ended
    ));
    listener.abort();
}

#[actix_web::test]
async fn entries_written_while_the_listen_connection_is_down_still_arrive() {
    let w = world().await;
    let listener = listening(&w.app).await;
    let mut conn = w.app.conn().await;
    let id = open(&mut conn, &w.customer, "Blips").await;
    let service = test::init_service(casebook::app::build(w.app.state.clone())).await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let res = test::call_service(
        &service,
        engineer
            .with_cookies(TestRequest::get().uri(&format!("/tickets/{id}/events")))
            .to_request(),
    )
    .await;
    let mut frames = Frames {
        body: Box::pin(res.into_body()),
        buffer: String::new(),
    };
    for blip in 0..3 {
        // Cut the LISTEN connection, as a database restart or a network
        // fault would, and write while it is down.
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while w.app.state.hub.is_listening() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert!(!w.app.state.hub.is_listening(), "the cut was not noticed");
        for n in 0..4 {
            service::write(
                &mut conn,
                &w.engineer.viewer(),
                TicketId(id),
                &format!("blip {blip} entry {n}"),
                Visibility::Internal,
            )
            .await
            .unwrap();
        }
        for n in 0..4 {
            match frames.next(Duration::from_secs(15)).await {
                Next::Entry(frame) => {
                    assert!(frame.contains(&format!("blip {blip} entry {n}")), "{frame}")
                }
                Next::Ended => panic!("the stream ended"),
                Next::Nothing => panic!("blip {blip} entry {n} never arrived"),
            }
        }
    }
    listener.abort();
}

/// Saves `body` as a new revision of the model (or the first).
async fn save(conn: &mut AsyncPgConnection, body: &str) {
    let parsed = text::parse(body).unwrap();
    let current = models::find_by_key(conn, &parsed.key).await.unwrap();
    let expected = current.as_ref().map_or(0, |m| m.revision);
    models::save(
        conn,
        current.as_ref(),
        expected,
        &parsed,
        &Save {
            author: None,
            summary: "edit",
        },
    )
    .await
    .unwrap();
}

#[actix_web::test]
async fn old_internal_revisions_and_public_drafts_stay_the_teams() {
    let w = world().await;
    let mut conn = w.app.conn().await;
    save(
        &mut conn,
        "# Disk full\nkey: disk-full\ncategory: storage\nstatus: draft\npublic: no\n\n## Statement\nINTERNAL-DRAFT wording about the SAN vendor.\n\n## Steps\n1. Call the vendor.\n",
    )
    .await;
    save(
        &mut conn,
        "# Disk full\nkey: disk-full\ncategory: storage\nstatus: published\npublic: yes\n\n## Statement\nThe disk is full.\n\n## Steps\n1. Free space.\n",
    )
    .await;
    // A public model that is still a draft links here and has its own
    // category and tag.
    save(
        &mut conn,
        "# SECRET-DRAFT plan\nkey: secret-draft\ncategory: draftcategory\ntags: drafttag\nstatus: draft\npublic: yes\n\n## Statement\nSee [[disk-full]].\n\n## Steps\n1. Wait.\n",
    )
    .await;
    let customer = w.app.sign_in(&w.customer).await;
    let token = fixtures::api_token(&mut conn, &w.customer).await;
    assert_eq!(
        w.app.get_as(&customer, "/models/disk-full").await.status,
        200
    );
    for path in [
        "/models/disk-full/revisions/1",
        "/models/disk-full/diff?from=1&to=2",
        "/models/disk-full/diff?from=2&to=1",
    ] {
        assert_eq!(w.app.get_as(&customer, path).await.status, 404, "{path}");
    }
    assert_eq!(
        w.app
            .get_as(&customer, "/models/disk-full/revisions/2")
            .await
            .status,
        200
    );
    let api = w
        .app
        .api_get(&token, "/api/v1/models/disk-full/revisions/1")
        .await;
    assert_eq!(api.status, 404);
    let history = w.app.get_as(&customer, "/models/disk-full/history").await;
    assert!(!history.body.contains("revisions/1"), "{}", history.body);
    let history = w
        .app
        .api_get(&token, "/api/v1/models/disk-full/revisions")
        .await;
    assert!(!history.body.contains(r#""number":1"#), "{}", history.body);
    let page = w.app.get_as(&customer, "/models/disk-full").await;
    assert!(!page.body.contains("SECRET-DRAFT"), "{}", page.body);
    assert!(!page.body.contains("secret-draft"));
    let list = w.app.get_as(&customer, "/models").await;
    assert!(!list.body.contains("draftcategory"), "{}", list.body);
    assert!(!list.body.contains("drafttag"));
    // The team reads it all.
    let engineer = w.app.sign_in(&w.engineer).await;
    let old = w
        .app
        .get_as(&engineer, "/models/disk-full/revisions/1")
        .await;
    assert!(old.body.contains("INTERNAL-DRAFT"));
    let page = w.app.get_as(&engineer, "/models/disk-full").await;
    assert!(page.body.contains("SECRET-DRAFT"));
}

#[actix_web::test]
async fn sign_in_redirects_stay_on_this_site() {
    let w = world().await;
    let customer = w.app.sign_in(&w.customer).await;
    for next in [
        "/%09/evil.example/x",
        "/%0A/evil.example",
        "/%0D%0ASet-Cookie:%20x=y",
        "/%0B/evil.example",
        "%5C%5Cevil.example",
        "/%5Cevil.example",
    ] {
        let res = w
            .app
            .get_as(&customer, &format!("/login?next={next}"))
            .await;
        assert_eq!(res.status, 303, "{next}: {}", res.body);
        assert_eq!(res.location(), Some("/"), "{next}");
    }
    let res = w
        .app
        .get_as(&customer, "/login?next=/tickets%3Fqueue%3Dmine")
        .await;
    assert_eq!(res.location(), Some("/tickets?queue=mine"));
}

#[actix_web::test]
async fn a_huge_diff_of_unlike_revisions_is_answered() {
    let w = world().await;
    let mut conn = w.app.conn().await;
    let steps = |word: &str| -> String {
        (1..=20_000)
            .map(|i| format!("{i}. {word} {}\n", i * 7919 % 10007))
            .collect()
    };
    // Past the 500-step limit: saved as the statement's lines instead.
    let lines = |word: &str| -> String { steps(word).replace(". ", ") ") };
    for word in ["alpha", "omega"] {
        save(
            &mut conn,
            &format!(
                "# Big\nkey: big\nstatus: published\n\n## Statement\n{}\n## Steps\n1. One.\n",
                lines(word)
            ),
        )
        .await;
    }
    let engineer = w.app.sign_in(&w.engineer).await;
    let diff = w
        .app
        .get_as(&engineer, "/models/big/diff?from=1&to=2")
        .await;
    assert_eq!(diff.status, 200);
    assert!(diff.body.contains("omega") && diff.body.contains("alpha"));
}

#[actix_web::test]
async fn the_index_never_skips_a_row_that_commits_after_a_higher_id() {
    let w = world().await;
    let index = &w.app.state.search;
    let mut writer = indexer::writer(index).unwrap();
    let mut conn = w.app.conn().await;
    indexer::catch_up(index, &mut writer, &mut conn)
        .await
        .unwrap();
    // A transaction takes an outbox id and stays open…
    let (inserted_tx, inserted_rx) = tokio::sync::oneshot::channel::<()>();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    let mut slow = w.app.conn().await;
    let customer = w.customer.clone();
    let slow_writer = tokio::spawn(async move {
        slow.transaction(async move |conn| {
            let id = service::open(
                conn,
                &customer.viewer(),
                OpenTicket {
                    title: "Slowpoke committed late",
                    description: "",
                    priority: "3",
                    category: "",
                    organization: None,
                },
            )
            .await
            .unwrap()
            .id
            .0;
            inserted_tx.send(()).unwrap();
            go_rx.await.unwrap();
            Ok::<_, diesel::result::Error>(id)
        })
        .await
        .unwrap()
    });
    inserted_rx.await.unwrap();
    // …while another commits a higher id, and the indexer runs.
    let fast = open(&mut conn, &w.customer, "Speedy committed first").await;
    indexer::apply_available(index, &mut writer, &mut conn)
        .await
        .unwrap();
    // Committed but held behind the open transaction: the lag says so.
    assert!(indexer::lag(index, &mut conn).await.unwrap() > 0);
    go_tx.send(()).unwrap();
    let slow = slow_writer.await.unwrap();
    assert!(slow < fast, "the slow transaction took the lower id");
    indexer::catch_up(index, &mut writer, &mut conn)
        .await
        .unwrap();
    assert_eq!(indexer::lag(index, &mut conn).await.unwrap(), 0);
    let staff = casebook::search::query::Audience::Staff;
    for title in ["slowpoke", "speedy"] {
        let (hits, total) = casebook::search::query::search(
            index,
            &casebook::search::query::parse(title),
            staff,
            0,
            10,
        )
        .unwrap();
        assert_eq!(total, 1, "{title}: {hits:?}");
    }
    // Status and duplicate changes reach the index too.
    service::change_status(
        &mut conn,
        &w.engineer.viewer(),
        TicketId(fast),
        "triaged",
        "",
    )
    .await
    .unwrap();
    service::mark_duplicate(
        &mut conn,
        &w.engineer.viewer(),
        TicketId(slow),
        &fast.to_string(),
    )
    .await
    .unwrap();
    indexer::catch_up(index, &mut writer, &mut conn)
        .await
        .unwrap();
    let find = |q: &str| {
        casebook::search::query::search(index, &casebook::search::query::parse(q), staff, 0, 10)
            .unwrap()
            .1
    };
    assert_eq!(find("speedy status:triaged"), 1);
    assert_eq!(find("slowpoke status:closed"), 1);
    assert_eq!(find("slowpoke status:new"), 0);
    assert_eq!(indexer::snapshot(index).unwrap(), {
        let fresh = casebook::search::SearchIndex::in_memory().unwrap();
        let mut w2 = indexer::writer(&fresh).unwrap();
        indexer::rebuild(
            &fresh,
            &mut w2,
            &mut conn,
            &indicatif::ProgressBar::hidden(),
        )
        .await
        .unwrap();
        drop(w2);
        fresh.reader.reload().unwrap();
        indexer::snapshot(&fresh).unwrap()
    });
    let ready = w.app.get("/readyz").await;
    assert!(ready.body.contains(r#""pending":0"#), "{}", ready.body);
}

#[actix_web::test]
async fn two_people_marking_a_and_b_duplicates_of_each_other_get_clear_answers() {
    let w = world().await;
    let mut conn = w.app.conn().await;
    for _ in 0..10 {
        let a = open(&mut conn, &w.customer, "A").await;
        let b = open(&mut conn, &w.customer, "B").await;
        let (mut c1, mut c2) = (w.app.conn().await, w.app.conn().await);
        let viewer = w.engineer.viewer();
        let (a_text, b_text) = (a.to_string(), b.to_string());
        let (r1, r2) = tokio::join!(
            service::mark_duplicate(&mut c1, &viewer, TicketId(a), &b_text),
            service::mark_duplicate(&mut c2, &viewer, TicketId(b), &a_text),
        );
        let outcomes = [r1, r2];
        assert_eq!(
            outcomes.iter().filter(|r| r.is_ok()).count(),
            1,
            "{outcomes:?}"
        );
        for refused in outcomes.iter().filter_map(|r| r.as_ref().err()) {
            let message = refused.to_string();
            assert!(message.contains("already"), "refused with {message:?}");
        }
    }
}

#[actix_web::test]
async fn small_ones_nul_bytes_sizes_paths_caching_and_rate_limits() {
    let w = world().await;
    let mut conn = w.app.conn().await;
    let id = open(&mut conn, &w.customer, "Small ones").await;
    let customer = w.app.sign_in(&w.customer).await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let token = fixtures::api_token(&mut conn, &w.customer).await;
    let entries_before: i64 = casebook::db::schema::journal_entries::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    // A NUL byte in a form field, a JSON field and a key: a clear 422.
    let form = w
        .app
        .post_as(
            &customer,
            &format!("/tickets/{id}/entries"),
            &[("body", "a\0b")],
        )
        .await;
    assert_eq!(form.status, 422, "{}", form.body);
    assert!(form.body.contains("NUL"));
    let json = w
        .app
        .call(
            TestRequest::post()
                .uri(&format!("/api/v1/tickets/{id}/entries"))
                .insert_header(("Authorization", format!("Bearer {token}")))
                .set_json(serde_json::json!({ "body": "a\u{0}b" })),
        )
        .await;
    assert_eq!(json.status, 422, "{}", json.body);
    let key = w.app.get_as(&engineer, "/models/a%00b").await;
    assert_eq!(key.status, 422, "{}", key.body);
    let created = w
        .app
        .call(
            TestRequest::post()
                .uri("/api/v1/tickets")
                .insert_header(("Authorization", format!("Bearer {token}")))
                .set_json(serde_json::json!({ "title": "x\u{0}y" })),
        )
        .await;
    assert_eq!(created.status, 422, "{}", created.body);
    let entries_after: i64 = casebook::db::schema::journal_entries::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        entries_before, entries_after,
        "a refused write changed something"
    );
    // 2 MiB of JSON: 413, not 400.
    let big = w
        .app
        .call(
            TestRequest::post()
                .uri(&format!("/api/v1/tickets/{id}/entries"))
                .insert_header(("Authorization", format!("Bearer {token}")))
                .set_json(serde_json::json!({ "body": "x".repeat(3 * 1024 * 1024) })),
        )
        .await;
    assert_eq!(big.status, 413, "{}", big.body);
    // The API never takes the session cookie, however its path is spelled.
    for path in ["/api/v1/me", "/%61pi/v1/me", "/%61%70%69/v1/me"] {
        let res = w.app.get_as(&customer, path).await;
        assert_eq!(res.status, 401, "{path}: {}", res.body);
    }
    // Signed-in pages are not cached; a failed sign-in on a page is a page.
    let page = w.app.get_as(&customer, "/tickets").await;
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let api = w.app.api_get(&token, "/api/v1/me").await;
    assert_eq!(api.header("cache-control"), Some("no-store"));
    // Guessing the current password is rate-limited.
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let res = w
            .app
            .post_as(
                &customer,
                "/account/password",
                &[
                    ("current", "wrong-password-guess"),
                    ("password", "a new password 123"),
                    ("password_confirm", "a new password 123"),
                ],
            )
            .await;
        statuses.push(res.status);
    }
    assert_eq!(&statuses[..5], &[422; 5], "{statuses:?}");
    assert_eq!(statuses[6], 429, "{statuses:?}");
}
