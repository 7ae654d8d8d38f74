//! Reviews through the real app: the queue and its count, the gathered
//! facts, draft → submit (with its journal entry), the one-action routine
//! review, two reviewers at once, items proposed from "no model fits", and
//! the customer boundary.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use casebook::db::schema::{audit_log, improvements, journal_entries, reviews};
use casebook::db::users::User;
use casebook::db::{reviews as review_db, triage};
use casebook::domain::account::{Role, UserId};
use casebook::domain::review::ReviewInput;
use casebook::domain::ticket::TicketId;
use casebook::tickets::{self as ticket_actions, Escalation, OpenTicket};

use crate::support::fixtures;
use crate::support::{Browser, TestApp};

/// A team, a customer, and the demo models.
pub struct Team {
    pub app: TestApp,
    pub engineer: User,
    pub reviewer: User,
    pub manager: User,
    pub customer: User,
}

pub async fn team() -> Team {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    casebook::commands::demo(&mut conn).await.unwrap();
    let acme = fixtures::organization(&mut conn, "Acme").await;
    Team {
        engineer: fixtures::user()
            .role(Role::Engineer)
            .create(&mut conn)
            .await,
        reviewer: fixtures::user()
            .role(Role::Reviewer)
            .create(&mut conn)
            .await,
        manager: fixtures::user().role(Role::Manager).create(&mut conn).await,
        customer: fixtures::user()
            .role(Role::Customer)
            .org(&acme)
            .create(&mut conn)
            .await,
        app,
    }
}

/// A ticket the customer opened, taken through `statuses` by the engineer.
pub async fn ticket(t: &Team, title: &str, statuses: &[&str]) -> i64 {
    let mut conn = t.app.conn().await;
    let id = ticket_actions::open(
        &mut conn,
        &t.customer.viewer(),
        OpenTicket {
            title,
            description: "Orders fail since 09:40.",
            priority: "2",
            category: "web",
            organization: None,
        },
    )
    .await
    .unwrap()
    .id
    .0;
    for status in statuses {
        ticket_actions::change_status(&mut conn, &t.engineer.viewer(), TicketId(id), status, "")
            .await
            .unwrap();
    }
    id
}

pub const TO_RESOLVED: &[&str] = &["triaged", "in_progress", "resolved"];

pub async fn link(t: &Team, id: i64, key: &str, outcome: &str, missing: &str) {
    let mut conn = t.app.conn().await;
    ticket_actions::link_model(
        &mut conn,
        &t.engineer.viewer(),
        TicketId(id),
        key,
        outcome,
        missing,
        None,
    )
    .await
    .unwrap();
}

fn complete(what: &str) -> Vec<(&'static str, String)> {
    vec![
        ("what_happened", what.to_owned()),
        ("model_linked", "yes".to_owned()),
        ("model_worked", "worked".to_owned()),
        ("escalation", "none_needed".to_owned()),
        ("action", "submit".to_owned()),
    ]
}

