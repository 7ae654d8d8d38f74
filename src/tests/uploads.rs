//! Files attached on the ticket page and through the API (issue 15): a
//! plain multipart form, internal by default for the team, public for
//! customers; a file on an internal entry is never listed or served to a
//! customer (page, download, API, mail, webhooks); over-limit uploads,
//! forged forms and other organizations' tickets are refused and write
//! nothing.

use std::sync::Arc;

use actix_web::test::TestRequest;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

use casebook::db::schema::{attachments, deliveries, journal_entries, tickets};
use casebook::db::users::User;
use casebook::db::webhooks::{self, NewSubscription};
use casebook::domain::account::Role;
use casebook::tickets::{self as service, OpenTicket};

use crate::support::fixtures;
use crate::support::{Browser, TestApp, TestResponse};

struct World {
    app: TestApp,
    engineer: User,
    /// Acme's customer, the requester of the ticket.
    ann: User,
    /// Globex's customer: Acme's ticket is not theirs.
    bob: User,
    ticket: i64,
    engineer_token: String,
    ann_token: String,
    bob_token: String,
}

/// The limits of mail, made small so tests send little.
const FILE_LIMIT: usize = 1024;
const BODY_LIMIT: usize = 2500;

async fn world() -> World {
    let mut app = TestApp::new().await;
    let mut config = (*app.state.config).clone();
    config.delivery.max_attachment_bytes = FILE_LIMIT;
    config.delivery.max_message_bytes = BODY_LIMIT;
    app.state.config = Arc::new(config);
    let mut conn = app.conn().await;
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let globex = fixtures::organization(&mut conn, "Globex").await;
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let ann = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .email("ann@acme.test")
        .create(&mut conn)
        .await;
    let bob = fixtures::user()
        .role(Role::Customer)
        .org(&globex)
        .create(&mut conn)
        .await;
    let ticket = service::open(
        &mut conn,
        &ann.viewer(),
        OpenTicket {
            title: "Exports fail",
            description: "The nightly export stopped.",
            priority: "3",
            category: "",
            organization: None,
        },
    )
    .await
    .unwrap()
    .id
    .0;
    // Webhooks for both entry events: one for the team, one marked
    // customer-visible only (nothing is sent: no worker runs here).
    for customer_visible_only in [false, true] {
        webhooks::create(
            &mut conn,
            NewSubscription {
                url: "http://127.0.0.1:9/hook",
                events: vec!["entry.public".to_owned(), "entry.internal".to_owned()],
                secret: "s3cret",
                customer_visible_only,
                format: "json",
                organization: None,
                created_by: engineer.id,
            },
        )
        .await
        .unwrap();
    }
    World {
        engineer_token: fixtures::api_token(&mut conn, &engineer).await,
        ann_token: fixtures::api_token(&mut conn, &ann).await,
        bob_token: fixtures::api_token(&mut conn, &bob).await,
        app,
        engineer,
        ann,
        bob,
        ticket,
    }
}

/// A part of a multipart body: a text field, or a file (name, declared
/// type, bytes).
enum Part<'a> {
    Text(&'a str, &'a str),
    File(&'a str, &'a str, &'a [u8]),
}

const BOUNDARY: &str = "----casebook-test-boundary-7MA4YWxkTrZu0gW";

