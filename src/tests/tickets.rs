//! Tickets through the real app: the customer boundary (pages, API, event
//! stream), lifecycle, journal visibility, model links, escalation,
//! duplicates and queues.

use std::pin::Pin;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::test::{self, TestRequest};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use casebook::db::schema::{escalations, ticket_models, ticket_transitions, tickets};
use casebook::db::users::User;
use casebook::domain::account::Role;
use casebook::domain::policy::Visibility;
use casebook::domain::ticket::TicketId;
use casebook::tickets::{self as ticket_actions, OpenTicket};

use crate::support::fixtures;
use crate::support::{Browser, TestApp};

/// An engineer, a customer of Acme and a customer of Globex (the rival).
pub(crate) struct World {
    pub(crate) app: TestApp,
    pub(crate) engineer: User,
    pub(crate) customer: User,
    pub(crate) rival: User,
}

pub(crate) async fn world() -> World {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let globex = fixtures::organization(&mut conn, "Globex").await;
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
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
    World {
        app,
        engineer,
        customer,
        rival,
    }
}

async fn open_as(app: &TestApp, user: &User, title: &str, priority: &str) -> i64 {
    let mut conn = app.conn().await;
    ticket_actions::open(
        &mut conn,
        &user.viewer(),
        OpenTicket {
            title,
            description: "It broke.",
            priority,
            category: "database",
            organization: None,
        },
    )
    .await
    .unwrap()
    .id
    .0
}

async fn token_for(app: &TestApp, browser: &Browser) -> String {
    let created = app
        .post_as(browser, "/account/tokens", &[("name", "t")])
        .await;
    let start = created.body.find("cb_").unwrap();
    created.body[start..start + 67].to_owned()
}

