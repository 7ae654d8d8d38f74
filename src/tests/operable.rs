//! Running Casebook as a service: `/metrics` read by a Prometheus text
//! parser, gzip on and off by content type, request ids on responses and
//! error pages, and the OpenAPI contract (every API route in it, real
//! responses valid against it, the reference page rendered from it).

use std::collections::BTreeSet;
use std::io::Read;
use std::sync::Arc;

use actix_web::test::TestRequest;
use serde_json::{Value, json};

use casebook::domain::account::Role;
use casebook::tickets::{self, OpenTicket};
use casebook::web::api::openapi;
use casebook::web::route_list;

use crate::support::{TestApp, TestResponse, fixtures};

const METRICS_TOKEN: &str = "scrape-me-0123456789";

fn with_metrics_token(mut app: TestApp) -> TestApp {
    let mut config = (*app.state.config).clone();
    config.metrics_token = Some(METRICS_TOKEN.to_owned());
    app.state.config = Arc::new(config);
    app
}

async fn open_ticket(
    app: &TestApp,
    who: &casebook::db::users::User,
    title: &str,
    priority: &str,
) -> i64 {
    let mut conn = app.conn().await;
    tickets::open(
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
    .0
}

fn scrape(body: &str) -> prometheus_parse::Scrape {
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of the sample `name` whose labels include `labels`.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(k).is_some_and(|l| l == *v))
        })
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            prometheus_parse::Value::Histogram(ref buckets) => {
                buckets.last().map_or(0.0, |b| b.count)
            }
            prometheus_parse::Value::Summary(_) => f64::NAN,
        })
}

