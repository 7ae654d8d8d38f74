//! The improvement loop in a real browser (headless Chromium, see
//! `support::browser`) against the real `casebook serve`: a reviewer
//! reviews a resolved ticket and files two items, one against a model; an
//! engineer saves that model marking the item resolved; the backlog shows
//! it done and the debt number drops.

use std::time::Duration;

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use casebook::db::schema::improvements;
use casebook::domain::account::Role;
use casebook::domain::ticket::TicketId;
use casebook::tickets::{self as ticket_actions, OpenTicket};

use crate::support::TestDb;
use crate::support::browser::{Browser, Driver};
use crate::support::fixtures;
use crate::support::process::{Serve, data_dir};

const WAIT: Duration = Duration::from_secs(10);

async fn set(page: &Browser, css: &str, value: &str) {
    page.execute(
        "document.querySelector(arguments[0]).value = arguments[1];",
        vec![css.into(), value.into()],
    )
    .await;
}

async fn debt_number(page: &Browser) -> i64 {
    page.texts(".debt-number").await[0].trim().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_review_files_items_a_model_save_resolves_one_and_the_debt_drops() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    casebook::commands::demo(&mut conn).await.unwrap();
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let customer = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(&mut conn)
        .await;
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let reviewer = fixtures::user()
        .role(Role::Reviewer)
        .create(&mut conn)
        .await;
    let ticket = ticket_actions::open(
        &mut conn,
        &customer.viewer(),
        OpenTicket {
            title: "Database writes failing",
            description: "Disk full on db-3.",
            priority: "1",
            category: "database",
            organization: None,
        },
    )
    .await
    .unwrap()
    .id
    .0;
    for status in ["triaged", "in_progress"] {
        ticket_actions::change_status(&mut conn, &engineer.viewer(), TicketId(ticket), status, "")
            .await
            .unwrap();
    }
    ticket_actions::link_model(
        &mut conn,
        &engineer.viewer(),
        TicketId(ticket),
        "db-disk-full",
        "partial",
        "",
        None,
    )
    .await
    .unwrap();
    ticket_actions::change_status(
        &mut conn,
        &engineer.viewer(),
        TicketId(ticket),
        "resolved",
        "",
    )
    .await
    .unwrap();
    let reviewer_session = fixtures::session(&mut conn, &reviewer).await;
    let engineer_session = fixtures::session(&mut conn, &engineer).await;

    let dir = data_dir();
    let mut serve = Serve::start_with(dir.path(), |c| {
        c.env("DATABASE_URL", &db.url);
    });
    serve.wait_ready();
    serve.wait_listening();
    let driver = Driver::start();
    let (rp, ep) = tokio::join!(driver.session(), driver.session());
    for (page, session) in [(&rp, &reviewer_session), (&ep, &engineer_session)] {
        page.goto(&serve.url("/")).await;
        page.set_cookie("casebook_session", session).await;
    }

    // The reviewer finds the ticket in the queue and reviews it.
    rp.goto(&serve.url("/reviews")).await;
    rp.wait_for("nav", "Reviews", WAIT).await;
    rp.click(&format!("a[href='/reviews/{ticket}']")).await;
    rp.wait_for("h1", "Database writes failing", WAIT).await;
    rp.fill(
        "#what_happened",
        "WAL filled the disk; the model did not say how to find it.",
    )
    .await;
    for radio in [
        "model_linked][value=yes",
        "model_worked][value=step_wrong",
        "escalation][value=none_needed",
    ] {
        rp.click(&format!("input[name={radio}]")).await;
    }
    rp.fill("#step_detail", "Step 2 needs the WAL check").await;
    rp.click("input[name=p0_file]").await;
    rp.fill("#p0_title", "Add the WAL check to step 2").await;
    set(&rp, "#p0_kind", "update_model").await;
    rp.fill("#p0_model", "db-disk-full").await;
    set(&rp, "#p0_priority", "1").await;
    rp.click("input[name=p1_file]").await;
    rp.fill("#p1_title", "Alert at 80% disk, not 95%").await;
    set(&rp, "#p1_kind", "monitoring").await;
    set(&rp, "#p1_priority", "3").await;
    rp.click("button[value=submit]").await;
    rp.wait_for("p.notice", "The review is submitted", WAIT)
        .await;
    rp.wait_for("h2", "Review submitted by", WAIT).await;

    let mut conn = db.conn().await;
    let model_item: i64 = improvements::table
        .filter(improvements::title.eq("Add the WAL check to step 2"))
        .select(improvements::id)
        .first(&mut conn)
        .await
        .unwrap();
    let filed: i64 = improvements::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(filed, 2);

    rp.goto(&serve.url("/improvements")).await;
    let before = debt_number(&rp).await;
    assert_eq!(before, 8 + 2, "a P1 and a P3 item");

    // The engineer saves the model, marking the item resolved.
    ep.goto(&serve.url("/models/db-disk-full/edit")).await;
    Browser::execute(
        &ep,
        "const t = document.querySelector('#text'); t.value = t.value.replace('## Discussion\\n', '## Discussion\\nCheck pg_wal first.\\n');",
        Vec::new(),
    )
    .await;
    ep.fill("#summary", "Step 2: the WAL check").await;
    ep.click(&format!("input[name=resolves][value='{model_item}']"))
        .await;
    ep.click("button[value=save]").await;
    ep.wait_for("p.notice", "Saved as a new revision", WAIT)
        .await;

    // The backlog shows it done by the revision, and the debt dropped.
    rp.goto(&serve.url("/improvements?status=done")).await;
    rp.wait_for("table.improvements", "Add the WAL check to step 2", WAIT)
        .await;
    rp.wait_for("table.improvements", "(by a revision)", WAIT)
        .await;
    rp.goto(&serve.url("/improvements")).await;
    let after = debt_number(&rp).await;
    assert_eq!(after, before - 8);
    rp.goto(&serve.url(&format!("/improvements/{model_item}")))
        .await;
    rp.wait_for("p.meta", "resolved by revision 2", WAIT).await;

    rp.close().await;
    ep.close().await;
    serve.kill();
}
