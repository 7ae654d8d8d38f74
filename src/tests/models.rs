//! Incident models through the real app: pages, revisions, conflicts,
//! links, visibility, the JSON API, import/export and the demo set.

use actix_web::test::TestRequest;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use casebook::commands::models::{DEMO_MODELS, Source, import_sources};
use casebook::db::schema::{incident_models, model_revisions, search_outbox};
use casebook::domain::account::Role;
use casebook::domain::model as text;

use crate::support::fixtures;
use crate::support::{Browser, TestApp};

const DISK: &str = "# Disk full on a database host
key: db-disk-full
category: database
tags: disk, postgres
status: published

## Statement
Free space on a database host's data volume is below 5%.

## Steps
1. Confirm with `df -h /var/lib/postgresql`.
2. Escalate to the DBA on call if free space is below 1%.

## Discussion
Why WAL grows.
";

async fn staff(app: &TestApp) -> Browser {
    let mut conn = app.conn().await;
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    app.sign_in(&engineer).await
}

async fn revisions(app: &TestApp, key: &str) -> Vec<(i32, String)> {
    let mut conn = app.conn().await;
    model_revisions::table
        .inner_join(incident_models::table)
        .filter(incident_models::key.eq(key))
        .select((model_revisions::number, model_revisions::body))
        .order(model_revisions::number.asc())
        .load(&mut conn)
        .await
        .unwrap()
}

async fn create(app: &TestApp, browser: &Browser, body: &str) -> crate::support::TestResponse {
    app.post_as(
        browser,
        "/models",
        &[("text", body), ("summary", "first"), ("action", "save")],
    )
    .await
}

#[actix_web::test]
async fn a_model_is_created_from_text_and_reads_statement_first() {
    let app = TestApp::new().await;
    let browser = staff(&app).await;
    let res = create(&app, &browser, DISK).await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(
        res.location(),
        Some("/models/db-disk-full?notice=model-saved")
    );
    assert_eq!(
        revisions(&app, "db-disk-full").await,
        vec![(1, DISK.to_owned())]
    );

    let page = app.get_as(&browser, "/models/db-disk-full").await;
    assert_eq!(page.status, 200);
    let statement = page.body.find("Free space on a database host").unwrap();
    let steps = page.body.find("<ol class=\"steps\">").unwrap();
    let discussion = page.body.find("Why WAL grows").unwrap();
    assert!(
        statement < steps && steps < discussion,
        "statement, then steps, then discussion"
    );
    assert!(page.body.contains("<code>df -h /var/lib/postgresql</code>"));
    assert!(page.body.contains("Revision 1"));
    assert!(page.body.contains("never verified"));
    let list = app.get_as(&browser, "/models").await;
    assert!(list.body.contains("Disk full on a database host"));
    let mut conn = app.conn().await;
    let outbox: i64 = search_outbox::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        outbox, 1,
        "the save did not announce itself to the search index"
    );
}

#[actix_web::test]
async fn a_parse_error_names_the_line_and_saves_nothing() {
    let app = TestApp::new().await;
    let browser = staff(&app).await;
    let broken = DISK.replace("## Steps", "## Stepz");
    let res = create(&app, &browser, &broken).await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("line 10: expected"), "{}", res.body);
    assert!(
        res.body.contains("## Stepz"),
        "the editor's text was not kept"
    );
    assert!(revisions(&app, "db-disk-full").await.is_empty());
}

#[actix_web::test]
async fn preview_renders_without_saving() {
    let app = TestApp::new().await;
    let browser = staff(&app).await;
    let res = app
        .post_as(
            &browser,
            "/models",
            &[("text", DISK), ("action", "preview")],
        )
        .await;
    assert_eq!(res.status, 200);
    assert!(res.body.contains("Preview — not saved yet"));
    assert!(res.body.contains("<code>df -h /var/lib/postgresql</code>"));
    assert!(revisions(&app, "db-disk-full").await.is_empty());
}

