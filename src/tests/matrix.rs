//! Route × role: every route of the route table, for anonymous, customer,
//! engineer, reviewer, manager and admin. The expected decisions are
//! written out here, so a route added to the table without a row here
//! fails this test, and so does a route whose access changes.

use std::collections::BTreeSet;

use actix_web::test::TestRequest;

use casebook::db::users::User;
use casebook::domain::account::Role;
use casebook::web::route_list;

use crate::support::fixtures;
use crate::support::{Browser, TestApp, TestResponse};

/// Who may use each route: "anyone", "signed-in", "staff", "manager", "admin".
const EXPECTED: &[(&str, &str, &str)] = &[
    ("GET", "/", "anyone"),
    ("GET", "/healthz", "anyone"),
    ("GET", "/readyz", "anyone"),
    // Anyone reaches the handler, which wants the metrics token (and is
    // off, 404, without one configured): see src/tests/operable.rs.
    ("GET", "/metrics", "anyone"),
    ("GET", "/static/{path:.*}", "anyone"),
    ("GET", "/login", "anyone"),
    ("POST", "/login", "anyone"),
    ("POST", "/logout", "signed-in"),
    ("GET", "/setup", "anyone"),
    ("POST", "/setup", "anyone"),
    ("GET", "/account", "signed-in"),
    ("GET", "/account/api", "signed-in"),
    ("GET", "/api/v1/openapi.json", "anyone"),
    ("POST", "/account/password", "signed-in"),
    ("POST", "/account/tokens", "signed-in"),
    ("POST", "/account/tokens/{id}/revoke", "signed-in"),
    ("POST", "/account/notifications", "signed-in"),
    ("POST", "/account/time-zone", "signed-in"),
    ("GET", "/tickets/{id}/attachments/{attachment}", "signed-in"),
    ("POST", "/tickets/{id}/attachments", "signed-in"),
    ("GET", "/admin/webhooks", "admin"),
    ("POST", "/admin/webhooks", "admin"),
    ("POST", "/admin/webhooks/{id}/stop", "admin"),
    ("GET", "/admin/mail", "admin"),
    ("POST", "/admin/mail/tokens", "admin"),
    ("POST", "/admin/mail/domains", "admin"),
    ("POST", "/admin/mail/domains/remove", "admin"),
    ("POST", "/api/v1/mail", "staff"),
    ("GET", "/models", "signed-in"),
    ("GET", "/models/new", "staff"),
    ("POST", "/models", "staff"),
    ("GET", "/models/{key}", "signed-in"),
    ("POST", "/models/{key}", "staff"),
    ("GET", "/models/{key}/edit", "staff"),
    ("GET", "/models/{key}/history", "signed-in"),
    ("GET", "/models/{key}/revisions/{number}", "signed-in"),
    ("GET", "/models/{key}/diff", "signed-in"),
    ("POST", "/models/{key}/verify", "staff"),
    ("POST", "/models/{key}/retire", "staff"),
    ("GET", "/search", "signed-in"),
    ("GET", "/api/v1/search", "signed-in"),
    ("POST", "/tickets/{id}/triage", "staff"),
    ("GET", "/tickets", "signed-in"),
    ("GET", "/tickets/new", "signed-in"),
    ("GET", "/tickets/events", "signed-in"),
    ("GET", "/events", "signed-in"),
    ("POST", "/tickets", "signed-in"),
    ("GET", "/tickets/{id}", "signed-in"),
    ("GET", "/tickets/{id}/events", "signed-in"),
    ("POST", "/tickets/{id}/entries", "signed-in"),
    ("POST", "/tickets/{id}/status", "staff"),
    ("POST", "/tickets/{id}/assign", "staff"),
    ("POST", "/tickets/{id}/models", "staff"),
    ("POST", "/tickets/{id}/models/unlink", "staff"),
    ("POST", "/tickets/{id}/escalate", "staff"),
    ("POST", "/tickets/{id}/duplicate", "staff"),
    ("GET", "/reviews", "staff"),
    ("GET", "/reviews/{id}", "staff"),
    ("POST", "/reviews/{id}", "staff"),
    ("POST", "/reviews/{id}/routine", "staff"),
    ("GET", "/improvements", "staff"),
    ("GET", "/improvements/new", "staff"),
    ("POST", "/improvements", "staff"),
    ("POST", "/improvements/priority", "manager"),
    ("GET", "/improvements/{id}", "staff"),
    ("POST", "/improvements/{id}", "staff"),
    ("GET", "/api/v1/reviews", "staff"),
    ("GET", "/api/v1/reviews/{id}", "staff"),
    ("POST", "/api/v1/reviews/{id}", "staff"),
    ("GET", "/api/v1/improvements", "staff"),
    ("POST", "/api/v1/improvements", "staff"),
    ("POST", "/api/v1/improvements/priority", "manager"),
    ("GET", "/api/v1/improvements/{id}", "staff"),
    ("PUT", "/api/v1/improvements/{id}", "staff"),
    ("GET", "/rota", "staff"),
    ("POST", "/rota", "manager"),
    ("POST", "/rota/swaps", "staff"),
    ("POST", "/rota/calendar", "staff"),
    ("GET", "/rota/calendar/{file}", "anyone"),
    ("GET", "/rota/triage-reviews", "staff"),
    ("POST", "/rota/triage-reviews", "staff"),
    ("GET", "/api/v1/rota", "staff"),
    ("POST", "/api/v1/rota", "manager"),
    ("POST", "/api/v1/rota/swaps", "staff"),
    ("GET", "/reports", "staff"),
    ("GET", "/reports/links", "staff"),
    ("GET", "/reports/gaps", "staff"),
    ("GET", "/reports/models", "staff"),
    ("GET", "/reports/resolution", "staff"),
    ("GET", "/reports/triage", "staff"),
    ("GET", "/reports/exclusions", "staff"),
    ("POST", "/reports/exclusions", "staff"),
    ("POST", "/reports/exclusions/{id}/include", "staff"),
    ("GET", "/reports/draft/{id}", "staff"),
    ("POST", "/reports/draft/{id}", "staff"),
    ("GET", "/reports/export/{table}", "staff"),
    ("GET", "/api/v1/reports/{table}", "staff"),
    ("GET", "/api/v1/reports/{table}/csv", "staff"),
    ("POST", "/tickets/{id}/edit", "staff"),
    ("POST", "/tickets/{id}/steps", "staff"),
    ("GET", "/admin/users", "admin"),
    ("POST", "/admin/users", "admin"),
    ("GET", "/admin/users/{id}", "admin"),
    ("POST", "/admin/users/{id}/role", "admin"),
    ("POST", "/admin/users/{id}/disable", "admin"),
    ("POST", "/admin/users/{id}/enable", "admin"),
    ("POST", "/admin/users/{id}/password", "admin"),
    ("GET", "/admin/organizations", "admin"),
    ("POST", "/admin/organizations", "admin"),
    ("GET", "/admin/audit", "admin"),
    ("GET", "/admin/categories", "admin"),
    ("POST", "/admin/categories", "admin"),
    ("POST", "/admin/categories/{id}/remove", "admin"),
    ("GET", "/admin/integrations", "admin"),
    ("POST", "/admin/integrations", "admin"),
    ("GET", "/admin/integrations/{id}", "admin"),
    ("POST", "/admin/integrations/{id}", "admin"),
    ("POST", "/admin/integrations/{id}/revoke", "admin"),
    // Alert sources only (tests/alerts.rs covers the integration token):
    // no person, whatever their role or token.
    ("POST", "/api/v1/alerts/alertmanager", "integration"),
    ("POST", "/api/v1/alerts/generic", "integration"),
    ("GET", "/api/v1/alerts/deliveries/{id}", "integration"),
    ("GET", "/api/v1/me", "signed-in"),
    ("GET", "/api/v1/models", "signed-in"),
    ("POST", "/api/v1/models", "staff"),
    ("POST", "/api/v1/models/text", "staff"),
    ("GET", "/api/v1/models/{key}", "signed-in"),
    ("PUT", "/api/v1/models/{key}", "staff"),
    ("GET", "/api/v1/models/{key}/revisions", "signed-in"),
    (
        "GET",
        "/api/v1/models/{key}/revisions/{number}",
        "signed-in",
    ),
    ("GET", "/api/v1/tickets", "signed-in"),
    ("POST", "/api/v1/tickets", "signed-in"),
    ("GET", "/api/v1/tickets/{id}", "signed-in"),
    ("GET", "/api/v1/tickets/{id}/events", "signed-in"),
    ("POST", "/api/v1/tickets/{id}/entries", "signed-in"),
    ("GET", "/api/v1/tickets/{id}/attachments", "signed-in"),
    ("POST", "/api/v1/tickets/{id}/attachments", "signed-in"),
    (
        "GET",
        "/api/v1/tickets/{id}/attachments/{attachment}",
        "signed-in",
    ),
    ("POST", "/api/v1/tickets/{id}/status", "staff"),
    ("POST", "/api/v1/tickets/{id}/assign", "staff"),
    ("POST", "/api/v1/tickets/{id}/models", "staff"),
    ("POST", "/api/v1/tickets/{id}/models/unlink", "staff"),
    ("POST", "/api/v1/tickets/{id}/escalations", "staff"),
    ("POST", "/api/v1/tickets/{id}/duplicate", "staff"),
    ("POST", "/api/v1/tickets/{id}/fields", "staff"),
    ("POST", "/api/v1/tickets/{id}/steps", "staff"),
];

