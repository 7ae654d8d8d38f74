//! The home page per role (issue 16): the triager's queue and the rota, an
//! engineer's tickets and the escalations to them, the reviewers' queue
//! count, the managers' headline numbers, a customer's open tickets, and
//! an admin's next steps on a fresh installation.

use chrono::Utc;

use casebook::db::users::User;
use casebook::domain::account::Role;
use casebook::domain::ticket::TicketId;
use casebook::tickets::{self as service, Escalation, OpenTicket};

use crate::support::TestApp;
use crate::support::fixtures;

struct Team {
    app: TestApp,
    triager: User,
    engineer: User,
    reviewer: User,
    manager: User,
    admin: User,
    customer: User,
    rival: User,
}

async fn team() -> Team {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let globex = fixtures::organization(&mut conn, "Globex").await;
    let user = |role| fixtures::user().role(role);
    Team {
        triager: user(Role::Engineer).create(&mut conn).await,
        engineer: user(Role::Engineer).create(&mut conn).await,
        reviewer: user(Role::Reviewer).create(&mut conn).await,
        manager: user(Role::Manager).create(&mut conn).await,
        admin: user(Role::Admin).create(&mut conn).await,
        customer: user(Role::Customer).org(&acme).create(&mut conn).await,
        rival: user(Role::Customer).org(&globex).create(&mut conn).await,
        app,
    }
}

async fn open(t: &Team, who: &User, title: &str, priority: &str) -> TicketId {
    let mut conn = t.app.conn().await;
    service::open(
        &mut conn,
        &who.viewer(),
        OpenTicket {
            title,
            description: "",
            priority,
            category: "",
            organization: None,
        },
    )
    .await
    .unwrap()
    .id
}

async fn home(t: &Team, who: &User) -> String {
    let browser = t.app.sign_in(who).await;
    let res = t.app.get_as(&browser, "/").await;
    assert_eq!(res.status, 200, "{}", res.body);
    res.body
}

/// The text of the element with `id` up to its section's end (enough to
/// tell which list a ticket is in).
fn section<'a>(page: &'a str, id: &str) -> &'a str {
    let start = page
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no #{id} in {page}"));
    let rest = &page[start..];
    &rest[..rest.find("</section>").unwrap_or(rest.len())]
}