async fn get_metrics(app: &TestApp, token: Option<&str>) -> TestResponse {
    let mut req = TestRequest::get().uri("/metrics");
    if let Some(token) = token {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    app.call(req).await
}

#[actix_web::test]
async fn metrics_are_off_without_a_token_configured() {
    let app = TestApp::new().await;
    assert_eq!(get_metrics(&app, None).await.status, 404);
    assert_eq!(get_metrics(&app, Some(METRICS_TOKEN)).await.status, 404);
}

#[actix_web::test]
async fn metrics_need_the_token_and_report_every_family_with_plausible_values() {
    let app = with_metrics_token(TestApp::new().await);
    let mut conn = app.conn().await;
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let token = fixtures::api_token(&mut conn, &engineer).await;

    let refused = get_metrics(&app, None).await;
    assert_eq!(refused.status, 401);
    assert!(refused.header("www-authenticate").is_some());
    assert_eq!(
        get_metrics(&app, Some("scrape-me-wrong-guess"))
            .await
            .status,
        401
    );

    // Two new tickets (P1 and P3), one of them triaged; a few requests.
    let first = open_ticket(&app, &engineer, "Disk full on db-1", "1").await;
    open_ticket(&app, &engineer, "Slow page", "3").await;
    tickets::change_status(
        &mut conn,
        &engineer.viewer(),
        casebook::domain::ticket::TicketId(first),
        "triaged",
        "",
    )
    .await
    .unwrap();
    for _ in 0..3 {
        assert_eq!(app.api_get(&token, "/api/v1/me").await.status, 200);
    }
    assert_eq!(
        app.api_get(&token, &format!("/api/v1/tickets/{first}"))
            .await
            .status,
        200
    );
    assert_eq!(
        app.api_get(&token, "/api/v1/tickets/99999999").await.status,
        404
    );
    assert_eq!(app.get("/no/such/page").await.status, 404);

    let res = get_metrics(&app, Some(METRICS_TOKEN)).await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(
        res.header("content-type")
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let before_indexing = scrape(&res.body);

    // Requests by route pattern (never the raw path) and status.
    let me = sample(
        &before_indexing,
        "casebook_http_requests_total",
        &[
            ("route", "/api/v1/me"),
            ("method", "GET"),
            ("status", "200"),
        ],
    );
    assert_eq!(me, Some(3.0), "{}", res.body);
    // prometheus-parse splits labels with a pattern that stops at the
    // braces of a route template, so this one is read from the text.
    assert!(
        res.body.lines().any(|l| l
            == r#"casebook_http_requests_total{method="GET",route="/api/v1/tickets/{id}",status="404"} 1"#),
        "{}",
        res.body
    );
    assert!(
        !res.body.contains("/api/v1/tickets/99999999"),
        "raw paths must not become labels"
    );
    assert_eq!(
        sample(
            &before_indexing,
            "casebook_http_requests_total",
            &[("route", "unmatched"), ("status", "404")]
        ),
        Some(1.0)
    );
    // The latency histogram counts the same requests.
    let histogram_count = before_indexing
        .samples
        .iter()
        .find(|s| {
            s.metric == "casebook_http_request_duration_seconds"
                && s.labels.get("route") == Some("/api/v1/me")
        })
        .map(|s| match &s.value {
            prometheus_parse::Value::Histogram(buckets) => {
                assert!(buckets.windows(2).all(|w| w[0].count <= w[1].count));
                buckets.last().map_or(0.0, |b| b.count)
            }
            other => panic!("not a histogram: {other:?}"),
        });
    assert_eq!(histogram_count, Some(3.0));

    // Open tickets by priority and status; the triage queue.
    assert_eq!(
        sample(
            &before_indexing,
            "casebook_open_tickets",
            &[("priority", "P1"), ("status", "triaged")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &before_indexing,
            "casebook_open_tickets",
            &[("priority", "P3"), ("status", "new")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&before_indexing, "casebook_triage_queue_length", &[]),
        Some(1.0)
    );
    let oldest = sample(
        &before_indexing,
        "casebook_triage_queue_oldest_age_seconds",
        &[],
    )
    .unwrap();
    assert!((0.0..600.0).contains(&oldest), "{oldest}");

    // Nothing indexed yet (no indexer runs in the test app): the lag is
    // the outbox rows written.
    let pending = sample(&before_indexing, "casebook_search_index_pending_rows", &[]).unwrap();
    assert!(pending >= 2.0, "{pending}");
    assert_eq!(
        sample(&before_indexing, "casebook_search_indexed_rows_total", &[]),
        Some(0.0)
    );
    assert_eq!(
        sample(&before_indexing, "casebook_live_viewers", &[]),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &before_indexing,
            "casebook_db_pool_connections",
            &[("state", "max")]
        ),
        Some(4.0)
    );
    for alerts in [
        "casebook_alerts_received_total",
        "casebook_alerts_deduplicated_total",
        "casebook_alerts_opened_total",
    ] {
        assert_eq!(sample(&before_indexing, alerts, &[]), Some(0.0), "{alerts}");
    }

    // The intake's counters, as the alert intake calls them.
    app.state.metrics.alerts_received(5);
    app.state.metrics.alert_deduplicated();
    app.state.metrics.alert_opened();

    // Index what is pending: the lag goes to 0, the indexed counter up.
    let mut writer = casebook::search::indexer::writer(&app.state.search).unwrap();
    casebook::search::indexer::catch_up(&app.state.search, &mut writer, &mut conn)
        .await
        .unwrap();
    let after = scrape(&get_metrics(&app, Some(METRICS_TOKEN)).await.body);
    assert_eq!(
        sample(&after, "casebook_search_index_pending_rows", &[]),
        Some(0.0)
    );
    assert_eq!(
        sample(&after, "casebook_search_indexed_rows_total", &[]),
        Some(pending)
    );
    assert_eq!(
        sample(&after, "casebook_alerts_received_total", &[]),
        Some(5.0)
    );
    assert_eq!(
        sample(&after, "casebook_alerts_deduplicated_total", &[]),
        Some(1.0)
    );
    assert_eq!(
        sample(&after, "casebook_alerts_opened_total", &[]),
        Some(1.0)
    );
    // The scrapes themselves are counted too.
    assert_eq!(
        sample(
            &after,
            "casebook_http_requests_total",
            &[("route", "/metrics"), ("status", "200")]
        ),
        Some(1.0)
    );
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .unwrap();
    out
}

/// The raw body, undecoded.
async fn raw(
    app: &TestApp,
    req: TestRequest,
) -> (u16, actix_web::http::header::HeaderMap, Vec<u8>) {
    let service = actix_web::test::init_service(casebook::app::build(app.state.clone())).await;
    let res = actix_web::test::call_service(&service, req.to_request()).await;
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (
        status,
        headers,
        actix_web::test::read_body(res).await.to_vec(),
    )
}

#[actix_web::test]
async fn responses_are_gzipped_when_accepted_except_event_streams() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let token = fixtures::api_token(&mut conn, &engineer).await;
    let ticket = open_ticket(&app, &engineer, "Compressed", "3").await;
    let bearer = ("Authorization", format!("Bearer {token}"));

    // HTML, asked with gzip: compressed, and it is the page.
    let (status, headers, body) = raw(
        &app,
        TestRequest::get()
            .uri("/")
            .insert_header(("Accept-Encoding", "gzip")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-encoding").unwrap(), "gzip");
    assert!(gunzip(&body).contains("<title>Home · Casebook</title>"));

    // JSON, asked with gzip.
    let (status, headers, body) = raw(
        &app,
        TestRequest::get()
            .uri(&format!("/api/v1/tickets/{ticket}"))
            .insert_header(bearer.clone())
            .insert_header(("Accept-Encoding", "gzip, deflate")),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(headers.get("content-encoding").unwrap(), "gzip");
    let json: Value = serde_json::from_str(&gunzip(&body)).unwrap();
    assert_eq!(json["title"], "Compressed");

    // Not accepted: plain.
    let (_, headers, body) = raw(
        &app,
        TestRequest::get()
            .uri("/api/v1/me")
            .insert_header(bearer.clone()),
    )
    .await;
    assert!(headers.get("content-encoding").is_none());
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["id"], engineer.id);

    // An event stream is never compressed, even when gzip is accepted.
    for uri in [
        format!("/api/v1/tickets/{ticket}/events"),
        format!("/tickets/{ticket}/events"),
    ] {
        let mut req = TestRequest::get()
            .uri(&uri)
            .insert_header(("Accept-Encoding", "gzip"));
        req = if uri.starts_with("/api/") {
            req.insert_header(bearer.clone())
        } else {
            app.sign_in(&engineer).await.with_cookies(req)
        };
        let head = app.head_of(req).await;
        assert_eq!(head.status, 200, "{uri}");
        assert!(
            head.header("content-type")
                .unwrap()
                .starts_with("text/event-stream"),
            "{uri}"
        );
        assert!(head.header("content-encoding").is_none(), "{uri}");
    }
}

#[actix_web::test]
async fn every_request_gets_an_id_shown_on_error_pages_and_problems() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let token = fixtures::api_token(&mut conn, &engineer).await;

    // A fresh id when none is sent; on the error page too.
    let page = app.get("/no/such/page").await;
    assert_eq!(page.status, 404);
    let id = page.header("x-request-id").unwrap().to_owned();
    assert_eq!(id.len(), 32);
    assert!(page.body.contains(&id), "{}", page.body);
    let other = app.get("/").await;
    assert_ne!(other.header("x-request-id").unwrap(), id);

    // A sane incoming id is kept and echoed on the error page.
    let echoed = app
        .call(
            TestRequest::get()
                .uri("/no/such/page")
                .insert_header(("X-Request-Id", "edge-proxy:4f2a.77")),
        )
        .await;
    assert_eq!(echoed.header("x-request-id"), Some("edge-proxy:4f2a.77"));
    assert!(echoed.body.contains("edge-proxy:4f2a.77"));

    // Anything else is replaced, never reflected.
    let forged = app
        .call(
            TestRequest::get()
                .uri("/")
                .insert_header(("X-Request-Id", "<script>alert(1)</script>")),
        )
        .await;
    let replaced = forged.header("x-request-id").unwrap();
    assert_ne!(replaced, "<script>alert(1)</script>");
    assert_eq!(replaced.len(), 32);

    // Problem documents name it, from the access check and from handlers.
    let unauthenticated = app.get("/api/v1/me").await;
    let problem: Value = serde_json::from_str(&unauthenticated.body).unwrap();
    assert_eq!(unauthenticated.status, 401);
    assert_eq!(
        problem["request_id"].as_str(),
        unauthenticated.header("x-request-id")
    );
    let missing = app.api_get(&token, "/api/v1/tickets/99999999").await;
    let problem: Value = serde_json::from_str(&missing.body).unwrap();
    assert_eq!(missing.status, 404);
    assert_eq!(
        problem["request_id"].as_str(),
        missing.header("x-request-id")
    );
    // A path that is not a ticket number: a problem document, not text.
    let bad = app.api_get(&token, "/api/v1/tickets/not-a-number").await;
    assert_eq!(bad.status, 404);
    assert_eq!(bad.header("content-type"), Some("application/problem+json"));
    let bad_query = app.api_get(&token, "/api/v1/tickets?page=abc").await;
    assert_eq!(bad_query.status, 400);
    assert_eq!(
        bad_query.header("content-type"),
        Some("application/problem+json")
    );
}

/// (method, path) of every operation in the document.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(move |m| (m.to_ascii_uppercase(), path.clone()))
        })
        .collect()
}

#[test]
fn the_openapi_document_lists_every_api_route_and_no_other() {
    let doc = openapi::document_json().unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let in_doc = operations(&doc);
    let registered: BTreeSet<(String, String)> = route_list()
        .into_iter()
        .filter(|r| r.path.starts_with("/api/"))
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    let undocumented: Vec<_> = registered.difference(&in_doc).collect();
    let unregistered: Vec<_> = in_doc.difference(&registered).collect();
    assert!(
        undocumented.is_empty(),
        "API routes missing from the document: {undocumented:?}"
    );
    assert!(
        unregistered.is_empty(),
        "documented but not registered: {unregistered:?}"
    );
    // Every operation but the document itself wants the bearer token and
    // documents the problem responses.
    assert!(doc.pointer("/components/securitySchemes/bearer").is_some());
    for (method, path) in &in_doc {
        let op = &doc["paths"][path][method.to_ascii_lowercase()];
        if path == "/api/v1/openapi.json" {
            assert!(op.get("security").is_none_or(|s| s == &json!([{}])), "{op}");
            continue;
        }
        assert_eq!(op["security"], json!([{ "bearer": [] }]), "{method} {path}");
        for status in ["401", "404", "422"] {
            assert_eq!(
                op["responses"][status]["content"]["application/problem+json"]["schema"]["$ref"],
                "#/components/schemas/Problem",
                "{method} {path} {status}"
            );
        }
    }
    let events = &doc["paths"]["/api/v1/tickets/{id}/events"]["get"]["responses"]["200"]["content"];
    assert!(events.get("text/event-stream").is_some(), "{events}");
}

/// A validator for the response of `method path` with `status`: the
/// document is the root (so `#/components/...` references resolve), every
/// object schema refuses properties it does not list (so a field the
/// handler sends that the document lacks is caught), and the root points
/// at the response's schema.
fn response_validator(
    doc: &Value,
    method: &str,
    path: &str,
    status: u16,
    media: &str,
) -> jsonschema::Validator {
    let mut root = doc.clone();
    // A schema that is a part of another (a flattened struct, `allOf`)
    // cannot refuse the other parts' properties itself: the whole does.
    let parts: BTreeSet<String> = doc["components"]["schemas"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|s| s.get("allOf").and_then(Value::as_array))
        .flatten()
        .filter_map(|part| part.get("$ref").and_then(Value::as_str))
        .map(|r| r.rsplit('/').next().unwrap_or(r).to_owned())
        .collect();
    if let Some(schemas) = root
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        for (name, schema) in schemas.iter_mut() {
            let object = schema.get("properties").is_some() || schema.get("allOf").is_some();
            if object && !parts.contains(name) {
                schema["unevaluatedProperties"] = json!(false);
            }
        }
    }
    // A JSON pointer in a URI fragment: `~` and `/` escaped, then the
    // braces of path templates percent-encoded.
    let escape = |s: &str| {
        s.replace('~', "~0")
            .replace('/', "~1")
            .replace('{', "%7B")
            .replace('}', "%7D")
    };
    let pointer = format!(
        "#/paths/{}/{}/responses/{status}/content/{}/schema",
        escape(path),
        method.to_ascii_lowercase(),
        escape(media)
    );
    assert!(
        root.pointer(&pointer[1..].replace("%7B", "{").replace("%7D", "}"))
            .is_some(),
        "no schema documented for {method} {path} {status} {media}"
    );
    root["$ref"] = json!(pointer);
    jsonschema::validator_for(&root).unwrap()
}

