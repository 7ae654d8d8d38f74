//! The ticket page at 3 a.m. (issue 16): corrections journaled before →
//! after (customers see only the public ones), the status rules teams
//! use, the managed category list, re-linking a model, the linked model's
//! checklist and the escalation pre-fill, and entries that are refused
//! without losing the typed text.

use actix_web::test::TestRequest;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use casebook::db::schema::{journal_entries, ticket_models, tickets};
use casebook::db::users::User;
use casebook::domain::account::Role;
use casebook::tickets::{self as service, OpenTicket};

use crate::support::fixtures;
use crate::support::{Browser, TestApp};

struct World {
    app: TestApp,
    engineer: User,
    customer: User,
    admin: User,
}

async fn world() -> World {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    let customer = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(&mut conn)
        .await;
    World {
        app,
        engineer,
        customer,
        admin,
    }
}

async fn open(w: &World, title: &str) -> i64 {
    let mut conn = w.app.conn().await;
    service::open(
        &mut conn,
        &w.customer.viewer(),
        OpenTicket {
            title,
            description: "Disk usage alert on db-3.",
            priority: "3",
            category: "database",
            organization: None,
        },
    )
    .await
    .unwrap()
    .id
    .0
}

async fn status_of(w: &World, id: i64) -> String {
    let mut conn = w.app.conn().await;
    tickets::table
        .find(id)
        .select(tickets::status)
        .first(&mut conn)
        .await
        .unwrap()
}

/// (kind, visibility, body, data) of the ticket's entries, oldest first.
async fn entries(w: &World, id: i64) -> Vec<(String, String, String, serde_json::Value)> {
    let mut conn = w.app.conn().await;
    journal_entries::table
        .filter(journal_entries::ticket_id.eq(id))
        .select((
            journal_entries::kind,
            journal_entries::visibility,
            journal_entries::body,
            journal_entries::data,
        ))
        .order(journal_entries::id.asc())
        .load(&mut conn)
        .await
        .unwrap()
}

/// POSTs a form; a refused ticket form (a redirect with a flash) is
/// followed to the ticket page, whose body is returned with the 303.
async fn post(w: &World, who: &Browser, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let res = w.app.post_as(who, path, form).await;
    match w.app.follow_flash(who, &res).await {
        Some(page) => {
            assert_eq!(page.status, 200, "{}", page.body);
            (res.status, page.body)
        }
        None => (res.status, res.body),
    }
}