async fn post(
    app: &TestApp,
    b: &Browser,
    path: &str,
    fields: &[(&'static str, String)],
) -> crate::support::TestResponse {
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.post_as(b, path, &pairs).await
}

#[actix_web::test]
async fn resolved_tickets_wait_in_the_queue_oldest_first_with_a_count_for_reviewers() {
    let t = team().await;
    let older = ticket(&t, "Older resolved ticket", TO_RESOLVED).await;
    let newer = ticket(&t, "Newer resolved ticket", TO_RESOLVED).await;
    let _working = ticket(&t, "Still being worked", &["triaged", "in_progress"]).await;
    let original = ticket(&t, "The original", &[]).await;
    let duplicate = ticket(&t, "A duplicate", &[]).await;
    let mut conn = t.app.conn().await;
    ticket_actions::mark_duplicate(
        &mut conn,
        &t.engineer.viewer(),
        TicketId(duplicate),
        &original.to_string(),
    )
    .await
    .unwrap();

    let reviewer = t.app.sign_in(&t.reviewer).await;
    let page = t.app.get_as(&reviewer, "/reviews").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let a = page
        .body
        .find("Older resolved ticket")
        .expect("older in the queue");
    let b = page
        .body
        .find("Newer resolved ticket")
        .expect("newer in the queue");
    assert!(a < b, "oldest first");
    assert!(!page.body.contains("Still being worked"));
    assert!(
        !page.body.contains("A duplicate"),
        "a duplicate is not reviewed"
    );
    assert!(page.body.contains("2 tickets to review"));
    assert!(
        page.body
            .contains(r#"<span class="count" aria-label="2 to review">2</span>"#)
    );
    assert!(page.body.contains(&format!("/reviews/{older}")));

    // An engineer sees the queue but not the count in the navigation.
    let engineer = t.app.sign_in(&t.engineer).await;
    let page = t.app.get_as(&engineer, "/reviews").await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(r#"class="count""#));

    // A submitted review takes the ticket out of the queue; a reopened
    // ticket leaves it too.
    let res = post(
        &t.app,
        &reviewer,
        &format!("/reviews/{older}"),
        &complete("Fine."),
    )
    .await;
    assert_eq!(res.status, 303, "{}", res.body);
    ticket_actions::change_status(
        &mut conn,
        &t.engineer.viewer(),
        TicketId(newer),
        "in_progress",
        "",
    )
    .await
    .unwrap();
    let page = t.app.get_as(&reviewer, "/reviews").await;
    assert!(page.body.contains("Nothing to review"), "{}", page.body);
    assert_eq!(review_db::queue_count(&mut conn).await.unwrap(), 0);
}

#[actix_web::test]
async fn the_review_page_shows_the_facts_gathered_on_the_ticket() {
    let t = team().await;
    let id = ticket(&t, "Disk full on db-3", &["triaged", "in_progress"]).await;
    let mut conn = t.app.conn().await;
    let engineer = t.engineer.viewer();
    link(&t, id, "db-disk-full", "partial", "").await;
    link(&t, id, "", "no_fit", "How to grow an LVM volume online").await;
    ticket_actions::escalate(
        &mut conn,
        &engineer,
        TicketId(id),
        Escalation {
            to_user: None,
            to_team: "DBA on call",
            followed: "yes",
            step_reached: "3",
            reason: "",
        },
    )
    .await
    .unwrap();
    let search = triage::record(
        &mut conn,
        TicketId(id),
        UserId(t.engineer.id),
        "disk full postgres",
        serde_json::json!([{ "key": "db-disk-full" }, { "key": "log-volume-full" }]),
    )
    .await
    .unwrap();
    triage::picked(&mut conn, TicketId(id), search, "db-disk-full")
        .await
        .unwrap();
    ticket_actions::write(
        &mut conn,
        &engineer,
        TicketId(id),
        "Looking at it now.",
        casebook::domain::policy::Visibility::Public,
    )
    .await
    .unwrap();
    ticket_actions::change_status(&mut conn, &engineer, TicketId(id), "resolved", "")
        .await
        .unwrap();

    let reviewer = t.app.sign_in(&t.reviewer).await;
    let page = t.app.get_as(&reviewer, &format!("/reviews/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let body = &page.body;
    assert!(
        body.contains("db-disk-full") && body.contains("(revision 1)"),
        "link with its revision"
    );
    assert!(body.contains("the model helped partly"));
    assert!(body.contains("no model fits") && body.contains("How to grow an LVM volume online"));
    assert!(body.contains("DBA on call") && body.contains("followed the model to step 3"));
    assert!(body.contains("<code>disk full postgres</code>") && body.contains("2 results, picked"));
    assert!(body.contains("Time to triage") && body.contains("Time to the first public reply"));
    assert!(!body.contains("<dd>—</dd>"), "every time is known: {body}");
    // "No model fits" proposes a "write a new model" item, prefilled.
    assert!(body.contains(r#"value="Write a model: How to grow an LVM volume online""#));
    // A partial link did not resolve it: no routine button.
    assert!(!body.contains("Model worked, nothing to add"));

    // The API gives the same facts.
    let token = fixtures::api_token(&mut conn, &t.reviewer).await;
    let res = t
        .app
        .api_get(&token, &format!("/api/v1/reviews/{id}"))
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    let json: Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(json["facts"]["links"][0]["model"], "db-disk-full");
    assert_eq!(json["facts"]["escalations"][0]["step_reached"], 3);
    assert_eq!(
        json["facts"]["triage_searches"][0]["picked"],
        "db-disk-full"
    );
    assert!(json["facts"]["minutes_to_resolve"].is_number());
    assert!(json["review"].is_null());
}

#[actix_web::test]
async fn a_draft_then_a_submitted_review_writes_an_internal_journal_entry() {
    let t = team().await;
    let id = ticket(&t, "Checkout 502", TO_RESOLVED).await;
    link(&t, id, "website-502", "resolved", "").await;
    let reviewer = t.app.sign_in(&t.reviewer).await;
    let path = format!("/reviews/{id}");

    let res = post(
        &t.app,
        &reviewer,
        &path,
        &[
            ("what_happened", "Upstream pool exhausted".into()),
            ("action", "draft".into()),
        ],
    )
    .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let page = t.app.get_as(&reviewer, &path).await;
    assert!(page.body.contains("Upstream pool exhausted") && page.body.contains("Draft by"));
    let mut conn = t.app.conn().await;
    let entries_before: i64 = journal_entries::table
        .filter(journal_entries::ticket_id.eq(id))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();

    // Submitting with an answer missing shows the form again, keeps the
    // text, and changes nothing.
    let mut missing = complete("Upstream pool exhausted, model step 2 fixed it");
    missing.retain(|(k, _)| *k != "escalation");
    let res = post(&t.app, &reviewer, &path, &missing).await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("say whether the escalation was right"));
    assert!(
        res.body.contains("model step 2 fixed it"),
        "the text is kept"
    );
    let status: String = reviews::table
        .filter(reviews::ticket_id.eq(id))
        .select(reviews::status)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(status, "draft");

    let mut fields = complete("Upstream pool exhausted, model step 2 fixed it");
    fields.push(("recommendations", "Alert on pool saturation".into()));
    let res = post(&t.app, &reviewer, &path, &fields).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let (status, submitted_at): (String, Option<chrono::DateTime<chrono::Utc>>) = reviews::table
        .filter(reviews::ticket_id.eq(id))
        .select((reviews::status, reviews::submitted_at))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(status, "submitted");
    assert!(submitted_at.is_some());
    let (body, visibility): (String, String) = journal_entries::table
        .filter(journal_entries::ticket_id.eq(id))
        .order(journal_entries::id.desc())
        .select((journal_entries::body, journal_entries::visibility))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(visibility, "internal");
    assert!(body.contains("Review submitted") && body.contains("Alert on pool saturation"));
    let entries_after: i64 = journal_entries::table
        .filter(journal_entries::ticket_id.eq(id))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(entries_after, entries_before + 1);
    let audited: i64 = audit_log::table
        .filter(audit_log::action.eq("review.submitted"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(audited, 1);

    // The page now shows the submitted review, with no form.
    let page = t.app.get_as(&reviewer, &path).await;
    assert!(page.body.contains("Review submitted by"));
    assert!(!page.body.contains(r#"value="submit""#));
}

#[actix_web::test]
async fn a_routine_ticket_is_reviewed_in_one_action() {
    let t = team().await;
    let routine = ticket(&t, "Certificate expiring", TO_RESOLVED).await;
    link(&t, routine, "tls-certificate-expiry", "resolved", "").await;
    let unusual = ticket(&t, "Odd DNS trouble", TO_RESOLVED).await;
    link(&t, unusual, "dns-resolution-failure", "partial", "").await;
    let reviewer = t.app.sign_in(&t.reviewer).await;

    let page = t
        .app
        .get_as(&reviewer, &format!("/reviews/{routine}"))
        .await;
    assert!(page.body.contains("Model worked, nothing to add"));
    let res = t
        .app
        .post_as(&reviewer, &format!("/reviews/{routine}/routine"), &[])
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let mut conn = t.app.conn().await;
    let (worked, escalation): (Option<String>, Option<String>) = reviews::table
        .filter(reviews::ticket_id.eq(routine))
        .select((reviews::model_worked, reviews::escalation))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(worked.as_deref(), Some("worked"));
    assert_eq!(escalation.as_deref(), Some("none_needed"));

    // Not routine: refused with the reason, nothing written.
    let res = t
        .app
        .post_as(&reviewer, &format!("/reviews/{unusual}/routine"), &[])
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("no linked model resolved this ticket"));
    let count: i64 = reviews::table
        .filter(reviews::ticket_id.eq(unusual))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[actix_web::test]
async fn two_reviewers_submitting_at_once_one_wins_and_the_other_sees_it() {
    let t = team().await;
    let id = ticket(&t, "Queue backlog", TO_RESOLVED).await;
    let mut conn = t.app.conn().await;
    let second = fixtures::user()
        .role(Role::Reviewer)
        .create(&mut conn)
        .await;
    let input = |what: &str| ReviewInput {
        what_happened: what.to_owned(),
        model_linked: "yes".into(),
        model_worked: "worked".into(),
        step_detail: String::new(),
        escalation: "right".into(),
        recommendations: String::new(),
    };
    let (a, b) = (input("First reviewer view"), input("Second reviewer view"));
    let mut c1 = t.app.conn().await;
    let mut c2 = t.app.conn().await;
    let (v1, v2) = (t.reviewer.viewer(), second.viewer());
    let (r1, r2) = tokio::join!(
        review_db::submit(&mut c1, &v1, TicketId(id), &a, &[]),
        review_db::submit(&mut c2, &v2, TicketId(id), &b, &[]),
    );
    let (won, lost) = match (&r1, &r2) {
        (Ok(_), Err(e)) => ("First reviewer view", e),
        (Err(e), Ok(_)) => ("Second reviewer view", e),
        other => panic!("exactly one must win: {other:?}"),
    };
    assert!(
        matches!(lost, review_db::ReviewError::AlreadySubmitted { .. }),
        "{lost:?}"
    );
    let stored: String = reviews::table
        .filter(reviews::ticket_id.eq(id))
        .select(reviews::what_happened)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored, won);
    let notes: i64 = journal_entries::table
        .filter(journal_entries::ticket_id.eq(id))
        .filter(journal_entries::body.like("Review submitted%"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(notes, 1, "one journal entry, from the winner");

    // Through the page, the later one gets 409, the winner's review, and
    // their own text back.
    let browser = t.app.sign_in(&second).await;
    let res = post(
        &t.app,
        &browser,
        &format!("/reviews/{id}"),
        &complete("My late take on it"),
    )
    .await;
    assert_eq!(res.status, 409, "{}", res.body);
    assert!(res.body.contains("submitted the review of this ticket"));
    assert!(res.body.contains(won), "the winner's review is shown");
    assert!(
        res.body.contains("My late take on it"),
        "nothing typed is lost"
    );
    // And through the API, a problem with status 409.
    let token = fixtures::api_token(&mut conn, &second).await;
    let res = t
        .app
        .call(
            actix_web::test::TestRequest::post()
                .uri(&format!("/api/v1/reviews/{id}"))
                .insert_header(("Authorization", format!("Bearer {token}")))
                .set_json(serde_json::json!({ "action": "draft", "what_happened": "x" })),
        )
        .await;
    assert_eq!(res.status, 409, "{}", res.body);
    assert!(res.body.contains("\"field\":\"review\""));
}

/// title, kind, ticket, review, owner
type FiledItem = (String, String, Option<i64>, Option<i64>, Option<i64>);

#[actix_web::test]
async fn a_no_model_fits_link_proposes_a_new_model_item_that_submit_files() {
    let t = team().await;
    let id = ticket(&t, "Kafka consumer lag", TO_RESOLVED).await;
    link(&t, id, "", "no_fit", "Consumer lag on Kafka topics").await;
    let reviewer = t.app.sign_in(&t.reviewer).await;
    let page = t.app.get_as(&reviewer, &format!("/reviews/{id}")).await;
    assert!(page.body.contains(r#"<option value="new_model" selected>"#));
    let mut fields = complete("No model for Kafka lag");
    fields[1] = ("model_linked", "no_model".into());
    fields[2] = ("model_worked", "not_followed".into());
    fields.extend([
        ("p0_file", "on".into()),
        (
            "p0_title",
            "Write a model: Consumer lag on Kafka topics".into(),
        ),
        ("p0_kind", "new_model".into()),
        ("p0_priority", "2".into()),
        ("p0_owner", t.engineer.id.to_string()),
        ("p0_details", "Consumer lag on Kafka topics".into()),
        // A second row, ticked, against an existing model.
        ("p1_file", "on".into()),
        (
            "p1_title",
            "Say how to find the lagging consumer group".into(),
        ),
        ("p1_kind", "update_model".into()),
        ("p1_model", "message-queue-backlog".into()),
        ("p1_priority", "3".into()),
        // An unticked row is not filed.
        ("p2_title", "Not this one".into()),
        ("p2_kind", "process".into()),
    ]);
    let res = post(&t.app, &reviewer, &format!("/reviews/{id}"), &fields).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let mut conn = t.app.conn().await;
    let items: Vec<FiledItem> = improvements::table
        .select((
            improvements::title,
            improvements::kind,
            improvements::ticket_id,
            improvements::review_id,
            improvements::owner_id,
        ))
        .order(improvements::id.asc())
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[0].1, "new_model");
    assert_eq!(items[0].2, Some(id));
    assert!(items[0].3.is_some());
    assert_eq!(items[0].4, Some(t.engineer.id));
    assert_eq!(items[1].1, "update_model");
    let page = t.app.get_as(&reviewer, &format!("/reviews/{id}")).await;
    assert!(
        page.body
            .contains("Say how to find the lagging consumer group")
    );

    // A bad proposal refuses the whole submit: nothing is written.
    let other = ticket(&t, "Another", TO_RESOLVED).await;
    let mut bad = complete("x");
    bad.extend([
        ("p0_file", "on".into()),
        ("p0_title", "Fix the model".into()),
        ("p0_kind", "update_model".into()),
        ("p0_model", "no-such-model".into()),
        ("p0_priority", "2".into()),
    ]);
    let res = post(&t.app, &reviewer, &format!("/reviews/{other}"), &bad).await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("no incident model has the key"));
    let reviews_of_other: i64 = reviews::table
        .filter(reviews::ticket_id.eq(other))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(reviews_of_other, 0);
}

#[actix_web::test]
async fn tickets_that_are_not_resolved_are_not_reviewed() {
    let t = team().await;
    let id = ticket(&t, "Still open", &["triaged"]).await;
    let reviewer = t.app.sign_in(&t.reviewer).await;
    let res = post(&t.app, &reviewer, &format!("/reviews/{id}"), &complete("x")).await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("only resolved tickets"));
    let res = t.app.get_as(&reviewer, "/reviews/999999").await;
    assert_eq!(res.status, 404);
}

#[actix_web::test]
async fn customers_never_see_a_review() {
    let t = team().await;
    let id = ticket(&t, "Customer's ticket", TO_RESOLVED).await;
    let reviewer = t.app.sign_in(&t.reviewer).await;
    let res = post(
        &t.app,
        &reviewer,
        &format!("/reviews/{id}"),
        &complete("Secret internal finding zebra"),
    )
    .await;
    assert_eq!(res.status, 303);

    let customer = t.app.sign_in(&t.customer).await;
    for path in ["/reviews".to_owned(), format!("/reviews/{id}")] {
        let res = t.app.get_as(&customer, &path).await;
        assert_eq!(res.status, 403, "{path}");
    }
    let res = t
        .app
        .post_as(&customer, &format!("/reviews/{id}/routine"), &[])
        .await;
    assert_eq!(res.status, 403);
    let page = t.app.get_as(&customer, &format!("/tickets/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("zebra") && !page.body.contains("Review submitted"));
    assert!(
        !page.body.contains("href=\"/reviews\""),
        "no review link in a customer's navigation"
    );
    let mut conn = t.app.conn().await;
    let token = fixtures::api_token(&mut conn, &t.customer).await;
    for path in [
        "/api/v1/reviews".to_owned(),
        format!("/api/v1/reviews/{id}"),
    ] {
        let res = t.app.api_get(&token, &path).await;
        assert_eq!(res.status, 403, "{path}");
    }
    let res = t
        .app
        .api_get(&token, &format!("/api/v1/tickets/{id}"))
        .await;
    assert_eq!(res.status, 200);
    assert!(!res.body.contains("zebra"));
    // Search: the review's journal entry is indexed (staff find the ticket
    // by a word only the review has), and a customer's search does not.
    let mut writer = casebook::search::indexer::writer(&t.app.state.search).unwrap();
    casebook::search::indexer::catch_up(&t.app.state.search, &mut writer, &mut conn)
        .await
        .unwrap();
    let staff_token = fixtures::api_token(&mut conn, &t.reviewer).await;
    let res = t.app.api_get(&staff_token, "/api/v1/search?q=zebra").await;
    assert_eq!(res.status, 200);
    assert!(res.body.contains(&format!("\"id\":{id}")), "{}", res.body);
    let res = t.app.api_get(&token, "/api/v1/search?q=zebra").await;
    assert_eq!(res.status, 200);
    assert!(res.body.contains("\"total\":0"), "{}", res.body);
    // The services refuse a customer even if a route let one through.
    let err = review_db::queue(&mut conn, &t.customer.viewer(), 0, 10)
        .await
        .unwrap_err();
    assert!(matches!(err, review_db::ReviewError::Forbidden));
}