#[actix_web::test]
async fn customers_open_tickets_and_see_only_their_organizations() {
    let w = world().await;
    let customer = w.app.sign_in(&w.customer).await;
    let res = w
        .app
        .post_as(
            &customer,
            "/tickets",
            &[
                ("title", "Checkout is slow"),
                ("description", "Since 10:00"),
                ("priority", "2"),
                ("category", "web"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let id: i64 = res
        .location()
        .unwrap()
        .trim_start_matches("/tickets/")
        .parse()
        .unwrap();
    let mut conn = w.app.conn().await;
    let org: Option<i64> = tickets::table
        .find(id)
        .select(tickets::organization_id)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        org, w.customer.organization_id,
        "a customer's ticket belongs to their organization"
    );

    let rival = w.app.sign_in(&w.rival).await;
    assert_eq!(
        w.app.get_as(&rival, &format!("/tickets/{id}")).await.status,
        404
    );
    assert!(
        !w.app
            .get_as(&rival, "/tickets")
            .await
            .body
            .contains("Checkout is slow")
    );
    assert_eq!(
        w.app
            .get_as(&rival, &format!("/tickets/{id}/events"))
            .await
            .status,
        404
    );
    let reply = w
        .app
        .post_as(&rival, &format!("/tickets/{id}/entries"), &[("body", "hi")])
        .await;
    assert_eq!(
        reply.status, 404,
        "another organization could write to the ticket"
    );
    let rival_token = token_for(&w.app, &rival).await;
    assert_eq!(
        w.app
            .api_get(&rival_token, &format!("/api/v1/tickets/{id}"))
            .await
            .status,
        404
    );
    assert!(
        !w.app
            .api_get(&rival_token, "/api/v1/tickets")
            .await
            .body
            .contains("Checkout is slow")
    );

    assert!(
        w.app
            .get_as(&customer, "/tickets")
            .await
            .body
            .contains("Checkout is slow")
    );
    let engineer = w.app.sign_in(&w.engineer).await;
    assert!(
        w.app
            .get_as(&engineer, "/tickets?queue=triage")
            .await
            .body
            .contains("Checkout is slow")
    );
}

#[actix_web::test]
async fn internal_entries_never_reach_customers() {
    let w = world().await;
    let id = open_as(&w.app, &w.customer, "Database down", "1").await;
    let engineer = w.app.sign_in(&w.engineer).await;
    // The composer defaults to internal.
    let note = w
        .app
        .post_as(
            &engineer,
            &format!("/tickets/{id}/entries"),
            &[("body", "SECRET: primary is corrupted")],
        )
        .await;
    assert_eq!(note.status, 303, "{}", note.body);
    w.app
        .post_as(
            &engineer,
            &format!("/tickets/{id}/entries"),
            &[("body", "We are on it."), ("visibility", "public")],
        )
        .await;

    let staff_page = w.app.get_as(&engineer, &format!("/tickets/{id}")).await;
    assert!(
        staff_page.body.contains("SECRET: primary is corrupted")
            && staff_page.body.contains("We are on it.")
    );
    assert!(
        staff_page.body.contains(r#"value="internal" checked"#),
        "the composer must default to internal"
    );

    let customer = w.app.sign_in(&w.customer).await;
    let page = w.app.get_as(&customer, &format!("/tickets/{id}")).await;
    assert!(page.body.contains("We are on it."));
    assert!(
        !page.body.contains("SECRET"),
        "an internal entry reached the customer's page"
    );
    let token = token_for(&w.app, &customer).await;
    let api = w
        .app
        .api_get(&token, &format!("/api/v1/tickets/{id}"))
        .await;
    assert!(
        api.body.contains("We are on it.") && !api.body.contains("SECRET"),
        "{} {}",
        api.status,
        &api.body[..api.body.len().min(1500)]
    );
    assert!(!api.body.contains(r#""models""#));

    // A customer cannot write internal entries, by form or API.
    let sneaky = w
        .app
        .call(
            TestRequest::post()
                .uri(&format!("/api/v1/tickets/{id}/entries"))
                .insert_header(("Authorization", format!("Bearer {token}")))
                .set_json(serde_json::json!({"body": "x", "visibility": "internal"})),
        )
        .await;
    assert_eq!(sneaky.status, 403);
    w.app
        .post_as(
            &customer,
            &format!("/tickets/{id}/entries"),
            &[("body", "Thanks!"), ("visibility", "internal")],
        )
        .await;
    let staff_view = w.app.get_as(&engineer, &format!("/tickets/{id}")).await;
    let thanks = &staff_view.body[staff_view.body.find("Thanks!").unwrap().saturating_sub(600)..];
    assert!(
        thanks.contains("entry kind-reply public"),
        "a customer's reply must be public"
    );
}

#[actix_web::test]
async fn the_lifecycle_is_enforced_and_every_transition_timed() {
    let w = world().await;
    let id = open_as(&w.app, &w.customer, "Slow queries", "3").await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let refused = w
        .app
        .refused_as(
            &engineer,
            &format!("/tickets/{id}/status"),
            &[("status", "closed")],
        )
        .await;
    assert!(
        refused.body.contains(
            "a ticket cannot go from new to closed; from new it can go to triaged or in progress or resolved"
        ),
        "{}",
        refused.body
    );
    for to in ["triaged", "in_progress", "waiting_on_customer"] {
        let res = w
            .app
            .post_as(
                &engineer,
                &format!("/tickets/{id}/status"),
                &[("status", to)],
            )
            .await;
        assert_eq!(res.status, 303, "{to}: {}", res.body);
    }
    // The customer's reply puts a waiting ticket back in progress.
    let customer = w.app.sign_in(&w.customer).await;
    w.app
        .post_as(
            &customer,
            &format!("/tickets/{id}/entries"),
            &[("body", "Here are the logs.")],
        )
        .await;
    let mut conn = w.app.conn().await;
    let status: String = tickets::table
        .find(id)
        .select(tickets::status)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(status, "in_progress");
    for to in ["resolved", "in_progress", "resolved", "closed"] {
        assert_eq!(
            w.app
                .post_as(
                    &engineer,
                    &format!("/tickets/{id}/status"),
                    &[("status", to)]
                )
                .await
                .status,
            303,
            "{to}"
        );
    }
    let moves: Vec<(Option<String>, String)> = ticket_transitions::table
        .filter(ticket_transitions::ticket_id.eq(id))
        .select((
            ticket_transitions::from_status,
            ticket_transitions::to_status,
        ))
        .order(ticket_transitions::id.asc())
        .load(&mut conn)
        .await
        .unwrap();
    let shown: Vec<String> = moves
        .iter()
        .map(|(f, t)| format!("{}>{t}", f.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        shown,
        vec![
            ">new",
            "new>triaged",
            "triaged>in_progress",
            "in_progress>waiting_on_customer",
            "waiting_on_customer>in_progress",
            "in_progress>resolved",
            "resolved>in_progress",
            "in_progress>resolved",
            "resolved>closed"
        ]
    );
    // The customer sees status changes; they cannot make them.
    let page = w.app.get_as(&customer, &format!("/tickets/{id}")).await;
    assert!(
        page.body
            .contains("changed the status from Resolved to Closed")
    );
    assert_eq!(
        w.app
            .post_as(
                &customer,
                &format!("/tickets/{id}/status"),
                &[("status", "closed")]
            )
            .await
            .status,
        403
    );
}

#[actix_web::test]
async fn linking_a_model_pins_its_revision_and_the_model_counts_outcomes() {
    let w = world().await;
    let mut conn = w.app.conn().await;
    casebook::commands::demo(&mut conn).await.unwrap();
    let id = open_as(&w.app, &w.customer, "Disk almost full", "2").await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let linked = w
        .app
        .post_as(
            &engineer,
            &format!("/tickets/{id}/models"),
            &[("model", "db-disk-full"), ("outcome", "resolved")],
        )
        .await;
    assert_eq!(linked.status, 303, "{}", linked.body);
    let no_fit = w
        .app
        .refused_as(
            &engineer,
            &format!("/tickets/{id}/models"),
            &[("outcome", "no_fit")],
        )
        .await;
    assert!(
        no_fit
            .body
            .contains("what a model for this would need to cover")
    );
    w.app
        .post_as(
            &engineer,
            &format!("/tickets/{id}/models"),
            &[("outcome", "no_fit"), ("missing", "inode exhaustion")],
        )
        .await;
    let unknown = w
        .app
        .refused_as(
            &engineer,
            &format!("/tickets/{id}/models"),
            &[("model", "nope"), ("outcome", "partial")],
        )
        .await;
    assert!(unknown.body.contains(r#"id="refused""#), "{}", unknown.body);

    let rows: Vec<(Option<i64>, Option<i32>, String)> = ticket_models::table
        .select((
            ticket_models::model_id,
            ticket_models::revision,
            ticket_models::outcome,
        ))
        .order(ticket_models::id.asc())
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!((rows[0].1, rows[0].2.as_str()), (Some(1), "resolved"));
    assert_eq!((rows[1].0, rows[1].2.as_str()), (None, "no_fit"));

    let page = w.app.get_as(&engineer, "/models/db-disk-full").await;
    assert!(
        page.body
            .contains(&format!(r#"<a href="/tickets/{id}">#{id}</a>"#)),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("resolved by the model 1 · helped partly 0")
    );
    let ticket_page = w.app.get_as(&engineer, &format!("/tickets/{id}")).await;
    assert!(ticket_page.body.contains("linked model db-disk-full"));
    assert!(ticket_page.body.contains("inode exhaustion"));
}

#[actix_web::test]
async fn escalation_needs_the_model_question_answered() {
    let w = world().await;
    let id = open_as(&w.app, &w.customer, "Replication lag", "1").await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let unanswered = w
        .app
        .refused_as(
            &engineer,
            &format!("/tickets/{id}/escalate"),
            &[("to_team", "DBA on call")],
        )
        .await;
    assert!(
        unanswered
            .body
            .contains("Have you followed the incident model?")
    );
    let no_step = w
        .app
        .refused_as(
            &engineer,
            &format!("/tickets/{id}/escalate"),
            &[("to_team", "DBA on call"), ("followed_model", "yes")],
        )
        .await;
    assert!(no_step.body.contains(r#"id="refused""#), "{}", no_step.body);
    let nobody = w
        .app
        .refused_as(
            &engineer,
            &format!("/tickets/{id}/escalate"),
            &[("followed_model", "no_model")],
        )
        .await;
    assert!(nobody.body.contains(r#"id="refused""#), "{}", nobody.body);
    let ok = w
        .app
        .post_as(
            &engineer,
            &format!("/tickets/{id}/escalate"),
            &[
                ("to_team", "DBA on call"),
                ("followed_model", "yes"),
                ("step_reached", "3"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303, "{}", ok.body);
    let mut conn = w.app.conn().await;
    let recorded: (String, String, Option<i32>) = escalations::table
        .select((
            escalations::to_team,
            escalations::followed_model,
            escalations::step_reached,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        recorded,
        ("DBA on call".to_owned(), "yes".to_owned(), Some(3))
    );
    let page = w.app.get_as(&engineer, &format!("/tickets/{id}")).await;
    assert!(
        page.body.contains("escalated to DBA on call")
            && page.body.contains("followed the model to step 3")
    );
    let customer = w.app.sign_in(&w.customer).await;
    assert!(
        !w.app
            .get_as(&customer, &format!("/tickets/{id}"))
            .await
            .body
            .contains("escalated to")
    );
}

#[actix_web::test]
async fn a_duplicate_closes_and_points_to_the_original() {
    let w = world().await;
    let original = open_as(&w.app, &w.customer, "API down", "1").await;
    let copy = open_as(&w.app, &w.customer, "API not answering", "1").await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let itself = w
        .app
        .refused_as(
            &engineer,
            &format!("/tickets/{copy}/duplicate"),
            &[("duplicate_of", &copy.to_string())],
        )
        .await;
    assert!(itself.body.contains(r#"id="refused""#), "{}", itself.body);
    let missing = w
        .app
        .refused_as(
            &engineer,
            &format!("/tickets/{copy}/duplicate"),
            &[("duplicate_of", "999999")],
        )
        .await;
    assert!(missing.body.contains(r#"id="refused""#), "{}", missing.body);
    let res = w
        .app
        .post_as(
            &engineer,
            &format!("/tickets/{copy}/duplicate"),
            &[("duplicate_of", &format!("#{original}"))],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let mut conn = w.app.conn().await;
    let (status, of): (String, Option<i64>) = tickets::table
        .find(copy)
        .select((tickets::status, tickets::duplicate_of))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!((status.as_str(), of), ("closed", Some(original)));
    let copy_page = w.app.get_as(&engineer, &format!("/tickets/{copy}")).await;
    assert!(copy_page.body.contains(&format!(
        r#"Closed as a duplicate of <a href="/tickets/{original}">#{original}</a>"#
    )));
    let original_page = w
        .app
        .get_as(&engineer, &format!("/tickets/{original}"))
        .await;
    assert!(original_page.body.contains(&format!(
        r#"<a href="/tickets/{copy}">#{copy}</a> API not answering"#
    )));
}

#[actix_web::test]
async fn queues_put_p1_first_then_oldest_and_filter_and_page() {
    let w = world().await;
    let p3_old = open_as(&w.app, &w.customer, "Old P3", "3").await;
    let p1 = open_as(&w.app, &w.customer, "Fresh P1", "1").await;
    let p3_new = open_as(&w.app, &w.customer, "New P3", "3").await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let triage = w.app.get_as(&engineer, "/tickets?queue=triage").await;
    let at = |id: i64| triage.body.find(&format!("/tickets/{id}\"")).unwrap();
    assert!(
        at(p1) < at(p3_old) && at(p3_old) < at(p3_new),
        "P1 first, then oldest"
    );

    w.app
        .post_as(
            &engineer,
            &format!("/tickets/{p1}/assign"),
            &[("assignee", &w.engineer.id.to_string())],
        )
        .await;
    let mine = w.app.get_as(&engineer, "/tickets?queue=mine").await;
    assert!(mine.body.contains("Fresh P1") && !mine.body.contains("Old P3"));
    let p3_only = w.app.get_as(&engineer, "/tickets?priority=3").await;
    assert!(p3_only.body.contains("Old P3") && !p3_only.body.contains("Fresh P1"));
    let empty = w.app.get_as(&engineer, "/tickets?status=closed").await;
    assert!(empty.body.contains("No ticket matches."));

    for n in 0..55 {
        open_as(&w.app, &w.customer, &format!("Bulk {n}"), "4").await;
    }
    let first = w.app.get_as(&engineer, "/tickets").await;
    assert!(
        first.body.contains("58 tickets · page 1 of 2") && first.body.contains("page=2"),
        "{}",
        &first.body[..2000.min(first.body.len())]
    );
    let second = w.app.get_as(&engineer, "/tickets?page=2").await;
    assert!(second.body.contains("Bulk 54"));
}

#[actix_web::test]
async fn bad_ticket_input_is_refused_with_a_message() {
    let w = world().await;
    let customer = w.app.sign_in(&w.customer).await;
    let long = "x".repeat(300);
    for (fields, message) in [
        (vec![("title", ""), ("priority", "2")], "must not be empty"),
        (
            vec![("title", long.as_str()), ("priority", "2")],
            "at most 200 characters",
        ),
        (
            vec![("title", "ok"), ("priority", "9")],
            "choose P1, P2, P3 or P4",
        ),
    ] {
        let res = w.app.post_as(&customer, "/tickets", &fields).await;
        assert_eq!(res.status, 422, "{fields:?}");
        assert!(res.body.contains(message), "{fields:?}: {message}");
    }
    let mut conn = w.app.conn().await;
    assert_eq!(
        tickets::table
            .count()
            .get_result::<i64>(&mut conn)
            .await
            .unwrap(),
        0
    );
    let id = open_as(&w.app, &w.customer, "Real", "2").await;
    let empty = w
        .app
        .refused_as(
            &customer,
            &format!("/tickets/{id}/entries"),
            &[("body", "   ")],
        )
        .await;
    assert!(empty.body.contains("write something first"));
    let engineer = w.app.sign_in(&w.engineer).await;
    let bogus = w
        .app
        .refused_as(
            &engineer,
            &format!("/tickets/{id}/status"),
            &[("status", "exploded")],
        )
        .await;
    assert!(bogus.body.contains("unknown status"));
}

/// Reads server-sent-event frames from a streaming response body.
struct Frames<B> {
    body: Pin<Box<B>>,
    buffer: String,
}

impl<B: MessageBody> Frames<B> {
    async fn next_entry(&mut self, within: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                if frame.contains("event: entry") {
                    return Some(frame);
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(
                deadline,
                futures_util::future::poll_fn(|cx| self.body.as_mut().poll_next(cx)),
            )
            .await
            .ok()??
            .ok()?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

#[actix_web::test]
async fn the_event_stream_carries_new_entries_and_never_internal_ones_to_customers() {
    let w = world().await;
    let listener = casebook::live::spawn_listener(w.app.db.url.clone(), w.app.state.hub.clone());
    while !w.app.state.hub.is_listening() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let id = open_as(&w.app, &w.customer, "Live", "2").await;
    let service = test::init_service(casebook::app::build(w.app.state.clone())).await;
    let customer = w.app.sign_in(&w.customer).await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let open = |browser: &Browser, path: String| {
        browser
            .with_cookies(TestRequest::get().uri(&path))
            .to_request()
    };
    let customer_stream =
        test::call_service(&service, open(&customer, format!("/tickets/{id}/events"))).await;
    assert_eq!(
        customer_stream.headers().get("content-type").unwrap(),
        "text/event-stream"
    );
    let staff_stream =
        test::call_service(&service, open(&engineer, format!("/tickets/{id}/events"))).await;
    let mut customer_frames = Frames {
        body: Box::pin(customer_stream.into_body()),
        buffer: String::new(),
    };
    let mut staff_frames = Frames {
        body: Box::pin(staff_stream.into_body()),
        buffer: String::new(),
    };

    let mut conn = w.app.conn().await;
    let ticket = TicketId(id);
    ticket_actions::write(
        &mut conn,
        &w.engineer.viewer(),
        ticket,
        "INTERNAL-ONLY detail",
        Visibility::Internal,
    )
    .await
    .unwrap();
    ticket_actions::write(
        &mut conn,
        &w.engineer.viewer(),
        ticket,
        "Public update",
        Visibility::Public,
    )
    .await
    .unwrap();

    let first_for_staff = staff_frames
        .next_entry(Duration::from_secs(2))
        .await
        .unwrap();
    assert!(first_for_staff.contains("INTERNAL-ONLY detail"));
    let second_for_staff = staff_frames
        .next_entry(Duration::from_secs(2))
        .await
        .unwrap();
    assert!(second_for_staff.contains("Public update"));
    let first_for_customer = customer_frames
        .next_entry(Duration::from_secs(2))
        .await
        .unwrap();
    assert!(
        first_for_customer.contains("Public update"),
        "{first_for_customer}"
    );
    assert!(!first_for_customer.contains("INTERNAL"));
    assert!(
        customer_frames
            .next_entry(Duration::from_millis(500))
            .await
            .is_none(),
        "the customer got another entry"
    );

    // A reconnecting page catches up from Last-Event-ID.
    let last: i64 = first_for_staff
        .lines()
        .find_map(|l| l.strip_prefix("id: "))
        .unwrap()
        .parse()
        .unwrap();
    let resumed = test::call_service(
        &service,
        engineer
            .with_cookies(
                TestRequest::get()
                    .uri(&format!("/tickets/{id}/events"))
                    .insert_header(("Last-Event-ID", last.to_string())),
            )
            .to_request(),
    )
    .await;
    let mut resumed = Frames {
        body: Box::pin(resumed.into_body()),
        buffer: String::new(),
    };
    assert!(
        resumed
            .next_entry(Duration::from_secs(2))
            .await
            .unwrap()
            .contains("Public update")
    );

    // The API stream is JSON and filtered the same way.
    let token = token_for(&w.app, &customer).await;
    let api = test::call_service(
        &service,
        TestRequest::get()
            .uri(&format!("/api/v1/tickets/{id}/events?after=0"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .to_request(),
    )
    .await;
    let mut api = Frames {
        body: Box::pin(api.into_body()),
        buffer: String::new(),
    };
    let frame = api.next_entry(Duration::from_secs(2)).await.unwrap();
    assert!(frame.contains(r#""body":"Public update""#), "{frame}");
    listener.abort();
}