fn allowed(rule: &str, role: Option<Role>) -> bool {
    match (rule, role) {
        ("anyone", _) => true,
        ("integration", _) => false,
        (_, None) => false,
        ("signed-in", Some(_)) => true,
        ("staff", Some(r)) => r != Role::Customer,
        ("manager", Some(r)) => matches!(r, Role::Manager | Role::Admin),
        ("admin", Some(r)) => r == Role::Admin,
        (other, _) => panic!("unknown rule {other}"),
    }
}

/// The three shapes a refusal by the access check takes.
fn denied(res: &TestResponse) -> bool {
    (res.status == 303
        && res
            .location()
            .is_some_and(|l| l.starts_with("/login?next=")))
        || (res.status == 403 && res.body.contains("you do not have access"))
        || (res.status == 401 && res.body.contains("authentication required"))
}

#[test]
fn every_route_has_an_expected_decision_and_every_expectation_a_route() {
    let table: BTreeSet<(String, &str)> = route_list()
        .into_iter()
        .map(|r| (r.method.to_string(), r.path))
        .collect();
    let expected: BTreeSet<(String, &str)> = EXPECTED
        .iter()
        .map(|(m, p, _)| ((*m).to_owned(), *p))
        .collect();
    let missing: Vec<_> = table.difference(&expected).collect();
    let stale: Vec<_> = expected.difference(&table).collect();
    assert!(
        missing.is_empty(),
        "routes without an expected decision in EXPECTED: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "EXPECTED names routes that are not in the table: {stale:?}"
    );
}

