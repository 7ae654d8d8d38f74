//! Mail both ways against a real SMTP server (mailin-embedded) and the real
//! app: a customer opens a ticket by mail, gets the public reply by mail,
//! answers by mail; internal notes never reach them; forged references,
//! bad messages and automatic mail write nothing; a relay outage delays
//! mail without losing it or changing its order.

use std::time::Duration;

use actix_web::test::TestRequest;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use casebook::db::schema::{attachments, deliveries, journal_entries, tickets};
use casebook::domain::account::Role;
use casebook::domain::policy::Visibility;
use casebook::domain::ticket::TicketId;

use crate::support::fixtures;
use crate::support::smtp::{
    SmtpServer, delivery_counts, mailgate_token, message, settings, start_delivering,
};
use crate::support::{TestApp, TestResponse};

const WAIT: Duration = Duration::from_secs(20);

async fn post_mail(app: &TestApp, token: &str, raw: Vec<u8>, action: &str) -> TestResponse {
    app.call(
        TestRequest::post()
            .uri(&format!("/api/v1/mail?action={action}"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Content-Type", "message/rfc822"))
            .set_payload(raw),
    )
    .await
}

fn json(res: &TestResponse) -> Value {
    serde_json::from_str(&res.body).unwrap_or_else(|_| panic!("not JSON: {}", res.body))
}

/// Rows in a table.
async fn count(conn: &mut diesel_async::AsyncPgConnection, table: &str) -> i64 {
    #[derive(diesel::QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
        .get_result::<N>(conn)
        .await
        .unwrap()
        .n
}

#[actix_web::test]
async fn a_customer_opens_by_mail_gets_the_reply_by_mail_and_answers_by_mail() {
    let relay = SmtpServer::start();
    let mut app = TestApp::new().await;
    let _delivering = start_delivering(&mut app, settings(Some(relay.addr)));
    let mut conn = app.conn().await;
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let ann = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .email("ann@acme.test")
        .create(&mut conn)
        .await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .email("eve@ops.test")
        .create(&mut conn)
        .await;
    let token = mailgate_token(&mut conn, &admin).await;

    // Opened by mail, with an attachment.
    let opening = "From: Ann <Ann@Acme.test>\r\nTo: support@casebook.test\r\n\
        Subject: Printer on fire\r\nMessage-ID: <first@acme.test>\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n\
        --b1\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
        Content-Transfer-Encoding: quoted-printable\r\n\r\nThe printer in caf=E9 is on fire.\r\n\
        --b1\r\nContent-Type: text/plain; name=\"log.txt\"\r\n\
        Content-Disposition: attachment; filename=\"log.txt\"\r\n\r\nsmoke detected\r\n--b1--\r\n";
    let res = post_mail(&app, &token, opening.as_bytes().to_vec(), "correspond").await;
    assert_eq!(res.status, 201, "{}", res.body);
    let ticket = json(&res)["ticket"].as_i64().unwrap();
    let (title, description, org): (String, String, Option<i64>) = tickets::table
        .find(ticket)
        .select((
            tickets::title,
            tickets::description,
            tickets::organization_id,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(title, "Printer on fire");
    assert_eq!(
        description, "The printer in café is on fire.",
        "charset decoded"
    );
    assert_eq!(org, Some(acme.id));
    // The same message again (an MTA retrying) writes nothing new.
    let again = post_mail(&app, &token, opening.as_bytes().to_vec(), "correspond").await;
    assert_eq!(json(&again)["outcome"], "duplicate");
    assert_eq!(count(&mut conn, "tickets").await, 1);

    // The attachment downloads for Ann, as an attachment.
    let (file_id,): (i64,) = attachments::table
        .select((attachments::id,))
        .first(&mut conn)
        .await
        .unwrap();
    let ann_browser = app.sign_in(&ann).await;
    let file = app
        .get_as(
            &ann_browser,
            &format!("/tickets/{ticket}/attachments/{file_id}"),
        )
        .await;
    assert_eq!(file.status, 200);
    assert!(
        file.header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(file.body.trim(), "smoke detected");
    let globex = fixtures::organization(&mut conn, "Globex").await;
    let gus = fixtures::user()
        .role(Role::Customer)
        .org(&globex)
        .create(&mut conn)
        .await;
    let gus_browser = app.sign_in(&gus).await;
    let refused = app
        .get_as(
            &gus_browser,
            &format!("/tickets/{ticket}/attachments/{file_id}"),
        )
        .await;
    assert_eq!(refused.status, 404, "another organization's file");

    // The engineer replies in public, then writes an internal note, then
    // replies again: Ann gets the two replies, in order, and never the note.
    let viewer = engineer.viewer();
    casebook::tickets::write(
        &mut conn,
        &viewer,
        TicketId(ticket),
        "Evacuate, we are on it.",
        Visibility::Public,
    )
    .await
    .unwrap();
    casebook::tickets::write(
        &mut conn,
        &viewer,
        TicketId(ticket),
        "INTERNAL: the vendor is useless",
        Visibility::Internal,
    )
    .await
    .unwrap();
    casebook::tickets::write(
        &mut conn,
        &viewer,
        TicketId(ticket),
        "The fire is out.",
        Visibility::Public,
    )
    .await
    .unwrap();
    let got = relay.wait_for(2, WAIT).await;
    let to_ann: Vec<_> = got
        .iter()
        .filter(|m| m.to.iter().any(|t| t == "ann@acme.test"))
        .collect();
    assert_eq!(to_ann.len(), 2, "{got:#?}");
    assert!(
        to_ann[0].body().contains("Evacuate, we are on it."),
        "{:?}",
        to_ann[0].body()
    );
    assert!(to_ann[1].body().contains("The fire is out."));
    for m in &got {
        assert!(
            !m.data.contains("vendor is useless"),
            "an internal note was mailed: {m:#?}"
        );
    }
    let first = to_ann[0];
    assert_eq!(
        first.header("Subject").unwrap(),
        format!("[Casebook #{ticket}] Printer on fire")
    );
    assert_eq!(
        first.header("In-Reply-To").unwrap(),
        format!("<ticket-{ticket}@casebook.test>")
    );
    assert!(first.header("X-Casebook-Loop").is_some());
    assert!(first.from.contains("desk@casebook.test"), "{}", first.from);
    let message_id = first.header("Message-ID").unwrap();
    assert!(
        message_id.starts_with(&format!("<ticket-{ticket}.entry-")),
        "{message_id}"
    );

    // Ann answers by mail (quoting, as mail clients do): the answer lands
    // on the ticket without the quote.
    let answer = message(
        "ann@acme.test",
        &format!("Re: [Casebook #{ticket}] Printer on fire"),
        &[
            ("In-Reply-To", &message_id),
            ("Message-ID", "<answer@acme.test>"),
        ],
        "Thanks, all good now.\n\nOn Sun, Casebook Desk wrote:\n> The fire is out.\n",
    );
    let res = post_mail(&app, &token, answer, "correspond").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(json(&res)["outcome"], "replied");
    assert_eq!(json(&res)["ticket"], ticket);
    let newest: (String, String, Option<i64>) = journal_entries::table
        .filter(journal_entries::ticket_id.eq(ticket))
        .filter(journal_entries::kind.eq("reply"))
        .order(journal_entries::id.desc())
        .select((
            journal_entries::body,
            journal_entries::visibility,
            journal_entries::author_id,
        ))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        newest,
        (
            "Thanks, all good now.".to_owned(),
            "public".to_owned(),
            Some(ann.id)
        )
    );

    // Staff add an internal note through the comment address; a customer
    // cannot.
    let note = message(
        "eve@ops.test",
        &format!("[Casebook #{ticket}] note"),
        &[],
        "Vendor ticket VX-1 opened.",
    );
    let res = post_mail(&app, &token, note, "comment").await;
    assert_eq!(json(&res)["outcome"], "commented", "{}", res.body);
    let visibility: String = journal_entries::table
        .filter(journal_entries::body.eq("Vendor ticket VX-1 opened."))
        .select(journal_entries::visibility)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(visibility, "internal");
    let sneaky = message(
        "ann@acme.test",
        &format!("[Casebook #{ticket}] note"),
        &[],
        "I want to write internal notes.",
    );
    let res = post_mail(&app, &token, sneaky, "comment").await;
    assert_eq!(res.status, 403, "{}", res.body);

    // A customer who opts out of replies gets no more.
    app.post_as(
        &ann_browser,
        "/account/notifications",
        &[("resolved", "on")],
    )
    .await;
    casebook::tickets::write(
        &mut conn,
        &viewer,
        TicketId(ticket),
        "One more thing.",
        Visibility::Public,
    )
    .await
    .unwrap();
    let to_ann: i64 = deliveries::table
        .filter(deliveries::recipient.eq("ann@acme.test"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(to_ann, 2, "opted out of public replies");
}

#[actix_web::test]
async fn a_forged_reference_to_another_organizations_ticket_is_refused() {
    let mut app = TestApp::new().await;
    let mut conn = app.conn().await;
    let _delivering = start_delivering(&mut app, settings(None));
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let globex = fixtures::organization(&mut conn, "Globex").await;
    let ann = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(&mut conn)
        .await;
    fixtures::user()
        .role(Role::Customer)
        .org(&globex)
        .email("mallory@globex.test")
        .create(&mut conn)
        .await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    let token = mailgate_token(&mut conn, &admin).await;
    let ticket = casebook::tickets::open(
        &mut conn,
        &ann.viewer(),
        casebook::tickets::OpenTicket {
            title: "Acme only",
            description: "secret plans",
            priority: "3",
            category: "",
            organization: None,
        },
    )
    .await
    .unwrap()
    .id
    .0;
    let entries_before = count(&mut conn, "journal_entries").await;
    for headers in [
        vec![("In-Reply-To", format!("<ticket-{ticket}@casebook.test>"))],
        vec![(
            "References",
            format!("<x@y> <ticket-{ticket}.entry-1.1@casebook.test>"),
        )],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let forged = message("mallory@globex.test", "Re: hello", &headers, "Let me in.");
        let res = post_mail(&app, &token, forged, "correspond").await;
        assert_eq!(res.status, 403, "{}", res.body);
        assert!(!res.body.contains("secret plans"));
    }
    let tagged = message(
        "mallory@globex.test",
        &format!("[Casebook #{ticket}] hello"),
        &[],
        "Let me in.",
    );
    assert_eq!(
        post_mail(&app, &token, tagged, "correspond").await.status,
        403
    );
    assert_eq!(count(&mut conn, "journal_entries").await, entries_before);
    assert_eq!(
        count(&mut conn, "tickets").await,
        1,
        "no ticket opened instead"
    );
}

#[actix_web::test]
async fn bad_and_automatic_mail_writes_nothing_and_says_why() {
    let mut app = TestApp::new().await;
    let mut conn = app.conn().await;
    let mut small = settings(None);
    small.max_message_bytes = 4_000;
    let _delivering = start_delivering(&mut app, small);
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
    let token = mailgate_token(&mut conn, &admin).await;

    let garbage = b"\x00\x01 this is not mail at all".to_vec();
    let res = post_mail(&app, &token, garbage, "correspond").await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("header block"), "{}", res.body);

    let huge = message("ann@acme.test", "Big", &[], &"x".repeat(10_000));
    let res = post_mail(&app, &token, huge, "correspond").await;
    assert_eq!(res.status, 413, "{}", res.body);
    assert!(res.body.contains("4000 bytes"), "{}", res.body);

    let mut broken = message("ann@acme.test", "Broken", &[], "");
    broken.extend_from_slice(b"caf\xe9 \xff\xfe not utf-8");
    let res = post_mail(&app, &token, broken, "correspond").await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("decoded"), "{}", res.body);

    let no_from = b"Subject: hi\r\n\r\nbody".to_vec();
    let res = post_mail(&app, &token, no_from, "correspond").await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("From"), "{}", res.body);

    let stranger = message("who@nowhere.test", "Hi", &[], "Let me in");
    let res = post_mail(&app, &token, stranger, "correspond").await;
    assert_eq!(res.status, 403, "{}", res.body);
    assert!(res.body.contains("no Casebook account"), "{}", res.body);

    for (name, value) in [
        ("Auto-Submitted", "auto-replied"),
        ("Precedence", "bulk"),
        ("X-Casebook-Loop", "casebook.test"),
        ("Message-ID", "<ticket-9.entry-9.9@casebook.test>"),
    ] {
        let auto = message(
            "ann@acme.test",
            "Out of office",
            &[(name, value)],
            "I am away.",
        );
        let res = post_mail(&app, &token, auto, "correspond").await;
        assert_eq!(res.status, 200, "{name}: {}", res.body);
        assert_eq!(json(&res)["outcome"], "dropped", "{name}: {}", res.body);
    }
    let bounce = message("MAILER-DAEMON@mx.acme.test", "Undelivered", &[], "failed");
    assert_eq!(
        json(&post_mail(&app, &token, bounce, "correspond").await)["outcome"],
        "dropped"
    );

    // A personal token, even an admin's, may not post mail; a mail gateway
    // token may do nothing else.
    let personal = fixtures::api_token(&mut conn, &engineer).await;
    let res = post_mail(
        &app,
        &personal,
        message("ann@acme.test", "Hi", &[], "x"),
        "correspond",
    )
    .await;
    assert_eq!(res.status, 403, "{}", res.body);
    let res = app.api_get(&token, "/api/v1/tickets").await;
    assert_eq!(res.status, 401, "{}", res.body);

    assert_eq!(count(&mut conn, "tickets").await, 0);
    assert_eq!(count(&mut conn, "journal_entries").await, 0);
    assert_eq!(count(&mut conn, "attachments").await, 0);
}

#[actix_web::test]
async fn a_sender_of_a_mapped_domain_gets_an_account_in_that_organization() {
    let mut app = TestApp::new().await;
    let mut conn = app.conn().await;
    let _delivering = start_delivering(&mut app, settings(None));
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    let token = mailgate_token(&mut conn, &admin).await;
    let browser = app.sign_in(&admin).await;
    let res = app
        .post_as(
            &browser,
            "/admin/mail/domains",
            &[
                ("domain", "Acme.test"),
                ("organization", &acme.id.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let res = post_mail(
        &app,
        &token,
        message("New Person <new@acme.test>", "Hello", &[], "First mail."),
        "correspond",
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let made = casebook::db::mail::user_by_email(&mut conn, "new@acme.test")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (made.role.as_str(), made.organization_id),
        ("customer", Some(acme.id))
    );
    assert_eq!(made.display_name, "New Person");
}

#[actix_web::test]
async fn a_relay_outage_delays_mail_and_delivers_it_later_in_order() {
    // The relay's port is known but nothing listens yet.
    let relay_addr = crate::support::process::free_port();
    let mut app = TestApp::new().await;
    let _delivering = start_delivering(&mut app, settings(Some(relay_addr)));
    let mut conn = app.conn().await;
    let desk = fixtures::desk(&mut conn).await;
    let viewer = desk.engineer.viewer();
    for n in 1..=4 {
        casebook::tickets::write(
            &mut conn,
            &viewer,
            TicketId(desk.ticket),
            &format!("Update number {n}."),
            Visibility::Public,
        )
        .await
        .unwrap();
    }
    // The head of the queue fails a few times; the others wait behind it.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let tries: i64 = deliveries::table
            .select(diesel::dsl::sum(deliveries::attempts))
            .first::<Option<i64>>(&mut conn)
            .await
            .unwrap()
            .unwrap_or(0);
        if tries >= 3 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed tries recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waiting: Vec<i32> = deliveries::table
        .order(deliveries::id.asc())
        .select(deliveries::attempts)
        .load(&mut conn)
        .await
        .unwrap();
    assert!(
        waiting[0] >= 3 && waiting[1..].iter().all(|a| *a == 0),
        "later mail waits its turn: {waiting:?}"
    );
    assert_eq!(
        delivery_counts(&mut conn).await,
        vec![("pending".to_owned(), 4)]
    );

    let relay = SmtpServer::start_on(relay_addr);
    let got = relay.wait_for(4, WAIT).await;
    let bodies: Vec<String> = got.iter().map(|m| m.body()).collect();
    for (i, body) in bodies.iter().enumerate() {
        assert!(
            body.contains(&format!("Update number {}.", i + 1)),
            "out of order: {bodies:#?}"
        );
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(relay.messages().len(), 4, "each message once");
    assert_eq!(
        delivery_counts(&mut conn).await,
        vec![("sent".to_owned(), 4)]
    );
}

#[actix_web::test]
async fn a_reply_by_mail_reopens_a_resolved_ticket_and_follows_up_a_closed_one() {
    let mut app = TestApp::new().await;
    let mut conn = app.conn().await;
    let _delivering = start_delivering(&mut app, settings(None));
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let ann = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .email("ann@acme.test")
        .create(&mut conn)
        .await;
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .email("eve@ops.test")
        .create(&mut conn)
        .await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    let token = mailgate_token(&mut conn, &admin).await;
    let ticket = casebook::tickets::open(
        &mut conn,
        &ann.viewer(),
        casebook::tickets::OpenTicket {
            title: "VPN down",
            description: "Nobody can connect.",
            priority: "3",
            category: "",
            organization: None,
        },
    )
    .await
    .unwrap()
    .id;
    let staff = engineer.viewer();
    for to in ["in_progress", "resolved"] {
        casebook::tickets::change_status(&mut conn, &staff, ticket, to, "")
            .await
            .unwrap();
    }

    // Resolved: the customer's reply lands on it and reopens it, as RT does.
    let reply = message(
        "ann@acme.test",
        &format!("Re: [Casebook #{ticket}] VPN down"),
        &[],
        "Still down for me.",
    );
    let res = post_mail(&app, &token, reply, "correspond").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(json(&res)["outcome"], "replied");
    assert_eq!(status_of(&mut conn, ticket.0).await, "in_progress");
    let moves: Vec<serde_json::Value> = journal_entries::table
        .filter(journal_entries::ticket_id.eq(ticket.0))
        .filter(journal_entries::kind.eq("status_change"))
        .select(journal_entries::data)
        .order(journal_entries::id.asc())
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        moves.last().unwrap(),
        &serde_json::json!({ "from": "resolved", "to": "in_progress" })
    );

    // Closed: the reply is kept as a new ticket that points back.
    for to in ["resolved", "closed"] {
        casebook::tickets::change_status(&mut conn, &staff, ticket, to, "")
            .await
            .unwrap();
    }
    let reply = message(
        "ann@acme.test",
        &format!("Re: [Casebook #{ticket}] VPN down"),
        &[],
        "It is down again.",
    );
    let res = post_mail(&app, &token, reply, "correspond").await;
    assert_eq!(res.status, 201, "{}", res.body);
    let answer = json(&res);
    assert_eq!(answer["outcome"], "opened");
    let new = answer["ticket"].as_i64().unwrap();
    assert_ne!(new, ticket.0);
    let (title, description): (String, String) = tickets::table
        .find(new)
        .select((tickets::title, tickets::description))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(title, "VPN down");
    assert_eq!(
        description,
        format!("It is down again.\n\n(A reply to #{ticket}, which is closed.)")
    );
    assert_eq!(
        status_of(&mut conn, ticket.0).await,
        "closed",
        "left closed"
    );

    // The team's mail to a closed ticket is refused, as on the page.
    let note = message(
        "eve@ops.test",
        &format!("[Casebook #{ticket}] VPN down"),
        &[],
        "Late note.",
    );
    let entries_before = count(&mut conn, "journal_entries").await;
    let res = post_mail(&app, &token, note, "correspond").await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert!(res.body.contains("the ticket is closed"), "{}", res.body);
    assert_eq!(count(&mut conn, "journal_entries").await, entries_before);
}

async fn status_of(conn: &mut diesel_async::AsyncPgConnection, id: i64) -> String {
    tickets::table
        .find(id)
        .select(tickets::status)
        .first(conn)
        .await
        .unwrap()
}