fn multipart(parts: &[Part]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match part {
            Part::Text(name, value) => {
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}")
                        .as_bytes(),
                );
            }
            Part::File(filename, ctype, data) => {
                body.extend_from_slice(
                    format!(
                        "Content-Disposition: form-data; name=\"files\"; filename=\"{filename}\"\r\n\
                         Content-Type: {ctype}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                body.extend_from_slice(data);
            }
        }
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

fn content_type() -> String {
    format!("multipart/form-data; boundary={BOUNDARY}")
}

/// POSTs the page's upload form as a browser would: the CSRF token first.
async fn upload(w: &World, who: &Browser, parts: &[Part<'_>]) -> TestResponse {
    let mut all = vec![Part::Text("csrf_token", &who.csrf)];
    for part in parts {
        all.push(match part {
            Part::Text(n, v) => Part::Text(n, v),
            Part::File(f, c, d) => Part::File(f, c, d),
        });
    }
    upload_raw(w, who, multipart(&all)).await
}

async fn upload_raw(w: &World, who: &Browser, body: Vec<u8>) -> TestResponse {
    w.app
        .call(
            who.with_cookies(
                TestRequest::post()
                    .uri(&format!("/tickets/{}/attachments", w.ticket))
                    .insert_header(("Content-Type", content_type()))
                    .set_payload(body),
            ),
        )
        .await
}

async fn api_upload(w: &World, token: &str, ticket: i64, parts: &[Part<'_>]) -> TestResponse {
    w.app
        .call(
            TestRequest::post()
                .uri(&format!("/api/v1/tickets/{ticket}/attachments"))
                .insert_header(("Authorization", format!("Bearer {token}")))
                .insert_header(("Content-Type", content_type()))
                .set_payload(multipart(parts)),
        )
        .await
}

fn json(res: &TestResponse) -> Value {
    serde_json::from_str(&res.body).unwrap_or_else(|_| panic!("not JSON: {}", res.body))
}

/// (id, filename, content type, entry visibility) of the ticket's files.
async fn files(w: &World) -> Vec<(i64, String, String, String)> {
    let mut conn = w.app.conn().await;
    attachments::table
        .inner_join(journal_entries::table)
        .filter(attachments::ticket_id.eq(w.ticket))
        .select((
            attachments::id,
            attachments::filename,
            attachments::content_type,
            journal_entries::visibility,
        ))
        .order(attachments::id.asc())
        .load(&mut conn)
        .await
        .unwrap()
}

/// Rows of attachments and journal entries: a refusal changes neither.
async fn rows(w: &World) -> (i64, i64) {
    let mut conn = w.app.conn().await;
    (
        attachments::table
            .count()
            .get_result(&mut conn)
            .await
            .unwrap(),
        journal_entries::table
            .count()
            .get_result(&mut conn)
            .await
            .unwrap(),
    )
}

/// Deliveries queued to `recipient` (an address, or `webhook:<id>`) whose
/// payload mentions `text`.
async fn deliveries_mentioning(w: &World, recipient_like: &str, text: &str) -> usize {
    let mut conn = w.app.conn().await;
    let payloads: Vec<(String, Value)> = deliveries::table
        .filter(deliveries::recipient.like(recipient_like))
        .select((deliveries::recipient, deliveries::payload))
        .load(&mut conn)
        .await
        .unwrap();
    payloads
        .iter()
        .filter(|(_, p)| p.to_string().contains(text))
        .count()
}

/// Mail queued to `address` for entries of the ticket.
async fn mail_to(w: &World, address: &str) -> i64 {
    let mut conn = w.app.conn().await;
    deliveries::table
        .filter(deliveries::recipient.eq(address))
        .filter(deliveries::ticket_id.eq(w.ticket))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

/// The webhook subscription marked customer-visible only.
async fn customer_hook(w: &World) -> String {
    let mut conn = w.app.conn().await;
    let id: i64 = casebook::db::schema::webhook_subscriptions::table
        .filter(casebook::db::schema::webhook_subscriptions::customer_visible_only.eq(true))
        .select(casebook::db::schema::webhook_subscriptions::id)
        .first(&mut conn)
        .await
        .unwrap();
    format!("webhook:{id}")
}

#[actix_web::test]
async fn a_staff_upload_is_internal_by_default_and_never_reaches_the_customer() {
    let w = world().await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let ann = w.app.sign_in(&w.ann).await;
    let page = w
        .app
        .get_as(&engineer, &format!("/tickets/{}", w.ticket))
        .await;
    assert!(
        page.body.contains(r#"enctype="multipart/form-data""#)
            && page
                .body
                .contains(r#"value="internal" checked> Internal — team only"#),
        "the page offers the upload form, internal by default: {}",
        page.body
    );
    let mails_before = mail_to(&w, "ann@acme.test").await;

    let res = upload(
        &w,
        &engineer,
        &[Part::File(
            "heap-dump-notes.txt",
            "text/plain",
            b"GC pauses of 4 s on exporter-2",
        )],
    )
    .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.location(),
        Some(format!("/tickets/{}#journal", w.ticket).as_str())
    );
    let kept = files(&w).await;
    assert_eq!(kept.len(), 1);
    let (id, name, ctype, visibility) = &kept[0];
    assert_eq!(
        (name.as_str(), ctype.as_str(), visibility.as_str()),
        ("heap-dump-notes.txt", "text/plain", "internal")
    );
    let url = format!("/tickets/{}/attachments/{id}", w.ticket);

    // The team sees and downloads it.
    let page = w
        .app
        .get_as(&engineer, &format!("/tickets/{}", w.ticket))
        .await;
    assert!(
        page.body.contains(&format!(r#"href="{url}""#)),
        "{}",
        page.body
    );
    let got = w.app.get_as(&engineer, &url).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body, "GC pauses of 4 s on exporter-2");

    // The customer: not on the page, not downloadable, not in the API.
    let page = w.app.get_as(&ann, &format!("/tickets/{}", w.ticket)).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("heap-dump-notes"), "{}", page.body);
    assert!(!page.body.contains(&url));
    assert_eq!(w.app.get_as(&ann, &url).await.status, 404);
    let api = w
        .app
        .api_get(
            &w.ann_token,
            &format!("/api/v1/tickets/{}/attachments", w.ticket),
        )
        .await;
    assert_eq!(api.status, 200, "{}", api.body);
    assert_eq!(json(&api), serde_json::json!([]));
    let detail = w
        .app
        .api_get(&w.ann_token, &format!("/api/v1/tickets/{}", w.ticket))
        .await;
    assert_eq!(detail.status, 200);
    assert!(!detail.body.contains("heap-dump-notes"), "{}", detail.body);
    let download = w
        .app
        .api_get(
            &w.ann_token,
            &format!("/api/v1/tickets/{}/attachments/{id}", w.ticket),
        )
        .await;
    assert_eq!(download.status, 404);
    // The team's token reads it through the API.
    let download = w
        .app
        .api_get(
            &w.engineer_token,
            &format!("/api/v1/tickets/{}/attachments/{id}", w.ticket),
        )
        .await;
    assert_eq!(download.status, 200);
    assert_eq!(download.body, "GC pauses of 4 s on exporter-2");

    // No mail to the customer, and the customer-visible webhook gets
    // nothing; the team's webhook hears of the file.
    assert_eq!(mail_to(&w, "ann@acme.test").await, mails_before);
    assert_eq!(
        deliveries_mentioning(&w, &customer_hook(&w).await, "heap-dump-notes").await,
        0
    );
    assert_eq!(
        deliveries_mentioning(&w, "webhook:%", "heap-dump-notes").await,
        1
    );
}

#[actix_web::test]
async fn a_public_upload_reaches_the_customer_as_a_download() {
    let w = world().await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let ann = w.app.sign_in(&w.ann).await;
    let pdf = b"%PDF-1.7 export log";
    let mails_before = mail_to(&w, "ann@acme.test").await;
    let res = upload(
        &w,
        &engineer,
        &[
            Part::Text("visibility", "public"),
            Part::Text("body", "The export log, for your records."),
            // A lying type and a path for a name.
            Part::File("../../etc/export log.pdf", "text/html", pdf),
        ],
    )
    .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let kept = files(&w).await;
    let (id, name, ctype, visibility) = &kept[0];
    assert_eq!(
        (name.as_str(), ctype.as_str(), visibility.as_str()),
        ("export log.pdf", "application/pdf", "public")
    );
    let url = format!("/tickets/{}/attachments/{id}", w.ticket);

    let page = w.app.get_as(&ann, &format!("/tickets/{}", w.ticket)).await;
    assert!(
        page.body.contains(&format!(r#"href="{url}""#)),
        "{}",
        page.body
    );
    assert!(page.body.contains("The export log, for your records."));
    let got = w.app.get_as(&ann, &url).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.body.as_bytes(), pdf);
    assert_eq!(got.header("content-type"), Some("application/octet-stream"));
    assert_eq!(
        got.header("content-disposition"),
        Some("attachment; filename=\"export log.pdf\"; filename*=UTF-8''export%20log.pdf")
    );
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));

    let api = w
        .app
        .api_get(
            &w.ann_token,
            &format!("/api/v1/tickets/{}/attachments", w.ticket),
        )
        .await;
    let listed = json(&api);
    assert_eq!(listed[0]["filename"], "export log.pdf");
    assert_eq!(listed[0]["content_type"], "application/pdf");
    assert_eq!(listed[0]["size"], pdf.len());

    // The requester is mailed the reply; the customer-visible webhook
    // carries the file's name.
    assert_eq!(mail_to(&w, "ann@acme.test").await, mails_before + 1);
    assert_eq!(
        deliveries_mentioning(&w, &customer_hook(&w).await, "export log.pdf").await,
        1
    );

    // The customer answers with a file of their own: public, whatever the
    // form says, and named in the entry when no note is written.
    let res = upload(
        &w,
        &ann,
        &[
            Part::Text("visibility", "internal"),
            Part::File("screenshot.png", "image/png", b"\x89PNG\r\n\x1a\n...."),
        ],
    )
    .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let kept = files(&w).await;
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[1].1, "screenshot.png");
    assert_eq!(kept[1].3, "public");
    let page = w
        .app
        .get_as(&engineer, &format!("/tickets/{}", w.ticket))
        .await;
    assert!(
        page.body
            .contains("Attached <code>screenshot.png</code> (12 bytes)."),
        "{}",
        page.body
    );
}

#[actix_web::test]
async fn an_oversize_upload_is_refused_with_the_reason_and_writes_nothing() {
    let w = world().await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let before = rows(&w).await;
    let small = vec![b'a'; 100];
    let big = vec![b'b'; FILE_LIMIT + 1];

    // The second of two files is over the limit: neither is kept.
    let res = upload(
        &w,
        &engineer,
        &[
            Part::File("ok.txt", "text/plain", &small),
            Part::File("huge.log", "text/plain", &big),
        ],
    )
    .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.location(),
        Some(format!("/tickets/{}#refused", w.ticket).as_str())
    );
    let page = w.app.follow_flash(&engineer, &res).await.unwrap();
    assert!(
        page.body.contains(
            r#"<p class="field-error" id="files-error">huge.log is larger than 1.0 KiB, the most one file may have; nothing was attached</p>"#
        ),
        "{}",
        page.body
    );
    assert_eq!(rows(&w).await, before, "no partial rows");

    // Files each under the limit, together over the upload's.
    let three = vec![b'c'; 900];
    let res = upload(
        &w,
        &engineer,
        &[
            Part::File("a.log", "text/plain", &three),
            Part::File("b.log", "text/plain", &three),
            Part::File("c.log", "text/plain", &three),
        ],
    )
    .await;
    let page = w.app.follow_flash(&engineer, &res).await.unwrap();
    assert!(
        page.body.contains("the most one upload may carry"),
        "{}",
        page.body
    );
    assert_eq!(rows(&w).await, before);

    // The API says 413, as a problem document.
    let res = api_upload(
        &w,
        &w.engineer_token,
        w.ticket,
        &[Part::File("huge.log", "text/plain", &big)],
    )
    .await;
    assert_eq!(res.status, 413, "{}", res.body);
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    assert_eq!(json(&res)["field"], "files");
    assert_eq!(rows(&w).await, before);

    // No file chosen: the form's empty file part is not a file.
    let res = upload(
        &w,
        &engineer,
        &[Part::File("", "application/octet-stream", b"")],
    )
    .await;
    let page = w.app.follow_flash(&engineer, &res).await.unwrap();
    assert!(
        page.body.contains("choose a file to attach"),
        "{}",
        page.body
    );
    assert_eq!(rows(&w).await, before);
}

#[actix_web::test]
async fn a_customer_cannot_attach_to_another_organizations_ticket() {
    let w = world().await;
    let bob = w.app.sign_in(&w.bob).await;
    let before = rows(&w).await;
    let res = upload(&w, &bob, &[Part::File("x.txt", "text/plain", b"hello")]).await;
    assert_eq!(res.status, 404, "the same answer as for no such ticket");
    let res = api_upload(
        &w,
        &w.bob_token,
        w.ticket,
        &[Part::File("x.txt", "text/plain", b"hello")],
    )
    .await;
    assert_eq!(res.status, 404, "{}", res.body);
    // Nor can a customer make an internal one through the API.
    let res = api_upload(
        &w,
        &w.ann_token,
        w.ticket,
        &[
            Part::Text("visibility", "internal"),
            Part::File("x.txt", "text/plain", b"hello"),
        ],
    )
    .await;
    assert_eq!(res.status, 403, "{}", res.body);
    assert_eq!(rows(&w).await, before);
}

#[actix_web::test]
async fn an_upload_without_the_forms_csrf_token_is_refused() {
    let w = world().await;
    let engineer = w.app.sign_in(&w.engineer).await;
    let before = rows(&w).await;
    let file = Part::File("x.txt", "text/plain", b"hello");
    let refused = |res: &TestResponse| {
        res.status == 403
            && res
                .body
                .contains("the form has expired or came from another site")
    };

    // No token at all.
    let res = upload_raw(
        &w,
        &engineer,
        multipart(&[Part::File("x.txt", "text/plain", b"hello")]),
    )
    .await;
    assert!(refused(&res), "{} {}", res.status, res.body);
    // A wrong one.
    let res = upload_raw(
        &w,
        &engineer,
        multipart(&[
            Part::Text("csrf_token", "0000"),
            Part::File("x.txt", "text/plain", b"hello"),
        ]),
    )
    .await;
    assert!(refused(&res), "{} {}", res.status, res.body);
    // The right one, but only after the file.
    let res = upload_raw(
        &w,
        &engineer,
        multipart(&[
            Part::File("x.txt", "text/plain", b"hello"),
            Part::Text("csrf_token", &engineer.csrf),
        ]),
    )
    .await;
    assert!(refused(&res), "{} {}", res.status, res.body);
    // From another site.
    let res = w
        .app
        .call(
            engineer.with_cookies(
                TestRequest::post()
                    .uri(&format!("/tickets/{}/attachments", w.ticket))
                    .insert_header(("Content-Type", content_type()))
                    .insert_header(("Origin", "https://evil.example"))
                    .set_payload(multipart(&[Part::Text("csrf_token", &engineer.csrf), file])),
            ),
        )
        .await;
    assert!(refused(&res), "{} {}", res.status, res.body);
    // Without the cookie.
    let res = w
        .app
        .call(
            TestRequest::post()
                .uri(&format!("/tickets/{}/attachments", w.ticket))
                .cookie(actix_web::cookie::Cookie::new(
                    "casebook_session",
                    engineer.session.clone().unwrap(),
                ))
                .insert_header(("Content-Type", content_type()))
                .set_payload(multipart(&[
                    Part::Text("csrf_token", &engineer.csrf),
                    Part::File("x.txt", "text/plain", b"hello"),
                ])),
        )
        .await;
    assert!(refused(&res), "{} {}", res.status, res.body);
    assert_eq!(rows(&w).await, before);

    // Multipart to any other form is refused as before.
    let res = w
        .app
        .call(
            engineer.with_cookies(
                TestRequest::post()
                    .uri(&format!("/tickets/{}/entries", w.ticket))
                    .insert_header(("Content-Type", content_type()))
                    .set_payload(multipart(&[
                        Part::Text("csrf_token", &engineer.csrf),
                        Part::Text("body", "hi"),
                    ])),
            ),
        )
        .await;
    assert_eq!(res.status, 415, "{}", res.body);
}

#[actix_web::test]
async fn the_api_takes_files_and_answers_garbage_with_4xx() {
    let w = world().await;
    let res = api_upload(
        &w,
        &w.engineer_token,
        w.ticket,
        &[
            Part::Text("body", "Trace from exporter-2."),
            Part::File("trace.txt", "text/plain", b"at Exporter.run()"),
            Part::File("trace2.txt", "text/plain", b"at Exporter.flush()"),
        ],
    )
    .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let made = json(&res);
    assert_eq!(made["entry"]["visibility"], "internal");
    assert_eq!(made["entry"]["body"], "Trace from exporter-2.");
    assert_eq!(made["attachments"].as_array().unwrap().len(), 2);
    assert_eq!(made["attachments"][1]["filename"], "trace2.txt");
    assert_eq!(
        made["entry"]["data"]["attachments"][0]["id"],
        made["attachments"][0]["id"]
    );
    let before = rows(&w).await;

    let call = |ctype: &'static str, body: &'static [u8]| {
        w.app.call(
            TestRequest::post()
                .uri(&format!("/api/v1/tickets/{}/attachments", w.ticket))
                .insert_header(("Authorization", format!("Bearer {}", w.engineer_token)))
                .insert_header(("Content-Type", ctype))
                .set_payload(body),
        )
    };
    assert_eq!(call("application/json", b"{}").await.status, 415);
    let res = call("multipart/form-data", b"garbage").await;
    assert_eq!(res.status, 400, "no boundary: {}", res.body);
    let res = call(
        "multipart/form-data; boundary=xyz",
        b"garbage with no parts",
    )
    .await;
    assert!(
        matches!(res.status, 400 | 422),
        "{} {}",
        res.status,
        res.body
    );
    let res = call(
        "multipart/form-data; boundary=xyz",
        b"--xyz\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a\"\r\n\r\nunfinished",
    )
    .await;
    assert_eq!(res.status, 400, "{}", res.body);
    let res = api_upload(
        &w,
        &w.engineer_token,
        w.ticket,
        &[Part::Text("body", "no files")],
    )
    .await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert_eq!(json(&res)["field"], "files");
    let res = api_upload(
        &w,
        &w.engineer_token,
        w.ticket,
        &[
            Part::Text("visibility", "everyone"),
            Part::File("a.txt", "text/plain", b"a"),
        ],
    )
    .await;
    assert_eq!(res.status, 422, "{}", res.body);
    let res = api_upload(
        &w,
        &w.engineer_token,
        w.ticket,
        &[
            Part::Text("body", "nul \0 here"),
            Part::File("a.txt", "text/plain", b"a"),
        ],
    )
    .await;
    assert_eq!(res.status, 422, "{}", res.body);
    let res = api_upload(
        &w,
        &w.engineer_token,
        999_999,
        &[Part::File("a.txt", "text/plain", b"a")],
    )
    .await;
    assert_eq!(res.status, 404, "{}", res.body);
    assert_eq!(rows(&w).await, before);

    // A closed ticket takes no files.
    let mut conn = w.app.conn().await;
    diesel::update(tickets::table.find(w.ticket))
        .set(tickets::status.eq("closed"))
        .execute(&mut conn)
        .await
        .unwrap();
    let res = api_upload(
        &w,
        &w.engineer_token,
        w.ticket,
        &[Part::File("a.txt", "text/plain", b"a")],
    )
    .await;
    assert_eq!(res.status, 422, "{}", res.body);
    assert_eq!(rows(&w).await, before);
}