#[actix_web::test]
async fn every_route_allows_and_denies_exactly_the_expected_roles() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let target = fixtures::user().create(&mut conn).await;
    casebook::commands::demo(&mut conn).await.unwrap();
    let requester = fixtures::user()
        .role(Role::Customer)
        .org(&acme)
        .create(&mut conn)
        .await;
    let ticket = casebook::tickets::open(
        &mut conn,
        &requester.viewer(),
        casebook::tickets::OpenTicket {
            title: "Matrix",
            description: "",
            priority: "3",
            category: "",
            organization: None,
        },
    )
    .await
    .unwrap()
    .id;
    let mut people: Vec<(Option<Role>, Option<User>, Option<String>)> = vec![(None, None, None)];
    for role in Role::ALL {
        let mut builder = fixtures::user().role(role);
        if role == Role::Customer {
            builder = builder.org(&acme);
        }
        let user = builder.create(&mut conn).await;
        let browser = app.sign_in(&user).await;
        // An API token for this role, for the API routes.
        let created = app
            .post_as(&browser, "/account/tokens", &[("name", "matrix")])
            .await;
        let start = created.body.find("cb_").unwrap();
        let token = created.body[start..start + 67].to_owned();
        people.push((Some(role), Some(user), Some(token)));
    }

    let mut failures = Vec::new();
    for (method, path, rule) in EXPECTED {
        let concrete = path
            .replace("{path:.*}", "css/app.css")
            // Revoking someone's real token would spoil the API rows below.
            .replace("tokens/{id}", "tokens/999999")
            // A ticket of the customer's own organization.
            .replace("tickets/{id}", &format!("tickets/{ticket}"))
            .replace("reports/draft/{id}", &format!("reports/draft/{ticket}"))
            .replace("{id}", &target.id.to_string())
            .replace("{key}", "website-502")
            .replace("{file}", "cal_unknown.ics")
            .replace("{number}", "1")
            .replace("{table}", "models")
            + if path.ends_with("/diff") {
                "?from=1&to=1"
            } else {
                ""
            };
        for (role, user, token) in &people {
            // A fresh session each time: some routes (sign out, password)
            // end the one they are called with.
            let browser: Browser = match user {
                Some(user) => app.sign_in(user).await,
                None => app.anonymous(),
            };
            let browser = &browser;
            let res = if concrete.ends_with("/events") {
                // The shared stream names its tickets.
                let uri = if concrete == "/events" {
                    format!("/events?tickets={ticket}:0")
                } else {
                    concrete.clone()
                };
                let mut req = TestRequest::get().uri(&uri);
                match token {
                    Some(token) if concrete.starts_with("/api/") => {
                        req = req.insert_header(("Authorization", format!("Bearer {token}")));
                    }
                    _ => req = browser.with_cookies(req),
                }
                app.head_of(req).await
            } else if concrete.starts_with("/api/") {
                let mut req = match *method {
                    "GET" => TestRequest::get(),
                    "PUT" => TestRequest::put(),
                    _ => TestRequest::post(),
                }
                .uri(&concrete);
                if let Some(token) = token {
                    req = req.insert_header(("Authorization", format!("Bearer {token}")));
                }
                app.call(req).await
            } else if *method == "GET" {
                app.get_as(browser, &concrete).await
            } else {
                app.post_as(browser, &concrete, &[]).await
            };
            let want = allowed(rule, *role);
            if denied(&res) == want {
                failures.push(format!(
                    "{method} {path} as {role:?}: expected {}, got {} {:?} {}",
                    if want { "allowed" } else { "denied" },
                    res.status,
                    res.location(),
                    res.body.chars().take(200).collect::<String>()
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