fn check(doc: &Value, method: &str, path: &str, res: &TestResponse) {
    let media = res
        .header("content-type")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let validator = response_validator(doc, method, path, res.status, &media);
    let body: Value = serde_json::from_str(&res.body).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(
        errors.is_empty(),
        "{method} {path} {}: {errors:?}\n{body:#}",
        res.status
    );
}

#[actix_web::test]
async fn real_responses_validate_against_their_documented_schemas() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    casebook::commands::demo(&mut conn).await.unwrap();
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let manager = fixtures::user().role(Role::Manager).create(&mut conn).await;
    let customer = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(&mut conn)
        .await;
    let token = fixtures::api_token(&mut conn, &manager).await;
    let customer_token = fixtures::api_token(&mut conn, &customer).await;
    let ticket = open_ticket(&app, &customer, "Checkout returns 502", "2").await;
    let bearer = |t: &str| ("Authorization", format!("Bearer {t}"));

    let served = app.get("/api/v1/openapi.json").await;
    assert_eq!(served.status, 200);
    let doc: Value = serde_json::from_str(&served.body).unwrap();
    assert_eq!(doc, openapi::document_json().unwrap());

    // A journal entry and a linked model, so the detail has both.
    let entry = app
        .call(
            TestRequest::post()
                .uri(&format!("/api/v1/tickets/{ticket}/entries"))
                .insert_header(bearer(&token))
                .set_json(json!({ "body": "Looking at it", "visibility": "public" })),
        )
        .await;
    assert_eq!(entry.status, 201, "{}", entry.body);
    check(&doc, "POST", "/api/v1/tickets/{id}/entries", &entry);
    let linked = app
        .call(
            TestRequest::post()
                .uri(&format!("/api/v1/tickets/{ticket}/models"))
                .insert_header(bearer(&token))
                .set_json(
                    json!({ "model": "website-502", "outcome": "partial", "missing": "CDN" }),
                ),
        )
        .await;
    assert_eq!(linked.status, 200, "{}", linked.body);
    check(&doc, "POST", "/api/v1/tickets/{id}/models", &linked);

    for (path, concrete, who) in [
        ("/api/v1/me", "/api/v1/me".to_owned(), &token),
        (
            "/api/v1/tickets",
            "/api/v1/tickets?queue=all".to_owned(),
            &token,
        ),
        (
            "/api/v1/tickets/{id}",
            format!("/api/v1/tickets/{ticket}"),
            &token,
        ),
        (
            "/api/v1/tickets/{id}",
            format!("/api/v1/tickets/{ticket}"),
            &customer_token,
        ),
        ("/api/v1/models", "/api/v1/models".to_owned(), &token),
        (
            "/api/v1/models/{key}",
            "/api/v1/models/website-502".to_owned(),
            &token,
        ),
        (
            "/api/v1/models/{key}/revisions",
            "/api/v1/models/website-502/revisions".to_owned(),
            &token,
        ),
        (
            "/api/v1/improvements",
            "/api/v1/improvements".to_owned(),
            &token,
        ),
        ("/api/v1/rota", "/api/v1/rota".to_owned(), &token),
        ("/api/v1/reviews", "/api/v1/reviews".to_owned(), &token),
        (
            "/api/v1/reports/{table}",
            "/api/v1/reports/volume".to_owned(),
            &token,
        ),
        (
            "/api/v1/reports/{table}",
            "/api/v1/reports/models?days=90".to_owned(),
            &token,
        ),
        (
            "/api/v1/reports/{table}",
            "/api/v1/reports/searches".to_owned(),
            &token,
        ),
    ] {
        let res = app.api_get(who, &concrete).await;
        assert_eq!(res.status, 200, "{concrete}: {}", res.body);
        check(&doc, "GET", path, &res);
    }

    // Created, with its Location.
    let created = app
        .call(
            TestRequest::post()
                .uri("/api/v1/tickets")
                .insert_header(bearer(&token))
                .set_json(
                    json!({ "title": "Queue backlog", "priority": 2, "organization_id": acme.id }),
                ),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    check(&doc, "POST", "/api/v1/tickets", &created);

    // Errors: problem documents as documented.
    let missing = app.api_get(&token, "/api/v1/tickets/99999999").await;
    check(&doc, "GET", "/api/v1/tickets/{id}", &missing);
    let invalid = app
        .call(
            TestRequest::post()
                .uri("/api/v1/tickets")
                .insert_header(bearer(&token))
                .set_json(json!({ "title": "" })),
        )
        .await;
    assert_eq!(invalid.status, 422, "{}", invalid.body);
    check(&doc, "POST", "/api/v1/tickets", &invalid);
    let forbidden = app.api_get(&customer_token, "/api/v1/rota").await;
    assert_eq!(forbidden.status, 403);
    check(&doc, "GET", "/api/v1/rota", &forbidden);

    // The checker does catch a body that is not what the document says.
    let validator = response_validator(&doc, "GET", "/api/v1/me", 200, "application/json");
    assert!(!validator.is_valid(&json!({ "id": 1 })));
    let mut extra: Value =
        serde_json::from_str(&app.api_get(&token, "/api/v1/me").await.body).unwrap();
    extra["undocumented"] = json!(true);
    assert!(!validator.is_valid(&extra));
}

