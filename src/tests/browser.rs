//! The ticket page in a real browser (headless Chromium, see
//! `support::browser`) against the real `casebook serve`: an engineer and
//! the customer have the same ticket open; what is written through the
//! composer and through the API appears live on each page, and an internal
//! note never on the customer's.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::TestDb;
use crate::support::browser::{Browser, Driver};
use crate::support::fixtures;
use crate::support::process::{Serve, api_post, data_dir};

/// Long enough for a loaded 2-core machine; the two-process test in
/// `live.rs` holds the one-second promise.
const WAIT: Duration = Duration::from_secs(10);

/// Waits until the page's event stream is open: from then on it hears
/// every new entry.
async fn wait_live(page: &Browser) {
    page.wait_until("document.body.dataset.live === 'open'", WAIT)
        .await;
}

/// Submits the composer and waits until the entry is sent: the page stays
/// (the script posts it and empties the composer), its stream still open.
async fn submit(page: &Browser) {
    page.click("#composer button[type=submit]").await;
    page.wait_until(
        "document.getElementById('body').value === '' && !document.getElementById('composer').dataset.sending && document.body.dataset.live === 'open'",
        WAIT,
    )
    .await;
}

async fn public_warning_display(page: &Browser) -> String {
    let display = page
        .execute(
            "return getComputedStyle(document.querySelector('#composer .public-warning')).display;",
            Vec::new(),
        )
        .await;
    display.as_str().unwrap().to_owned()
}

/// How many journal entries on the page contain `text`.
async fn entries_with(page: &Browser, css: &str, text: &str) -> usize {
    page.texts(&format!("#journal {css}"))
        .await
        .iter()
        .filter(|t| t.contains(text))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn ticket_pages_show_each_person_their_entries_live() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let desk = fixtures::desk(&mut conn).await;
    let engineer_session = fixtures::session(&mut conn, &desk.engineer).await;
    let customer_session = fixtures::session(&mut conn, &desk.customer).await;
    let token = fixtures::api_token(&mut conn, &desk.engineer).await;

    let dir = data_dir();
    let mut serve = Serve::start_with(dir.path(), |c| {
        c.env("DATABASE_URL", &db.url);
    });
    serve.wait_ready();
    serve.wait_listening();

    let driver = Driver::start();
    let (engineer, customer) = tokio::join!(driver.session(), driver.session());
    let ticket_page = serve.url(&format!("/tickets/{}", desk.ticket));
    for (page, session) in [
        (&engineer, &engineer_session),
        (&customer, &customer_session),
    ] {
        page.goto(&serve.url("/")).await;
        page.set_cookie("casebook_session", session).await;
        page.goto(&ticket_page).await;
        assert_eq!(page.current_url().await, ticket_page, "not signed in");
        wait_live(page).await;
    }
    // Gone if either page is ever reloaded (the composer posts without
    // leaving the page).
    customer.execute("window.__marker = 1;", Vec::new()).await;
    engineer.execute("window.__marker = 1;", Vec::new()).await;

    // The engineer writes an internal note (the default) in the composer.
    let composer_note = "INTERNAL: disk full on db-3, customer not told yet";
    engineer.fill("#body", composer_note).await;
    submit(&engineer).await;
    assert_eq!(entries_with(&engineer, ".internal", composer_note).await, 1);

    // Choosing a public reply changes how the composer looks.
    assert_eq!(public_warning_display(&engineer).await, "none");
    engineer
        .click("#composer input[name=visibility][value=public]")
        .await;
    let display = public_warning_display(&engineer).await;
    assert_ne!(display, "none", "no warning for a public reply");

    // ... and the customer sees the reply without reloading.
    let composer_reply = "We found the cause and are fixing it.";
    engineer.fill("#body", composer_reply).await;
    let clicked = Instant::now();
    let (_, composer_latency) = tokio::join!(submit(&engineer), async {
        customer
            .wait_for("#journal li.entry.public", composer_reply, WAIT)
            .await;
        clicked.elapsed()
    });
    assert_eq!(entries_with(&engineer, ".public", composer_reply).await, 1);

    // Through the API: an internal note, then a public reply. Both pages
    // stay as they are and take the entries live.
    engineer.execute("window.__marker = 1;", Vec::new()).await;
    let entries = format!("/api/v1/tickets/{}/entries", desk.ticket);
    let api_note = "INTERNAL: failing over to db-4 now";
    let sent = Instant::now();
    let (status, body) = api_post(
        serve.addr,
        &token,
        &entries,
        &json!({ "body": api_note, "visibility": "internal" }),
    );
    assert_eq!(status, 201, "{body}");
    engineer
        .wait_for("#journal li.entry.internal", api_note, WAIT)
        .await;
    let note_latency = sent.elapsed();

    let api_reply = "Checkout works again; we keep watching it.";
    let sent = Instant::now();
    let (status, body) = api_post(
        serve.addr,
        &token,
        &entries,
        &json!({ "body": api_reply, "visibility": "public" }),
    );
    assert_eq!(status, 201, "{body}");
    let (customer_latency, engineer_latency) = tokio::join!(
        async {
            customer
                .wait_for("#journal li.entry.public", api_reply, WAIT)
                .await;
            sent.elapsed()
        },
        async {
            engineer
                .wait_for("#journal li.entry.public", api_reply, WAIT)
                .await;
            sent.elapsed()
        },
    );

    // Each entry once on the engineer's page, the internal ones marked so.
    for (css, text) in [
        (".internal", composer_note),
        (".public", composer_reply),
        (".internal", api_note),
        (".public", api_reply),
    ] {
        assert_eq!(entries_with(&engineer, css, text).await, 1, "{text}");
    }
    // The customer's page: the public replies once each, and no trace of
    // the internal notes. Entries arrive in commit order, so a note that
    // leaked would be there before the reply written after it.
    for text in [composer_reply, api_reply] {
        assert_eq!(entries_with(&customer, ".public", text).await, 1, "{text}");
    }
    assert_eq!(entries_with(&customer, ".internal", "").await, 0);
    let source = customer.source().await;
    for text in [composer_note, api_note, "INTERNAL"] {
        assert!(!source.contains(text), "the customer's page shows {text:?}");
    }
    for page in [&customer, &engineer] {
        // The engineer's page is `…#journal`, where the composer leads.
        let url = page.current_url().await;
        assert_eq!(url.split('#').next(), Some(ticket_page.as_str()));
        assert_eq!(
            page.execute("return window.__marker;", Vec::new()).await,
            Value::from(1),
            "the page was reloaded"
        );
    }
    eprintln!(
        "live latency: composer public reply (click → customer page) {composer_latency:?}; \
         API internal note (POST → engineer page) {note_latency:?}; API public reply \
         (POST → customer page) {customer_latency:?}, (POST → engineer page) {engineer_latency:?}"
    );

    engineer.close().await;
    customer.close().await;
    serve.kill();
}