#[actix_web::test]
async fn a_false_alarm_goes_from_new_to_resolved_with_its_reason_and_can_be_reopened() {
    let w = world().await;
    let id = open(&w, "CPU alert on web-1").await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let path = format!("/tickets/{id}/status");

    let (status, body) = post(&w, &engineer, &path, &[("status", "resolved")]).await;
    assert_eq!(
        status, 303,
        "refused: redirected to the ticket with a flash"
    );
    assert!(
        body.contains(r#"<p class="field-error" id="resolution-error">say why this was a false alarm before resolving it</p>"#),
        "the reason is asked for beside its field: {body}"
    );
    assert!(!body.contains("resolution:"), "no internal field names");
    assert_eq!(status_of(&w, id).await, "new", "nothing changed");

    let (status, body) = post(
        &w,
        &engineer,
        &path,
        &[
            ("status", "resolved"),
            ("resolution", "load test from staging"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    assert_eq!(status_of(&w, id).await, "resolved");
    let customer = w.app.sign_in(&w.customer).await;
    let page = w.app.get_as(&customer, &format!("/tickets/{id}")).await;
    assert!(
        page.body
            .contains("changed the status from New to Resolved")
    );
    assert!(page.body.contains("load test from staging"));

    // Resolved → reopened (back in progress), offered as "Reopen".
    let page = w.app.get_as(&engineer, &format!("/tickets/{id}")).await;
    assert!(
        page.body
            .contains(r#"<option value="in_progress">Reopen</option>"#)
    );
    let (status, _) = post(&w, &engineer, &path, &[("status", "in_progress")]).await;
    assert_eq!(status, 303);
    // Any open status → resolved, without a reason once triaged.
    let (status, _) = post(&w, &engineer, &path, &[("status", "resolved")]).await;
    assert_eq!(status, 303);
    assert_eq!(status_of(&w, id).await, "resolved");
}

#[actix_web::test]
async fn corrections_are_journaled_before_and_after_and_customers_see_only_public_ones() {
    let w = world().await;
    let mut conn = w.app.conn().await;
    let id = open(&w, "Disk full db-3").await;
    // Listed after the ticket was opened with its own spelling.
    casebook::db::categories::add(&mut conn, "Database")
        .await
        .unwrap();
    let engineer = w.app.sign_in(&w.engineer).await;
    let customer = w.app.sign_in(&w.customer).await;
    let path = format!("/tickets/{id}/edit");

    // Bad input: the reason beside the field, the typed values kept,
    // nothing changed.
    let (status, body) = post(
        &w,
        &engineer,
        &path,
        &[
            ("title", "   "),
            ("description", "typed description kept"),
            ("priority", "1"),
            ("category", "storage"),
        ],
    )
    .await;
    assert_eq!(
        status, 303,
        "refused: redirected to the ticket with a flash"
    );
    assert!(body.contains(r#"id="title-error""#), "{body}");
    assert!(body.contains("typed description kept"));
    assert!(body.contains(r#"<details class="panel edit" id="edit" open>"#));
    assert_eq!(entries(&w, id).await.len(), 0);

    let (status, body) = post(
        &w,
        &engineer,
        &path,
        &[
            ("title", "Disk full on db-3 (WAL)"),
            ("description", "Disk usage alert on db-3."),
            ("priority", "1"),
            // Typed in another case: stored as the list spells it.
            ("category", " DATABASE "),
        ],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let got: (String, i16, String) = tickets::table
        .find(id)
        .select((tickets::title, tickets::priority, tickets::category))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        got,
        (
            "Disk full on db-3 (WAL)".to_owned(),
            1,
            "Database".to_owned()
        )
    );
    let edits: Vec<_> = entries(&w, id)
        .await
        .into_iter()
        .filter(|e| e.0 == "edit")
        .collect();
    // The description did not change, so three entries, one per field.
    assert_eq!(edits.len(), 3, "{edits:?}");
    assert_eq!(edits[0].3["field"], "title");
    assert_eq!(edits[0].3["from"], "Disk full db-3");
    assert_eq!(edits[0].3["to"], "Disk full on db-3 (WAL)");
    assert_eq!(edits[1].3["from"], "P3");
    assert_eq!(edits[1].3["to"], "P1");
    assert_eq!(
        (edits[2].3["field"].as_str(), edits[2].1.as_str()),
        (Some("category"), "internal")
    );

    let staff_page = w.app.get_as(&engineer, &format!("/tickets/{id}")).await;
    assert!(
        staff_page
            .body
            .contains("changed the title from “Disk full db-3” to “Disk full on db-3 (WAL)”")
    );
    assert!(
        staff_page
            .body
            .contains("changed the category from “database” to “Database”")
    );
    let page = w.app.get_as(&customer, &format!("/tickets/{id}")).await;
    assert!(page.body.contains("changed the title from"));
    assert!(page.body.contains("changed the priority from “P3” to “P1”"));
    assert!(
        !page.body.contains("changed the category"),
        "category edits are the team's"
    );
    assert!(
        !page.body.contains("/edit"),
        "customers get no correction form"
    );

    // Customers cannot correct; sending the same values again writes nothing.
    let (status, _) = post(&w, &customer, &path, &[("title", "mine")]).await;
    assert_eq!(status, 403);
    let (status, _) = post(
        &w,
        &engineer,
        &path,
        &[
            ("title", "Disk full on db-3 (WAL)"),
            ("description", "Disk usage alert on db-3."),
            ("priority", "1"),
            ("category", "Database"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(entries(&w, id).await.len(), 3);
}

#[actix_web::test]
async fn the_api_corrects_fields_left_out_keep_their_value() {
    let w = world().await;
    let id = open(&w, "Disk full db-3").await;
    let mut conn = w.app.conn().await;
    let staff = fixtures::api_token(&mut conn, &w.engineer).await;
    let customer = fixtures::api_token(&mut conn, &w.customer).await;
    let send = |token: &str, body: serde_json::Value| {
        TestRequest::post()
            .uri(&format!("/api/v1/tickets/{id}/fields"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .set_json(body)
    };
    let res = w
        .app
        .call(send(&staff, serde_json::json!({ "priority": 1 })))
        .await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains(r#""changed":1"#), "{}", res.body);
    let got: (String, i16, String) = tickets::table
        .find(id)
        .select((tickets::title, tickets::priority, tickets::category))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(got, ("Disk full db-3".to_owned(), 1, "database".to_owned()));
    let bad = w
        .app
        .call(send(&staff, serde_json::json!({ "title": " " })))
        .await;
    assert_eq!(bad.status, 422);
    assert!(bad.body.contains(r#""field":"title""#), "{}", bad.body);
    let refused = w
        .app
        .call(send(&customer, serde_json::json!({ "title": "mine" })))
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(entries(&w, id).await.len(), 1);
}

#[actix_web::test]
async fn an_escalation_to_a_person_puts_the_ticket_on_their_list_with_a_marker() {
    let w = world().await;
    let id = open(&w, "Replication lag on db-2").await;
    let mut conn = w.app.conn().await;
    let dba = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let (status, body) = post(
        &w,
        &engineer,
        &format!("/tickets/{id}/escalate"),
        &[
            ("to_user", &dba.id.to_string()),
            ("followed_model", "no_model"),
        ],
    )
    .await;
    assert_eq!(status, 303, "{body}");
    let theirs = w
        .app
        .get_as(&w.app.sign_in(&dba).await, "/tickets?queue=mine")
        .await
        .body;
    assert!(theirs.contains("Replication lag on db-2"), "{theirs}");
    assert!(theirs.contains("escalated to you"));
    let mine = w.app.get_as(&engineer, "/tickets?queue=mine").await.body;
    assert!(
        !mine.contains("Replication lag on db-2"),
        "not assigned to the escalating engineer"
    );
}

#[actix_web::test]
async fn admins_manage_the_category_list_and_ticket_forms_offer_it() {
    let w = world().await;
    let admin = w.app.sign_in(&w.admin).await;
    let (status, _) = post(&w, &admin, "/admin/categories", &[("name", "Network")]).await;
    assert_eq!(status, 303);
    let (status, body) = post(&w, &admin, "/admin/categories", &[("name", "network ")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("the list already has this category"));
    let (status, body) = post(&w, &admin, "/admin/categories", &[("name", "")]).await;
    assert_eq!(status, 422, "{body}");
    let list = w.app.get_as(&admin, "/admin/categories").await;
    assert!(list.body.contains("<td>Network</td>"));

    let id = open(&w, "Packet loss").await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let page = w.app.get_as(&engineer, &format!("/tickets/{id}")).await;
    assert!(page.body.contains(r#"<option value="Network">"#));

    let mut conn = w.app.conn().await;
    let cat: i64 = casebook::db::schema::ticket_categories::table
        .select(casebook::db::schema::ticket_categories::id)
        .first(&mut conn)
        .await
        .unwrap();
    let (status, _) = post(&w, &admin, &format!("/admin/categories/{cat}/remove"), &[]).await;
    assert_eq!(status, 303);
    assert!(
        casebook::db::categories::names(&mut conn)
            .await
            .unwrap()
            .is_empty()
    );
}

#[actix_web::test]
async fn relinking_a_model_updates_its_outcome_and_a_suggestion_asks_for_one() {
    let w = world().await;
    let mut conn = w.app.conn().await;
    casebook::commands::demo(&mut conn).await.unwrap();
    let id = open(&w, "Disk almost full on a database host").await;
    let mut writer = casebook::search::indexer::writer(&w.app.state.search).unwrap();
    casebook::search::indexer::catch_up(&w.app.state.search, &mut writer, &mut conn)
        .await
        .unwrap();
    let engineer = w.app.sign_in(&w.engineer).await;
    let path = format!("/tickets/{id}/models");

    let (status, body) = post(&w, &engineer, &path, &[("model", "db-disk-full")]).await;
    assert_eq!(status, 303, "a link needs its outcome");
    assert!(body.contains(r#"id="outcome-error""#), "{body}");
    for outcome in ["partial", "resolved"] {
        let (status, body) = post(
            &w,
            &engineer,
            &path,
            &[("model", "db-disk-full"), ("outcome", outcome)],
        )
        .await;
        assert_eq!(status, 303, "{body}");
    }
    let rows: Vec<(Option<i32>, String)> = ticket_models::table
        .filter(ticket_models::ticket_id.eq(id))
        .select((ticket_models::revision, ticket_models::outcome))
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(rows, vec![(Some(1), "resolved".to_owned())]);
    // The link lends the ticket's words to the model ("seen as") once the
    // indexer has applied it: then the model ranks first for this very
    // ticket (before, `log-volume-full` could: its statement holds "full"
    // and "host", the linked model's only "host").
    casebook::search::indexer::catch_up(&w.app.state.search, &mut writer, &mut conn)
        .await
        .unwrap();
    w.app.state.search.reader.reload().unwrap();
    let page = w.app.get_as(&engineer, &format!("/tickets/{id}")).await;
    assert!(page.body.contains(
        "changed the outcome of model db-disk-full (revision 1) from “the model helped partly” to “resolved by the model”"
    ), "{}", page.body);
    // The model page counts one ticket, not two.
    let model = w.app.get_as(&engineer, "/models/db-disk-full").await;
    assert!(
        model
            .body
            .contains("resolved by the model 1 · helped partly 0")
    );
    // Suggestion links ask for the outcome: no hidden "partial" any more.
    assert!(!page.body.contains(r#"type="hidden" name="outcome""#));
    assert!(
        page.body
            .contains(r#"<select id="outcome-db-disk-full" name="outcome" required>"#)
    );
    // A compact ranked list: title, key, the statement in one line, the
    // matched words; the highlighted excerpt behind a <details>.
    let list = &page.body[page.body.find(r#"<ol class="suggestions">"#).unwrap()..];
    let list = &list[..list.find("</ol>").unwrap()];
    let first = &list[..list.find("</li>").unwrap()];
    assert!(
        first.contains(r#"<a href="/models/db-disk-full" class="s-title">"#),
        "the linked model is not first: {list}"
    );
    assert!(first.contains(r#"<p class="s-line">"#), "{first}");
    assert!(first.contains(r#"<p class="matched">matched: "#), "{first}");
    assert!(first.contains(r#"<details class="s-more"><summary>excerpt</summary>"#));
    // The linked model and its outcome are in the ticket's head line.
    assert!(page.body.contains(
        r#"<span class="linked-model">model <a href="/models/db-disk-full">db-disk-full</a>: resolved by the model</span>"#
    ));
}

#[actix_web::test]
async fn the_linked_models_steps_are_a_checklist_and_prefill_the_escalation() {
    let w = world().await;
    let mut conn = w.app.conn().await;
    casebook::commands::demo(&mut conn).await.unwrap();
    let id = open(&w, "Disk almost full").await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let steps = format!("/tickets/{id}/steps");

    // No link yet: nothing to tick.
    let (status, body) = post(
        &w,
        &engineer,
        &steps,
        &[("model", "db-disk-full"), ("step", "1"), ("done", "1")],
    )
    .await;
    assert_eq!(
        status, 303,
        "refused: redirected to the ticket with a flash"
    );
    assert!(body.contains("link the model to the ticket first"));

    post(
        &w,
        &engineer,
        &format!("/tickets/{id}/models"),
        &[("model", "db-disk-full"), ("outcome", "partial")],
    )
    .await;
    let page = w.app.get_as(&engineer, &format!("/tickets/{id}")).await;
    assert!(
        page.body
            .contains(r#"<div class="checklist" data-model="db-disk-full">"#)
    );
    assert!(
        page.body.contains(r#"value="" aria-label="step reached""#)
            || !page.body.contains(r#"aria-label="step reached" value="2""#)
    );

    for (step, done) in [("1", "1"), ("2", "1"), ("2", "1")] {
        let (status, body) = post(
            &w,
            &engineer,
            &steps,
            &[("model", "db-disk-full"), ("step", step), ("done", done)],
        )
        .await;
        assert_eq!(status, 303, "{body}");
    }
    let ticks: Vec<_> = entries(&w, id)
        .await
        .into_iter()
        .filter(|e| e.0 == "step")
        .collect();
    assert_eq!(ticks.len(), 2, "ticking a ticked step again writes nothing");
    assert_eq!(ticks[1].1, "internal");
    assert_eq!(
        (ticks[1].3["step"].as_i64(), ticks[1].3["revision"].as_i64()),
        (Some(2), Some(1))
    );

    let page = w.app.get_as(&engineer, &format!("/tickets/{id}")).await;
    assert!(page.body.contains("ticked step 2 of db-disk-full"));
    assert!(
        page.body.contains(r#"value="yes" checked> Yes, up to step <input id="step_reached" name="step_reached" size="3" inputmode="numeric" aria-label="step reached" value="2">"#),
        "the escalation form says followed up to step 2"
    );
    // Unticking step 2 brings the pre-fill back to step 1.
    post(
        &w,
        &engineer,
        &steps,
        &[("model", "db-disk-full"), ("step", "2"), ("done", "0")],
    )
    .await;
    let page = w.app.get_as(&engineer, &format!("/tickets/{id}")).await;
    assert!(
        page.body
            .contains(r#"aria-label="step reached" value="1">"#)
    );

    let (status, body) = post(
        &w,
        &engineer,
        &steps,
        &[("model", "db-disk-full"), ("step", "99"), ("done", "1")],
    )
    .await;
    assert_eq!(
        status, 303,
        "refused: redirected to the ticket with a flash"
    );
    assert!(body.contains("the model has no step 99"));
    // The customer sees none of it.
    let customer = w.app.sign_in(&w.customer).await;
    let page = w.app.get_as(&customer, &format!("/tickets/{id}")).await;
    assert!(!page.body.contains("checklist"));
    assert!(!page.body.contains("ticked step"));
    let (status, _) = post(
        &w,
        &customer,
        &steps,
        &[("model", "db-disk-full"), ("step", "1"), ("done", "1")],
    )
    .await;
    assert_eq!(status, 403);
}

#[actix_web::test]
async fn an_oversized_entry_is_refused_on_the_page_with_the_text_kept() {
    let w = world().await;
    let id = open(&w, "Huge log").await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let text = format!("LOGSTART {}", "x".repeat(service::MAX_BODY_BYTES + 10));
    let (status, body) = post(
        &w,
        &engineer,
        &format!("/tickets/{id}/entries"),
        &[("body", &text)],
    )
    .await;
    assert_eq!(
        status, 303,
        "refused: redirected to the ticket with a flash"
    );
    assert!(
        body.contains(&format!("{text}</textarea>")),
        "the typed text is kept"
    );
    assert!(
        body.contains(r#"<p class="field-error" id="body-error">must be at most 100000 bytes</p>"#)
    );
    assert!(
        body.contains(r#"<script src="/static/js/ticket.js" defer data-ticket-url="/tickets/"#)
    );
    assert!(entries(&w, id).await.is_empty());
    // Without JavaScript the limit is told beside the field before sending.
    assert!(body.contains(r#"<span class="hint" id="body-limit">(Markdown; up to 100000 bytes"#));
    // Over the 2 MiB a request may have, the body is not even read: the
    // refusal says so and how to get the text back.
    let huge = "y".repeat(casebook::web::csrf::MAX_FORM_BYTES + 1);
    let refused = w
        .app
        .post_as(
            &engineer,
            &format!("/tickets/{id}/entries"),
            &[("body", &huge)],
        )
        .await;
    assert_eq!(refused.status, 413);
    assert!(
        refused
            .body
            .contains("Go back: your browser still holds what you typed"),
        "{}",
        refused.body
    );
    assert!(entries(&w, id).await.is_empty());

    // The composer's script gets the refusal as JSON and keeps the text
    // itself; a good entry comes back rendered, to append at once.
    let json = |body: &str| {
        engineer.with_cookies(
            TestRequest::post()
                .uri(&format!("/tickets/{id}/entries"))
                .insert_header(("Accept", "application/json"))
                .set_form([("body", body), ("csrf_token", engineer.csrf.as_str())]),
        )
    };
    let refused = w.app.call(json(&text)).await;
    assert_eq!(refused.status, 422);
    let v: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(v["field"], "body");
    let sent = w.app.call(json("disk at 97%, rotating logs")).await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let v: serde_json::Value = serde_json::from_str(&sent.body).unwrap();
    assert!(
        v["html"]
            .as_str()
            .unwrap()
            .contains("disk at 97%, rotating logs")
    );
    assert!(
        v["html"]
            .as_str()
            .unwrap()
            .contains(&format!(r#"id="entry-{}""#, v["id"]))
    );
}

#[actix_web::test]
async fn a_customer_finds_their_resolved_tickets() {
    let w = world().await;
    let open_one = open(&w, "Still broken").await;
    let done = open(&w, "Fixed last week").await;
    let mut conn = w.app.conn().await;
    service::change_status(
        &mut conn,
        &w.engineer.viewer(),
        casebook::domain::ticket::TicketId(done),
        "resolved",
        "false alarm: maintenance window",
    )
    .await
    .unwrap();
    // Another organization's resolved ticket stays out of sight.
    let globex = fixtures::organization(&mut conn, "Globex").await;
    let rival = fixtures::user()
        .role(Role::Customer)
        .org(&globex)
        .create(&mut conn)
        .await;
    let theirs = service::open(
        &mut conn,
        &rival.viewer(),
        OpenTicket {
            title: "Globex secret outage",
            description: "",
            priority: "2",
            category: "",
            organization: None,
        },
    )
    .await
    .unwrap()
    .id;
    service::change_status(
        &mut conn,
        &w.engineer.viewer(),
        theirs,
        "resolved",
        "duplicate alert",
    )
    .await
    .unwrap();

    let customer = w.app.sign_in(&w.customer).await;
    let default = w.app.get_as(&customer, "/tickets").await.body;
    assert!(default.contains("Still broken") && !default.contains("Fixed last week"));
    assert!(default.contains(r#"<a href="/tickets?queue=resolved">Resolved</a>"#));
    let resolved = w
        .app
        .get_as(&customer, "/tickets?queue=resolved")
        .await
        .body;
    assert!(
        resolved.contains(&format!(r#"/tickets/{done}""#)),
        "{resolved}"
    );
    assert!(!resolved.contains(&format!(r#"/tickets/{open_one}""#)));
    assert!(!resolved.contains("Globex secret outage"));
    let all = w.app.get_as(&customer, "/tickets?queue=all").await.body;
    assert!(all.contains("Still broken") && all.contains("Fixed last week"));
    assert!(!all.contains("Globex secret outage"));
}

#[actix_web::test]
async fn a_refused_form_lands_on_the_ticket_address_and_its_flash_is_shown_once() {
    let w = world().await;
    let id = open(&w, "Flaky DNS").await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let res = w
        .app
        .post_as(
            &engineer,
            &format!("/tickets/{id}/edit"),
            &[
                ("title", ""),
                ("description", "the description I typed"),
                ("priority", "2"),
                ("category", "network"),
            ],
        )
        .await;
    // Redirect after POST: the address bar is the ticket's.
    assert_eq!(res.status, 303);
    assert_eq!(
        res.location(),
        Some(format!("/tickets/{id}#refused").as_str())
    );
    let cookie = res
        .headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("casebook_flash="))
        .unwrap()
        .to_owned();
    assert!(cookie.contains(&format!("Path=/tickets/{id}")), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let token = res.set_cookie("casebook_flash").unwrap();
    let view = |browser: &Browser| {
        browser
            .with_cookies(TestRequest::get().uri(&format!("/tickets/{id}")))
            .cookie(actix_web::cookie::Cookie::new(
                "casebook_flash",
                token.clone(),
            ))
    };
    // Another person holding the cookie gets nothing from it.
    let other = fixtures::user()
        .role(Role::Engineer)
        .create(&mut w.app.conn().await)
        .await;
    let other = w.app.sign_in(&other).await;
    let page = w.app.call(view(&other)).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("Not done") && !page.body.contains("the description I typed"));
    // The person who sent it: the reason beside the field, the text kept,
    // and the flash cookie cleared.
    let page = w.app.call(view(&engineer)).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains(r#"<p class="form-error" role="alert" id="refused">Not done:"#)
    );
    assert!(page.body.contains(r#"id="title-error""#), "{}", page.body);
    assert!(page.body.contains("the description I typed</textarea>"));
    assert!(
        page.body
            .contains(r#"<details class="panel edit" id="edit" open>"#)
    );
    assert!(
        page.headers
            .get_all("set-cookie")
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.starts_with("casebook_flash=;") || v.starts_with("casebook_flash=\"\";")),
        "the cookie is removed"
    );
    // Once: a reload shows the ticket as it is.
    let again = w.app.call(view(&engineer)).await;
    assert!(!again.body.contains("Not done"));
    assert!(!again.body.contains("the description I typed"));
    assert_eq!(entries(&w, id).await.len(), 0, "nothing changed");
}

#[actix_web::test]
async fn queues_show_age_assignee_and_the_triager() {
    let w = world().await;
    let id = open(&w, "Queue row").await;
    let mut conn = w.app.conn().await;
    service::assign(
        &mut conn,
        &w.engineer.viewer(),
        casebook::domain::ticket::TicketId(id),
        Some(w.engineer.id),
    )
    .await
    .unwrap();
    let engineer = w.app.sign_in(&w.engineer).await;
    let list = w.app.get_as(&engineer, "/tickets").await.body;
    assert!(list.contains("<th>Assignee</th>") && list.contains("<th>Age</th>"));
    assert!(
        list.contains(&format!(
            r#"<td class="assignee">{}</td>"#,
            w.engineer.display_name
        )),
        "{list}"
    );
    assert!(list.contains(">just now</time></td>"), "{list}");
    let triage = w.app.get_as(&engineer, "/tickets?queue=mine").await.body;
    assert!(triage.contains("Triaging this week: nobody on the rota"));
    assert!(triage.contains("Queue row"));
    // Customers see neither the team's columns nor the rota.
    let customer = w.app.sign_in(&w.customer).await;
    let theirs = w.app.get_as(&customer, "/tickets").await.body;
    assert!(theirs.contains("Queue row") && theirs.contains("<th>Age</th>"));
    assert!(!theirs.contains("<th>Assignee</th>") && !theirs.contains("Triaging this week"));
}

/// The ticket page in a real browser (kept apart: diesel's `execute`
/// would shadow the browser's).
mod in_browser {
    use std::time::Duration;

    use casebook::tickets as service;

    use crate::support::TestDb;
    use crate::support::browser::Driver;
    use crate::support::fixtures;
    use crate::support::process::{Serve, data_dir};

    /// In headless Chromium at 1280×900 against the real `casebook serve`: on
    /// a ticket with five suggestions and 50 entries the primary actions are
    /// in view without scrolling; Ctrl+Enter sends an entry, which appears
    /// without navigation while the composer stays in view; an entry over the
    /// limit is refused on the page with the text kept.
    #[tokio::test(flavor = "multi_thread")]
    async fn the_ticket_page_keeps_actions_and_composer_in_reach() {
        const WAIT: Duration = Duration::from_secs(10);
        let db = TestDb::new().await;
        let mut conn = db.conn().await;
        casebook::commands::demo(&mut conn).await.unwrap();
        let desk = fixtures::desk(&mut conn).await;
        let id = casebook::domain::ticket::TicketId(desk.ticket);
        for n in 1..=50 {
            service::write(
                &mut conn,
                &desk.engineer.viewer(),
                id,
                &format!("entry {n}: checked the load balancer and the upstream pool, nothing yet"),
                casebook::domain::policy::Visibility::Internal,
            )
            .await
            .unwrap();
        }
        let session = fixtures::session(&mut conn, &desk.engineer).await;

        let dir = data_dir();
        let mut serve = Serve::start_with(dir.path(), |c| {
            c.env("DATABASE_URL", &db.url);
        });
        serve.wait_ready();
        serve.wait_listening();
        let driver = Driver::start();
        let page = driver.session().await;
        page.resize(1280, 900).await;
        let ticket_page = serve.url(&format!("/tickets/{}", desk.ticket));
        page.goto(&serve.url("/")).await;
        page.set_cookie("casebook_session", &session).await;
        page.goto(&ticket_page).await;
        page.wait_until("document.body.dataset.live === 'open'", WAIT)
            .await;
        let suggestions = page.texts("#triage .suggestion").await.len();
        assert_eq!(
            suggestions, 5,
            "the test needs a ticket with five suggestions"
        );

        // Every primary action is inside the first screen.
        let out_of_view = page
            .execute(
                "const h = window.innerHeight; \
                 return ['#status-to', '#assignee', '#actions a[href=\"#composer\"]', \
                         '#actions a[href=\"#incident-model\"]', '#actions a[href=\"#escalate\"]', \
                         '#actions a[href=\"#duplicate\"]', '#actions a[href=\"#edit\"]', \
                         '#composer button[type=submit]'] \
                   .filter(css => { const r = document.querySelector(css).getBoundingClientRect(); \
                                    return !(r.top >= 0 && r.bottom <= h && r.height > 0); });",
                Vec::new(),
            )
            .await;
        assert_eq!(
            out_of_view,
            serde_json::json!([]),
            "not visible at 1280×900 without scrolling"
        );

        // Ctrl+Enter sends; the page stays and the composer stays in view.
        page.execute("window.__marker = 1;", Vec::new()).await;
        page.fill("#body", "sent with ctrl enter").await;
        page.press("#body", "\u{E009}\u{E007}\u{E000}").await;
        page.wait_for("#journal li.entry", "sent with ctrl enter", WAIT)
            .await;
        page.wait_until("document.getElementById('body').value === ''", WAIT)
            .await;
        assert_eq!(
            page.execute("return window.__marker;", Vec::new()).await,
            serde_json::json!(1),
            "the page was reloaded"
        );
        assert_eq!(page.current_url().await, ticket_page);
        let composer_in_view = page
            .execute(
                "const r = document.querySelector('#composer button[type=submit]').getBoundingClientRect(); \
                 return r.top >= 0 && r.bottom <= window.innerHeight;",
                Vec::new(),
            )
            .await;
        assert_eq!(composer_in_view, serde_json::json!(true));
        assert_eq!(
            page.texts("#journal li.entry")
                .await
                .iter()
                .filter(|t| t.contains("sent with ctrl enter"))
                .count(),
            1,
            "appended once (the live stream skips what is shown)"
        );

        // Over the limit: refused on the page, the text kept.
        page.execute(
            "document.getElementById('body').value = 'KEEP ' + 'x'.repeat(arguments[0]);",
            vec![serde_json::json!(service::MAX_BODY_BYTES)],
        )
        .await;
        page.click("#composer button[type=submit]").await;
        page.wait_until("!document.getElementById('composer-error').hidden", WAIT)
            .await;
        let kept = page
            .execute(
                "return document.getElementById('body').value.startsWith('KEEP ') && \
                        document.getElementById('composer-error').textContent;",
                Vec::new(),
            )
            .await;
        assert!(
            kept.as_str()
                .is_some_and(|m| m.contains("at most 100000 bytes")),
            "{kept:?}"
        );

        // Shortcuts: `?` shows the list, a letter goes to its action.
        page.execute("document.activeElement.blur();", Vec::new())
            .await;
        page.press("body", "?").await;
        page.wait_until("!document.getElementById('shortcuts').hidden", WAIT)
            .await;
        page.press("#shortcuts-close", "\u{E00C}").await;
        page.wait_until("document.getElementById('shortcuts').hidden", WAIT)
            .await;
        page.press("body", "s").await;
        page.wait_until("document.activeElement.id === 'status-to'", WAIT)
            .await;

        // Ten ticket pages one after another in the same tab: pages left
        // behind (back/forward cache) close their streams, so the tenth
        // still gets one (HTTP/1.1 allows six connections per host), and
        // going back opens the earlier page's stream again.
        let mut others = Vec::new();
        for n in 0..10 {
            let ticket = service::open(
                &mut conn,
                &desk.customer.viewer(),
                service::OpenTicket {
                    title: &format!("tab {n}"),
                    description: "",
                    priority: "3",
                    category: "",
                    organization: None,
                },
            )
            .await
            .unwrap()
            .id;
            others.push(ticket);
        }
        for ticket in &others {
            page.goto(&serve.url(&format!("/tickets/{ticket}"))).await;
            page.wait_until("document.body.dataset.live === 'open'", WAIT)
                .await;
        }
        page.execute("history.back();", Vec::new()).await;
        page.wait_until(
            &format!(
                "location.pathname === '/tickets/{}' && document.body.dataset.live === 'open'",
                others[8]
            ),
            WAIT,
        )
        .await;
        // The page that came back hears new entries again.
        service::write(
            &mut conn,
            &desk.engineer.viewer(),
            others[8],
            "after coming back",
            casebook::domain::policy::Visibility::Internal,
        )
        .await
        .unwrap();
        page.wait_for("#journal li.entry", "after coming back", WAIT)
            .await;
        // Headless Chromium under WebDriver may not keep pages in the
        // back/forward cache, so the events themselves are checked too: a
        // hidden page holds no stream, a shown one opens it and catches up.
        page.execute(
            "window.dispatchEvent(new PageTransitionEvent('pagehide', { persisted: true }));",
            Vec::new(),
        )
        .await;
        page.wait_until("document.body.dataset.live === 'closed'", WAIT)
            .await;
        service::write(
            &mut conn,
            &desk.engineer.viewer(),
            others[8],
            "written while hidden",
            casebook::domain::policy::Visibility::Internal,
        )
        .await
        .unwrap();
        page.execute(
            "window.dispatchEvent(new PageTransitionEvent('pageshow', { persisted: true }));",
            Vec::new(),
        )
        .await;
        page.wait_for("#journal li.entry", "written while hidden", WAIT)
            .await;

        page.close().await;
        serve.kill();
    }

    /// Ten ticket tabs in one browser: each loads (none waits for one of
    /// HTTP/1.1's six connections), each goes live and hears the entries of
    /// its own ticket, and yet another page still loads. Ten pages each
    /// holding its own stream would leave the seventh hanging; the pages
    /// share one stream held by the tab they elected.
    #[tokio::test(flavor = "multi_thread")]
    async fn ten_ticket_tabs_share_one_stream_and_none_hangs() {
        const WAIT: Duration = Duration::from_secs(10);
        const LOAD: Duration = Duration::from_secs(20);
        let db = TestDb::new().await;
        let mut conn = db.conn().await;
        let desk = fixtures::desk(&mut conn).await;
        let session = fixtures::session(&mut conn, &desk.engineer).await;
        let mut tickets = Vec::new();
        for n in 0..10 {
            let ticket = service::open(
                &mut conn,
                &desk.customer.viewer(),
                service::OpenTicket {
                    title: &format!("tab {n}"),
                    description: "",
                    priority: "3",
                    category: "",
                    organization: None,
                },
            )
            .await
            .unwrap()
            .id;
            tickets.push(ticket);
        }
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

        let mut tabs = Vec::new();
        for (n, ticket) in tickets.iter().enumerate() {
            let tab = if n == 0 {
                page.current_tab().await
            } else {
                page.new_tab().await
            };
            let url = serve.url(&format!("/tickets/{ticket}"));
            tokio::time::timeout(LOAD, page.goto(&url))
                .await
                .unwrap_or_else(|_| panic!("tab {n} hangs loading {url}"));
            page.wait_until("document.body.dataset.live === 'open'", WAIT)
                .await;
            tabs.push(tab);
        }
        for (n, ticket) in tickets.iter().enumerate() {
            service::write(
                &mut conn,
                &desk.engineer.viewer(),
                *ticket,
                &format!("live in tab {n}"),
                casebook::domain::policy::Visibility::Internal,
            )
            .await
            .unwrap();
        }
        for (n, tab) in tabs.iter().enumerate() {
            page.switch_to(tab).await;
            page.wait_for("#journal li.entry", &format!("live in tab {n}"), WAIT)
                .await;
            let others = page.texts("#journal li.entry").await;
            assert_eq!(
                others.len(),
                1,
                "tab {n} shows only its ticket's entry: {others:?}"
            );
        }
        // An eleventh page (the queue, with a stream of its own) loads too.
        page.new_tab().await;
        tokio::time::timeout(LOAD, page.goto(&serve.url("/tickets?queue=mine")))
            .await
            .unwrap_or_else(|_| panic!("the queue hangs with ten ticket tabs open"));
        page.wait_until("document.body.dataset.live === 'open'", WAIT)
            .await;
        // Closing the tab that holds the stream hands it to another.
        page.switch_to(&tabs[0]).await;
        page.close_tab().await;
        page.switch_to(&tabs[5]).await;
        service::write(
            &mut conn,
            &desk.engineer.viewer(),
            tickets[5],
            "after the first tab closed",
            casebook::domain::policy::Visibility::Internal,
        )
        .await
        .unwrap();
        page.wait_for("#journal li.entry", "after the first tab closed", WAIT)
            .await;

        page.close().await;
        serve.kill();
    }

    /// An open triage queue takes a P1 opened through the API without a
    /// reload.
    #[tokio::test(flavor = "multi_thread")]
    async fn an_open_triage_queue_takes_new_tickets_live() {
        use crate::support::process::api_post;

        const WAIT: Duration = Duration::from_secs(10);
        let db = TestDb::new().await;
        let mut conn = db.conn().await;
        let desk = fixtures::desk(&mut conn).await;
        let session = fixtures::session(&mut conn, &desk.engineer).await;
        let token = fixtures::api_token(&mut conn, &desk.engineer).await;
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
        let queue = serve.url("/tickets?queue=triage");
        page.goto(&queue).await;
        page.wait_until("document.body.dataset.live === 'open'", WAIT)
            .await;
        page.execute("window.__marker = 1;", Vec::new()).await;
        let (status, body) = api_post(
            serve.addr,
            &token,
            "/api/v1/tickets",
            &serde_json::json!({ "title": "PAGE: db-7 down", "priority": "1" }),
        );
        assert!((200..300).contains(&status), "{status} {body}");
        let took = page
            .wait_for("#ticket-list table.tickets", "PAGE: db-7 down", WAIT)
            .await;
        assert_eq!(
            page.execute("return window.__marker;", Vec::new()).await,
            serde_json::json!(1),
            "the page was reloaded"
        );
        eprintln!("P1 through the API → open triage queue: {took:?}");
        page.close().await;
        serve.kill();
    }
}