#[actix_web::test]
async fn each_role_finds_its_own_work_on_the_home_page() {
    let t = team().await;
    let mut conn = t.app.conn().await;
    let today = Utc::now().date_naive();
    casebook::db::rota::assign(
        &mut conn,
        &t.manager.viewer(),
        &today.to_string(),
        Some(t.triager.id),
        today,
    )
    .await
    .unwrap();
    let outage = open(&t, &t.customer, "Checkout down for everyone", "1").await;
    let slow = open(&t, &t.customer, "Reports slow since Monday", "3").await;
    let theirs = open(&t, &t.rival, "Globex private trouble", "2").await;
    service::escalate(
        &mut conn,
        &t.triager.viewer(),
        slow,
        Escalation {
            to_user: Some(t.engineer.id),
            to_team: "",
            followed: "no_model",
            step_reached: "",
            reason: "",
        },
    )
    .await
    .unwrap();
    service::change_status(
        &mut conn,
        &t.triager.viewer(),
        theirs,
        "resolved",
        "false alarm: a load test",
    )
    .await
    .unwrap();

    // The triager: the queue first, and the rota.
    let page = home(&t, &t.triager).await;
    let queue = section(&page, "triage-queue");
    assert!(queue.contains("You triage this week"), "{queue}");
    assert!(queue.contains("Checkout down for everyone") && queue.contains("Reports slow"));
    assert!(
        !queue.contains("Globex private trouble"),
        "resolved: not in the queue"
    );
    assert!(
        page.find(r#"id="triage-queue""#) < page.find(r#"id="my-tickets""#),
        "the triager's queue comes first"
    );
    assert!(page.contains(&format!(
        "Triaging this week: <strong>{}</strong>",
        t.triager.display_name
    )));

    // The engineer: the escalation to them, in their tickets with the marker.
    let page = home(&t, &t.engineer).await;
    let mine = section(&page, "my-tickets");
    assert!(
        mine.contains(&format!("#{slow} Reports slow since Monday")),
        "{mine}"
    );
    assert!(mine.contains("escalated to you"));
    assert!(!mine.contains("Checkout down"));
    let escalations = section(&page, "escalations");
    assert!(
        escalations.contains(&format!(
            "#{slow} Reports slow since Monday</a> — from {}",
            t.triager.display_name
        )),
        "{escalations}"
    );
    assert!(!page.contains("You triage this week"));
    assert!(page.find(r#"id="my-tickets""#) < page.find(r#"id="triage-queue""#));
    assert!(!page.contains(r#"id="headline""#) && !page.contains(r#"id="review-queue""#));
    // Nobody escalated anything to the triager.
    assert!(
        section(&home(&t, &t.triager).await, "escalations")
            .contains("Nobody escalated a ticket to you")
    );

    // The reviewer: the review queue count (the resolved Globex ticket).
    let page = home(&t, &t.reviewer).await;
    assert!(
        page.contains(r#"<strong>1</strong> resolved ticket waiting for review"#),
        "{page}"
    );
    assert!(!page.contains(r#"id="headline""#));

    // The manager: the headline numbers.
    let page = home(&t, &t.manager).await;
    let numbers = section(&page, "h-headline");
    for (id, n) in [
        ("h-open", 2),
        ("h-p1", 1),
        ("h-new", 2),
        ("h-unassigned", 2),
        ("h-resolved", 1),
    ] {
        assert!(
            numbers.contains(&format!(r#"<dd id="{id}">{n}</dd>"#)),
            "{id} = {n}: {numbers}"
        );
    }

    // The admin: the numbers too, and the step still missing (no models).
    let page = home(&t, &t.admin).await;
    assert!(page.contains(r#"<dd id="h-open">2</dd>"#));
    let steps = section(&page, "next-steps");
    assert!(
        steps.contains("6 so far") && !steps.contains("models so far"),
        "{steps}"
    );

    // The customer: their organization's open tickets and the button.
    let page = home(&t, &t.customer).await;
    let open_list = section(&page, "open-tickets");
    assert!(open_list.contains("Checkout down for everyone") && open_list.contains("Reports slow"));
    assert!(!page.contains("Globex private trouble"));
    assert!(page.contains(r#"<a class="button" href="/tickets/new" accesskey="n">New ticket</a>"#));
    for staff_only in [
        "triage-queue",
        "my-tickets",
        "escalations",
        "headline",
        "review-queue",
        "rota-weeks",
    ] {
        assert!(
            !page.contains(&format!(r#"id="{staff_only}""#)),
            "a customer sees no {staff_only}"
        );
    }
    let page = home(&t, &t.rival).await;
    assert!(section(&page, "open-tickets").contains("Your organization has no open tickets"));
    assert_eq!(outage.0 + 1, slow.0);
}

#[actix_web::test]
async fn an_admin_of_a_fresh_installation_is_shown_the_next_steps() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    let browser = app.sign_in(&admin).await;
    let page = app.get_as(&browser, "/").await.body;
    let steps = section(&page, "next-steps");
    assert!(
        steps.contains(r#"<a href="/admin/users">Add the people</a>"#),
        "{steps}"
    );
    assert!(steps.contains("casebook demo --data-dir"));
    assert!(steps.contains("/api/v1"));
    // The demo models are one step; people and a first ticket the others.
    casebook::commands::demo(&mut conn).await.unwrap();
    let page = app.get_as(&browser, "/").await.body;
    assert!(section(&page, "next-steps").contains("models so far"));
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let customer = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(&mut conn)
        .await;
    service::open(
        &mut conn,
        &customer.viewer(),
        OpenTicket {
            title: "First",
            description: "",
            priority: "3",
            category: "",
            organization: None,
        },
    )
    .await
    .unwrap();
    let page = app.get_as(&browser, "/").await.body;
    assert!(!page.contains(r#"id="next-steps""#), "set up: {page}");
    // Other roles never see them.
    let fresh = TestApp::new().await;
    let mut conn = fresh.conn().await;
    let manager = fixtures::user().role(Role::Manager).create(&mut conn).await;
    let browser = fresh.sign_in(&manager).await;
    assert!(
        !fresh
            .get_as(&browser, "/")
            .await
            .body
            .contains(r#"id="next-steps""#)
    );
    assert!(engineer.id > admin.id);
}