/// The upload form needs no script: Chromium sends the multipart form as
/// it is, the page comes back with the file in the journal, and the link
/// downloads the same bytes.
#[tokio::test(flavor = "multi_thread")]
async fn a_file_attached_with_the_page_form_is_in_the_journal_and_downloads() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let desk = fixtures::desk(&mut conn).await;
    let engineer_session = fixtures::session(&mut conn, &desk.engineer).await;

    let dir = data_dir();
    let mut serve = Serve::start_with(dir.path(), |c| {
        c.env("DATABASE_URL", &db.url);
    });
    serve.wait_ready();
    serve.wait_listening();

    let files = tempfile::tempdir().unwrap();
    let path = files.path().join("exporter-trace.txt");
    std::fs::write(&path, "at Exporter.flush(Exporter.java:42)\n").unwrap();

    let driver = Driver::start();
    let page = driver.session().await;
    let ticket_page = serve.url(&format!("/tickets/{}", desk.ticket));
    page.goto(&serve.url("/")).await;
    page.set_cookie("casebook_session", &engineer_session).await;
    page.goto(&ticket_page).await;
    assert_eq!(page.current_url().await, ticket_page, "not signed in");

    page.press("#files", path.to_str().unwrap()).await;
    page.click("#upload input[name=visibility][value=public]")
        .await;
    page.fill("#upload-note", "The trace from exporter-2.")
        .await;
    page.click("#upload button[type=submit]").await;
    page.wait_for("#journal li.entry.public", "exporter-trace.txt", WAIT)
        .await;
    assert_eq!(
        page.current_url().await,
        format!("{ticket_page}#journal"),
        "back on the ticket after the upload"
    );
    let downloaded = page
        .execute(
            "return fetch(document.querySelector('#journal .entry-files a').href).then(r => r.text());",
            Vec::new(),
        )
        .await;
    assert_eq!(downloaded, json!("at Exporter.flush(Exporter.java:42)\n"));
    page.close().await;
}