#[actix_web::test]
async fn the_reference_page_is_rendered_from_the_document_and_linked_from_the_account() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let customer_org = fixtures::organization(&mut conn, "Acme").await;
    let customer = fixtures::user()
        .role(Role::Customer)
        .org(&customer_org)
        .create(&mut conn)
        .await;
    let browser = app.sign_in(&customer).await;

    let account = app.get_as(&browser, "/account").await;
    assert!(account.body.contains("href=\"/account/api\""));

    let page = app.get_as(&browser, "/account/api").await;
    assert_eq!(page.status, 200);
    assert!(
        page.body
            .contains("<title>API reference · Casebook</title>")
    );
    assert!(!page.body.contains("<script"));
    let doc = openapi::document_json().unwrap();
    for (method, path) in operations(&doc) {
        let shown = format!("{method} {path}");
        assert!(page.body.contains(&shown), "{shown} is not on the page");
    }
    for schema in ["TicketDetail", "Problem", "ModelInput", "ReportTable"] {
        assert!(
            page.body.contains(&format!("id=\"schema-{schema}\"")),
            "{schema}"
        );
    }
    assert!(page.body.contains("text/event-stream"));
    assert!(page.body.contains("managers and admins"));
}

#[actix_web::test]
async fn token_create_prints_a_working_token_and_refuses_unknown_people() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let engineer = fixtures::user()
        .role(Role::Engineer)
        .email("eve@ops.example")
        .create(&mut conn)
        .await;
    let dir = crate::support::process::data_dir();
    let run = |email: &str| {
        crate::support::process::run(
            crate::support::process::casebook()
                .args([
                    "token",
                    "create",
                    "--name",
                    "ci",
                    "--email",
                    email,
                    "--data-dir",
                ])
                .arg(dir.path())
                .env("DATABASE_URL", &app.db.url),
        )
    };
    let out = run("EVE@ops.example");
    assert!(
        out.status.success(),
        "{}",
        crate::support::process::stderr(&out)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(token.starts_with("cb_") && token.len() == 67, "{token}");
    let me = app.api_get(&token, "/api/v1/me").await;
    assert_eq!(me.status, 200);
    assert_eq!(
        serde_json::from_str::<Value>(&me.body).unwrap()["id"],
        engineer.id
    );

    let refused = run("nobody@ops.example");
    assert!(!refused.status.success());
    assert!(
        crate::support::process::stderr(&refused)
            .contains("no user has the email nobody@ops.example"),
        "{}",
        crate::support::process::stderr(&refused)
    );
    let account = app.get_as(&app.sign_in(&engineer).await, "/account").await;
    assert_eq!(
        account.body.matches("<code>cb_").count(),
        1,
        "one token: the CLI's"
    );
}