#[actix_web::test]
async fn links_must_resolve_and_backlinks_are_listed() {
    let app = TestApp::new().await;
    let browser = staff(&app).await;
    let linking = DISK.replace(
        "Why WAL grows.",
        "Why WAL grows; see [[wal-archiving-stuck]].",
    );
    let res = create(&app, &browser, &linking).await;
    assert_eq!(res.status, 422);
    assert!(
        res.body
            .contains("links to [[wal-archiving-stuck]], which does not exist"),
        "{}",
        res.body
    );
    assert!(
        revisions(&app, "db-disk-full").await.is_empty(),
        "a failed link check left a model"
    );

    let wal = DISK
        .replace("key: db-disk-full", "key: wal-archiving-stuck")
        .replace("# Disk full on a database host", "# WAL archiving stuck");
    assert_eq!(create(&app, &browser, &wal).await.status, 303);
    assert_eq!(create(&app, &browser, &linking).await.status, 303);
    let target = app.get_as(&browser, "/models/wal-archiving-stuck").await;
    assert!(
        target
            .body
            .contains(r#"<a href="/models/db-disk-full">Disk full on a database host</a>"#),
        "{}",
        target.body
    );
    let source = app.get_as(&browser, "/models/db-disk-full").await;
    assert!(
        source
            .body
            .contains(r#"href="/models/wal-archiving-stuck""#)
    );
}

#[actix_web::test]
async fn edits_add_revisions_and_history_diffs_any_two() {
    let app = TestApp::new().await;
    let browser = staff(&app).await;
    create(&app, &browser, DISK).await;
    let second = DISK.replace("below 1%", "below 2%");
    let res = app
        .post_as(
            &browser,
            "/models/db-disk-full",
            &[
                ("text", &second),
                ("base_revision", "1"),
                ("summary", "earlier escalation"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let third = second.replace("category: database", "category: storage");
    app.post_as(
        &browser,
        "/models/db-disk-full",
        &[("text", &third), ("base_revision", "2"), ("action", "save")],
    )
    .await;
    let stored = revisions(&app, "db-disk-full").await;
    assert_eq!(
        stored.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(stored[0].1, DISK, "revision 1 was overwritten");

    let history = app.get_as(&browser, "/models/db-disk-full/history").await;
    assert!(history.body.contains("earlier escalation") && history.body.contains("Edited"));
    let diff = app
        .get_as(&browser, "/models/db-disk-full/diff?from=1&to=3")
        .await;
    assert_eq!(diff.status, 200);
    assert!(diff.body.contains(r#"<span class="removed">- 2. Escalate to the DBA on call if free space is below 1%.</span>"#), "{}", diff.body);
    assert!(
        diff.body
            .contains(r#"<span class="added">+ category: storage</span>"#)
    );
    let one = app
        .get_as(&browser, "/models/db-disk-full/revisions/1")
        .await;
    assert!(one.body.contains("below 1%"));
    assert_eq!(
        app.get_as(&browser, "/models/db-disk-full/revisions/9")
            .await
            .status,
        404
    );

    // Saving the same text again adds nothing.
    let same = app
        .post_as(
            &browser,
            "/models/db-disk-full",
            &[("text", &third), ("base_revision", "3"), ("action", "save")],
        )
        .await;
    assert_eq!(
        same.location(),
        Some("/models/db-disk-full?notice=model-unchanged")
    );
    assert_eq!(revisions(&app, "db-disk-full").await.len(), 3);
}

#[actix_web::test]
async fn a_conflict_compares_a_crlf_text_line_by_line_not_as_all_changed() {
    let app = TestApp::new().await;
    let ana = staff(&app).await;
    let ben = staff(&app).await;
    create(&app, &ana, DISK).await;
    let anas = DISK.replace("below 5%", "below 10%");
    let saved = app
        .post_as(
            &ana,
            "/models/db-disk-full",
            &[("text", &anas), ("base_revision", "1"), ("action", "save")],
        )
        .await;
    assert_eq!(saved.status, 303);
    // Ben's browser sends CRLF line ends, as browsers do for a textarea.
    let bens = DISK
        .replace("Why WAL grows.", "Why WAL grows, and how to size volumes.")
        .replace('\n', "\r\n");
    let conflict = app
        .post_as(
            &ben,
            "/models/db-disk-full",
            &[("text", &bens), ("base_revision", "1"), ("action", "save")],
        )
        .await;
    assert_eq!(conflict.status, 409, "{}", conflict.body);
    let yours = &conflict.body[conflict.body.find("Your text compared").unwrap()..];
    let yours = &yours[..yours.find("</pre>").unwrap()];
    // Ana's line and Ben's line differ, each one way; nothing else.
    assert_eq!(yours.matches(r#"class="added""#).count(), 2, "{yours}");
    assert_eq!(yours.matches(r#"class="removed""#).count(), 2, "{yours}");
    assert!(yours.contains("how to size volumes"));
    assert!(!yours.contains('\r'));
}

#[actix_web::test]
async fn a_stale_edit_gets_a_conflict_page_and_loses_nothing() {
    let app = TestApp::new().await;
    let ana = staff(&app).await;
    let ben = staff(&app).await;
    create(&app, &ana, DISK).await;
    // Both open revision 1; Ana saves first.
    let anas = DISK.replace("below 5%", "below 10%");
    let bens = DISK.replace("Why WAL grows.", "Why WAL grows, and how to size volumes.");
    let first = app
        .post_as(
            &ana,
            "/models/db-disk-full",
            &[("text", &anas), ("base_revision", "1"), ("action", "save")],
        )
        .await;
    assert_eq!(first.status, 303);
    let second = app
        .post_as(
            &ben,
            "/models/db-disk-full",
            &[
                ("text", &bens),
                ("base_revision", "1"),
                ("summary", "sizing"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(second.status, 409, "{}", second.body);
    assert!(
        second
            .body
            .contains("You started from revision 1; revision 2 is current now")
    );
    let meanwhile = &second.body[second.body.find("What changed meanwhile").unwrap()
        ..second.body.find("Your text compared").unwrap()];
    assert!(meanwhile.contains(r#"<span class="added">+ Free space on a database host&#39;s data volume is below 10%.</span>"#), "what changed meanwhile is not shown: {meanwhile}");
    assert!(
        second.body.contains("how to size volumes"),
        "Ben's text was not preserved"
    );
    assert!(second.body.contains(r#"name="base_revision" value="2""#));
    assert_eq!(
        revisions(&app, "db-disk-full").await.len(),
        2,
        "the stale save overwrote"
    );

    // Ben merges and saves against revision 2.
    let merged = anas.replace("Why WAL grows.", "Why WAL grows, and how to size volumes.");
    let again = app
        .post_as(
            &ben,
            "/models/db-disk-full",
            &[
                ("text", &merged),
                ("base_revision", "2"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(again.status, 303);
    let stored = revisions(&app, "db-disk-full").await;
    assert_eq!(
        stored.last().map(|(n, b)| (*n, b.as_str())),
        Some((3, merged.as_str()))
    );
}

#[actix_web::test]
async fn the_key_cannot_change_in_an_edit() {
    let app = TestApp::new().await;
    let browser = staff(&app).await;
    create(&app, &browser, DISK).await;
    let renamed = DISK.replace("key: db-disk-full", "key: disk-full");
    let res = app
        .post_as(
            &browser,
            "/models/db-disk-full",
            &[
                ("text", &renamed),
                ("base_revision", "1"),
                ("action", "save"),
            ],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.body.contains("the key cannot change"));
    assert_eq!(
        create(&app, &browser, DISK).await.status,
        422,
        "a duplicate key was accepted"
    );
}

#[actix_web::test]
async fn verify_and_retire() {
    let app = TestApp::new().await;
    let browser = staff(&app).await;
    create(&app, &browser, DISK).await;
    assert_eq!(
        app.post_as(&browser, "/models/db-disk-full/verify", &[])
            .await
            .status,
        303
    );
    let page = app.get_as(&browser, "/models/db-disk-full").await;
    assert!(
        page.body.contains("verified ") && page.body.contains(" by engineer"),
        "{}",
        page.body
    );
    assert_eq!(
        app.post_as(&browser, "/models/db-disk-full/retire", &[])
            .await
            .status,
        303
    );
    let stored = revisions(&app, "db-disk-full").await;
    assert_eq!(stored.len(), 2);
    assert!(stored[1].1.contains("status: retired"));
    assert!(
        app.get_as(&browser, "/models/db-disk-full")
            .await
            .body
            .contains("This model is retired")
    );
}

#[actix_web::test]
async fn customers_read_public_published_models_only() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    casebook::commands::demo(&mut conn).await.unwrap();
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let customer = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(&mut conn)
        .await;
    let browser = app.sign_in(&customer).await;
    let list = app.get_as(&browser, "/models").await;
    assert!(
        list.body.contains("Website returns") || list.body.contains("website-502"),
        "{}",
        list.body
    );
    assert!(
        !list.body.contains("db-disk-full"),
        "an internal model was listed to a customer"
    );
    assert_eq!(
        app.get_as(&browser, "/models/website-502").await.status,
        200
    );
    for hidden in ["db-disk-full", "backup-job-failed"] {
        assert_eq!(
            app.get_as(&browser, &format!("/models/{hidden}"))
                .await
                .status,
            404,
            "{hidden}"
        );
        assert_eq!(
            app.get_as(&browser, &format!("/models/{hidden}/history"))
                .await
                .status,
            404
        );
    }
    assert_eq!(
        app.get_as(&browser, "/models/website-502/edit")
            .await
            .status,
        403
    );
    // The API draws the same line.
    let created = app
        .post_as(&browser, "/account/tokens", &[("name", "t")])
        .await;
    let start = created.body.find("cb_").unwrap();
    let token = &created.body[start..start + 67];
    let api = app.api_get(token, "/api/v1/models").await;
    assert!(api.body.contains("website-502") && !api.body.contains("db-disk-full"));
    assert_eq!(
        app.api_get(token, "/api/v1/models/db-disk-full")
            .await
            .status,
        404
    );
}

#[actix_web::test]
async fn the_list_filters_sorts_and_pages() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    casebook::commands::demo(&mut conn).await.unwrap();
    let browser = staff(&app).await;
    let database = app.get_as(&browser, "/models?category=database").await;
    assert!(database.body.contains("db-disk-full") && !database.body.contains("website-502"));
    let tagged = app.get_as(&browser, "/models?tag=postgres").await;
    assert!(tagged.body.contains("db-"), "{}", tagged.body);
    let drafts = app.get_as(&browser, "/models?status=draft").await;
    assert!(drafts.body.contains("backup-job-failed") && drafts.body.contains("1 model<"));
    let by_key = app.get_as(&browser, "/models?sort=key").await;
    let a = by_key.body.find("<code>backup-job-failed</code>").unwrap();
    let b = by_key.body.find("<code>website-502</code>").unwrap();
    assert!(a < b);
    let none = app.get_as(&browser, "/models?category=nothing-here").await;
    assert!(none.body.contains("No model matches these filters."));
}

#[actix_web::test]
async fn a_jump_off_model_reads_as_where_to_go_next() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    casebook::commands::demo(&mut conn).await.unwrap();
    let browser = staff(&app).await;
    let page = app.get_as(&browser, "/models/service-down-triage").await;
    assert!(page.body.contains("Where to go next"));
    let next =
        &page.body[page.body.find("Where to go next").unwrap()..page.body.find("h-steps").unwrap()];
    assert!(next.contains(r#"<a href="/models/website-502">"#), "{next}");
    assert!(
        !app.get_as(&browser, "/models/db-disk-full")
            .await
            .body
            .contains("Where to go next")
    );
}

#[actix_web::test]
async fn model_text_cannot_inject_script() {
    let app = TestApp::new().await;
    let browser = staff(&app).await;
    let evil = DISK
        .replace(
            "Why WAL grows.",
            "<script>alert(1)</script> <img src=x onerror=alert(2)> [x](javascript:alert(3))",
        )
        .replace(
            "# Disk full on a database host",
            "# Disk <script>alert(4)</script>",
        );
    assert_eq!(create(&app, &browser, &evil).await.status, 303);
    let page = app.get_as(&browser, "/models/db-disk-full").await;
    assert!(!page.body.contains("<script>alert"), "{}", page.body);
    // Escaped or stripped: no live script, handler or javascript: link.
    assert!(
        !page.body.contains("onerror=") && !page.body.to_lowercase().contains("href=\"javascript")
    );
    assert!(
        page.body.contains("Disk &#60;script&#62;"),
        "the title was not escaped"
    );
}

#[actix_web::test]
async fn the_api_creates_updates_and_detects_conflicts() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let engineer = fixtures::user().create(&mut conn).await;
    let browser = app.sign_in(&engineer).await;
    let created = app
        .post_as(&browser, "/account/tokens", &[("name", "t")])
        .await;
    let start = created.body.find("cb_").unwrap();
    let token = created.body[start..start + 67].to_owned();
    let auth = ("Authorization", format!("Bearer {token}"));

    let input = serde_json::json!({
        "key": "dns-down", "title": "DNS resolution failing", "category": "dns", "tags": ["dns"],
        "status": "published", "statement": "Names do not resolve.", "steps": ["Check `dig`.", "Escalate."],
    });
    let res = app
        .call(
            TestRequest::post()
                .uri("/api/v1/models")
                .insert_header(auth.clone())
                .set_json(&input),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.body);
    let got = app.api_get(&token, "/api/v1/models/dns-down").await;
    let body: serde_json::Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(body["revision"], 1);
    assert_eq!(body["current"]["steps"][0], "Check `dig`.");

    let mut update = input.clone();
    update["statement"] = "Names do not resolve anywhere.".into();
    update["expected_revision"] = 1.into();
    let ok = app
        .call(
            TestRequest::put()
                .uri("/api/v1/models/dns-down")
                .insert_header(auth.clone())
                .set_json(&update),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let stale = app
        .call(
            TestRequest::put()
                .uri("/api/v1/models/dns-down")
                .insert_header(auth.clone())
                .set_json(&update),
        )
        .await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert_eq!(stale.header("x-current-revision"), Some("2"));
    let missing = app
        .call(
            TestRequest::put()
                .uri("/api/v1/models/dns-down")
                .insert_header(auth.clone())
                .set_json(&input),
        )
        .await;
    assert_eq!(missing.status, 422);
    assert!(missing.body.contains(r#""field":"expected_revision""#));

    let bad = serde_json::json!({"key": "Bad Key", "title": "x", "statement": "s", "steps": ["a"]});
    let invalid = app
        .call(
            TestRequest::post()
                .uri("/api/v1/models")
                .insert_header(auth.clone())
                .set_json(&bad),
        )
        .await;
    assert_eq!(invalid.status, 422);
    assert!(
        invalid.body.contains(r#""field":"key""#),
        "{}",
        invalid.body
    );
    let not_json = app
        .call(
            TestRequest::post()
                .uri("/api/v1/models")
                .insert_header(auth.clone())
                .insert_header(("content-type", "application/json"))
                .set_payload("{not json"),
        )
        .await;
    assert_eq!(not_json.status, 400);
    assert!(
        not_json
            .header("content-type")
            .unwrap_or_default()
            .contains("json")
    );

    // One plain-text document.
    let doc = app
        .call(
            TestRequest::post()
                .uri("/api/v1/models/text?summary=from%20git")
                .insert_header(auth.clone())
                .insert_header(("content-type", "text/markdown"))
                .set_payload(DISK),
        )
        .await;
    assert_eq!(doc.status, 201, "{}", doc.body);
    let again = app
        .call(
            TestRequest::post()
                .uri("/api/v1/models/text")
                .insert_header(auth.clone())
                .insert_header(("content-type", "text/plain"))
                .set_payload(DISK),
        )
        .await;
    assert_eq!(
        again.status, 409,
        "updating without expected_revision must not overwrite"
    );
    let broken = app
        .call(
            TestRequest::post()
                .uri("/api/v1/models/text")
                .insert_header(auth.clone())
                .insert_header(("content-type", "text/plain"))
                .set_payload("# Title\nkey: x\n"),
        )
        .await;
    assert_eq!(broken.status, 422);
    assert!(broken.body.contains("line "), "{}", broken.body);

    let history = app
        .api_get(&token, "/api/v1/models/dns-down/revisions")
        .await;
    let history: serde_json::Value = serde_json::from_str(&history.body).unwrap();
    assert_eq!(history["revisions"].as_array().map(Vec::len), Some(2));
    let first = app
        .api_get(&token, "/api/v1/models/dns-down/revisions/1")
        .await;
    assert!(first.body.contains("Names do not resolve."));
}

fn sources(files: &[(&str, &str)]) -> Vec<Source> {
    files
        .iter()
        .map(|(name, text)| Source {
            name: (*name).to_owned(),
            text: (*text).to_owned(),
        })
        .collect()
}

#[actix_web::test]
async fn import_is_all_or_nothing_and_names_the_bad_file() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let hidden = indicatif::ProgressBar::hidden();
    let broken = DISK.replace("1. Confirm", "Confirm");
    let wal = DISK.replace("key: db-disk-full", "key: wal-stuck");
    let err = import_sources(
        &mut conn,
        &sources(&[("good.md", &wal), ("models/bad.md", &broken)]),
        &hidden,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("models/bad.md: line 11: expected step 1"),
        "{err}"
    );
    let dangling = wal.replace("Why WAL grows.", "See [[nowhere]].");
    let err = import_sources(
        &mut conn,
        &sources(&[("a.md", DISK), ("b.md", &dangling)]),
        &hidden,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("b.md") && err.contains("[[nowhere]]"), "{err}");
    let count: i64 = incident_models::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 0, "a failed import left models behind");

    // Files may link to each other within one import.
    let linked = DISK.replace("Why WAL grows.", "See [[wal-stuck]].");
    let report = import_sources(
        &mut conn,
        &sources(&[("a.md", &linked), ("b.md", &wal)]),
        &hidden,
    )
    .await
    .unwrap();
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (2, 0, 0)
    );
    let report = import_sources(
        &mut conn,
        &sources(&[("a.md", &linked), ("b.md", &wal.replace("5%", "6%"))]),
        &hidden,
    )
    .await
    .unwrap();
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (0, 1, 1)
    );
    assert_eq!(
        revisions(&app, "db-disk-full").await.len(),
        1,
        "an unchanged file added a revision"
    );
}

#[actix_web::test]
async fn export_then_import_changes_nothing_and_files_round_trip() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let report = casebook::commands::demo(&mut conn).await.unwrap();
    assert_eq!(report.created, DEMO_MODELS.len());
    let dir = tempfile::tempdir().unwrap();
    let written = casebook::commands::export(&mut conn, dir.path())
        .await
        .unwrap();
    assert_eq!(written, DEMO_MODELS.len());
    for (key, original) in DEMO_MODELS {
        let exported = std::fs::read_to_string(dir.path().join(format!("{key}.md"))).unwrap();
        assert_eq!(
            &exported, original,
            "{key} did not round-trip byte for byte"
        );
    }
    let again = casebook::commands::import_dir(&mut conn, dir.path())
        .await
        .unwrap();
    assert_eq!(
        (again.created, again.updated, again.unchanged),
        (0, 0, DEMO_MODELS.len())
    );
}

#[actix_web::test]
async fn generated_models_round_trip_through_import_and_export() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let input = tempfile::tempdir().unwrap();
    casebook::commands::models::generate(input.path(), 300, 7).unwrap();
    let report = casebook::commands::import_dir(&mut conn, input.path())
        .await
        .unwrap();
    assert_eq!(report.created, 300);
    let output = tempfile::tempdir().unwrap();
    casebook::commands::export(&mut conn, output.path())
        .await
        .unwrap();
    let mut compared = 0;
    for entry in std::fs::read_dir(input.path()).unwrap() {
        let path = entry.unwrap().path();
        let original = std::fs::read_to_string(&path).unwrap();
        let exported =
            std::fs::read_to_string(output.path().join(path.file_name().unwrap())).unwrap();
        assert_eq!(original, exported);
        assert_eq!(text::render(&text::parse(&original).unwrap()), original);
        compared += 1;
    }
    assert_eq!(compared, 300);
}

#[test]
fn every_demo_model_is_canonical_and_one_is_a_jump_off() {
    let parsed: Vec<_> = DEMO_MODELS
        .iter()
        .map(|(key, t)| (key, text::parse(t).unwrap(), *t))
        .collect();
    assert!(parsed.len() >= 18);
    for (key, model, original) in &parsed {
        assert_eq!(&&model.key.as_str(), key);
        assert_eq!(text::render(model), *original, "{key} is not canonical");
    }
    let jump_offs: Vec<_> = parsed
        .iter()
        .filter(|(_, m, _)| text::is_jump_off(m))
        .map(|(k, _, _)| **k)
        .collect();
    assert_eq!(jump_offs, vec!["service-down-triage"]);
}