/// `--metrics-listen` with a real `casebook serve`: `/metrics` answers on
/// the separate address without a token, and is not on the main address
/// (no token is configured there).
#[test]
fn metrics_listen_serves_metrics_on_its_own_address_only() {
    use crate::support::process::{Serve, data_dir, free_port, http_get};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let db = runtime.block_on(crate::support::TestDb::new());
    let metrics_addr = free_port();
    let dir = data_dir();
    let mut serve = Serve::start_with(dir.path(), |c| {
        c.env("DATABASE_URL", &db.url)
            .args(["--metrics-listen", &metrics_addr.to_string()]);
    });
    serve.wait_ready();
    let (status, body) = http_get(metrics_addr, "/metrics")
        .unwrap_or_else(|| panic!("nothing answered on {metrics_addr}:\n{}", serve.log()));
    assert_eq!(status, 200, "{body}");
    let parsed = scrape(&body);
    assert!(
        sample(&parsed, "casebook_db_pool_connections", &[("state", "max")]).is_some(),
        "{body}"
    );
    assert!(
        sample(&parsed, "casebook_arrival_triage_pending", &[]).is_some(),
        "{body}"
    );
    // Only /metrics is served there.
    assert_eq!(http_get(metrics_addr, "/readyz").map(|(s, _)| s), Some(404));
    // The main address does not serve it.
    let (status, _) = http_get(serve.addr, "/metrics").unwrap();
    assert_eq!(status, 404);
    serve.kill();
}
