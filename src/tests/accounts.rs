//! Accounts: sign-in and sessions, rate limits, the first admin, API tokens,
//! admin pages, the audit log, CSRF and security headers.

use actix_web::test::TestRequest;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use casebook::db::schema::{api_tokens, audit_log, sessions, users};
use casebook::domain::account::Role;

use crate::support::fixtures::{self, PASSWORD};
use crate::support::{Browser, TestApp};

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let mut conn = app.conn().await;
    audit_log::table
        .select(audit_log::action)
        .order(audit_log::id.asc())
        .load(&mut conn)
        .await
        .unwrap()
}

async fn session_count(app: &TestApp, user_id: i64) -> i64 {
    let mut conn = app.conn().await;
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

async fn login(app: &TestApp, email: &str, password: &str) -> crate::support::TestResponse {
    let browser = app.anonymous();
    app.post_as(
        &browser,
        "/login",
        &[
            ("email", email),
            ("password", password),
            ("next", "/account"),
        ],
    )
    .await
}

#[actix_web::test]
async fn signing_in_sets_a_safe_session_cookie_and_is_audited() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let user = fixtures::user()
        .email("ana@example.com")
        .create(&mut conn)
        .await;

    let res = login(&app, "ANA@example.com", PASSWORD).await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.location(), Some("/account"));
    let raw = res
        .headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("casebook_session="))
        .unwrap()
        .to_owned();
    assert!(
        raw.contains("HttpOnly") && raw.contains("SameSite=Lax") && raw.contains("Path=/"),
        "{raw}"
    );
    assert!(
        !raw.contains("Secure"),
        "Secure without TLS configured: {raw}"
    );

    let browser = Browser {
        session: res.set_cookie("casebook_session"),
        csrf: app.anonymous().csrf,
    };
    let page = app.get_as(&browser, "/account").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("ana@example.com"));
    assert_eq!(session_count(&app, user.id).await, 1);
    assert_eq!(audit_actions(&app).await, vec!["login"]);
}

#[actix_web::test]
async fn secure_cookies_when_configured_for_tls() {
    let mut app = TestApp::new().await;
    let mut config = (*app.state.config).clone();
    config.secure_cookies = true;
    app.state.config = std::sync::Arc::new(config);
    let mut conn = app.conn().await;
    let user = fixtures::user().create(&mut conn).await;
    let res = login(&app, &user.email, PASSWORD).await;
    let raw: Vec<&str> = res
        .headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(
        raw.iter()
            .any(|c| c.starts_with("casebook_session=") && c.contains("Secure")),
        "{raw:?}"
    );
}

#[actix_web::test]
async fn a_failed_sign_in_never_reveals_whether_the_email_exists() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let user = fixtures::user().create(&mut conn).await;
    let wrong_password = login(&app, &user.email, "not the password").await;
    let unknown_email = login(&app, "nobody@example.com", "not the password").await;
    assert_eq!(wrong_password.status, 401);
    assert_eq!(unknown_email.status, 401);
    for res in [&wrong_password, &unknown_email] {
        assert!(
            res.body.contains("Email or password is wrong."),
            "{}",
            res.body
        );
        assert!(res.set_cookie("casebook_session").is_none());
    }
    assert_eq!(
        audit_actions(&app).await,
        vec!["login.failed", "login.failed"]
    );
    assert_eq!(session_count(&app, user.id).await, 0);
}

#[actix_web::test]
async fn a_disabled_user_cannot_sign_in() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let user = fixtures::user().disabled().create(&mut conn).await;
    let res = login(&app, &user.email, PASSWORD).await;
    assert_eq!(res.status, 401);
    assert!(res.body.contains("Email or password is wrong."));
}

#[actix_web::test]
async fn sign_in_is_rate_limited_per_account() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let user = fixtures::user().create(&mut conn).await;
    for _ in 0..5 {
        assert_eq!(
            login(&app, &user.email, "wrong password!").await.status,
            401
        );
    }
    // Even the right password is refused while the account is locked.
    let res = login(&app, &user.email, PASSWORD).await;
    assert_eq!(res.status, 429, "{}", res.body);
    assert!(res.body.contains("Too many failed sign-ins"));
    // The same answer for an email that does not exist.
    for _ in 0..5 {
        login(&app, "ghost@example.com", "wrong password!").await;
    }
    assert_eq!(
        login(&app, "ghost@example.com", "wrong password!")
            .await
            .status,
        429
    );
    // Another account is not affected.
    let other = fixtures::user().create(&mut conn).await;
    assert_eq!(login(&app, &other.email, PASSWORD).await.status, 303);
}

#[actix_web::test]
async fn sign_in_is_rate_limited_per_client_address() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let user = fixtures::user().create(&mut conn).await;
    let browser = app.anonymous();
    let attempt = |email: String, password: &'static str| {
        let browser = browser.clone();
        let app = &app;
        async move {
            app.call(
                browser.with_cookies(
                    TestRequest::post()
                        .uri("/login")
                        .peer_addr("203.0.113.9:5000".parse().unwrap())
                        .set_form([
                            ("email", email.as_str()),
                            ("password", password),
                            ("csrf_token", &browser.csrf),
                        ]),
                ),
            )
            .await
        }
    };
    for n in 0..20 {
        assert_eq!(
            attempt(format!("spray{n}@example.com"), "wrong password!")
                .await
                .status,
            401
        );
    }
    assert_eq!(attempt(user.email.clone(), PASSWORD).await.status, 429);
    // From another address the account still works.
    assert_eq!(login(&app, &user.email, PASSWORD).await.status, 303);
}

#[actix_web::test]
async fn logout_ends_the_session() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let user = fixtures::user().create(&mut conn).await;
    let browser = app.sign_in(&user).await;
    assert_eq!(app.get_as(&browser, "/account").await.status, 200);
    let res = app.post_as(&browser, "/logout", &[]).await;
    assert_eq!(res.status, 303);
    assert_eq!(res.location(), Some("/login?notice=signed-out"));
    let after = app.get_as(&browser, "/account").await;
    assert_eq!(after.status, 303);
    assert_eq!(after.location(), Some("/login?next=/account"));
    assert_eq!(session_count(&app, user.id).await, 0);
}

#[actix_web::test]
async fn changing_the_password_ends_every_session() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let user = fixtures::user().create(&mut conn).await;
    let here = app.sign_in(&user).await;
    let elsewhere = app.sign_in(&user).await;

    let wrong = app
        .post_as(
            &here,
            "/account/password",
            &[
                ("current", "nope nope nope"),
                ("password", "a brand new secret"),
                ("password_confirm", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 422);
    assert!(wrong.body.contains("is not your current password"));
    let short = app
        .post_as(
            &here,
            "/account/password",
            &[
                ("current", PASSWORD),
                ("password", "short"),
                ("password_confirm", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, 422);
    assert!(short.body.contains("at least 10 characters"));
    assert_eq!(
        session_count(&app, user.id).await,
        2,
        "a refused change ended sessions"
    );

    let res = app
        .post_as(
            &here,
            "/account/password",
            &[
                ("current", PASSWORD),
                ("password", "a brand new secret"),
                ("password_confirm", "a brand new secret"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(session_count(&app, user.id).await, 0);
    assert_eq!(app.get_as(&elsewhere, "/account").await.status, 303);
    assert_eq!(login(&app, &user.email, PASSWORD).await.status, 401);
    assert_eq!(
        login(&app, &user.email, "a brand new secret").await.status,
        303
    );
}

#[actix_web::test]
async fn disabling_a_user_ends_their_session_on_the_next_request() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    let engineer = fixtures::user().create(&mut conn).await;
    let admin_browser = app.sign_in(&admin).await;
    let engineer_browser = app.sign_in(&engineer).await;
    assert_eq!(app.get_as(&engineer_browser, "/account").await.status, 200);

    let res = app
        .post_as(
            &admin_browser,
            &format!("/admin/users/{}/disable", engineer.id),
            &[],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(app.get_as(&engineer_browser, "/account").await.status, 303);
    assert!(
        audit_actions(&app)
            .await
            .contains(&"user.disabled".to_owned())
    );

    let enabled = app
        .post_as(
            &admin_browser,
            &format!("/admin/users/{}/enable", engineer.id),
            &[],
        )
        .await;
    assert_eq!(enabled.status, 303);
    assert_eq!(login(&app, &engineer.email, PASSWORD).await.status, 303);
}

#[actix_web::test]
async fn the_last_admin_cannot_be_demoted_or_disabled() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    let browser = app.sign_in(&admin).await;
    let demote = app
        .post_as(
            &browser,
            &format!("/admin/users/{}/role", admin.id),
            &[("role", "engineer"), ("organization", "")],
        )
        .await;
    assert_eq!(demote.status, 422);
    assert!(demote.body.contains("last enabled admin"));
    let disable = app
        .post_as(&browser, &format!("/admin/users/{}/disable", admin.id), &[])
        .await;
    assert_eq!(disable.status, 422);
    let role: String = users::table
        .find(admin.id)
        .select(users::role)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(role, "admin");
}

#[actix_web::test]
async fn admins_create_users_change_roles_and_reset_passwords() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    let acme = fixtures::organization(&mut conn, "Acme").await;
    let browser = app.sign_in(&admin).await;

    let acme_id = acme.id.to_string();
    let created = app
        .post_as(
            &browser,
            "/admin/users",
            &[
                ("email", "cora@acme.example"),
                ("display_name", "Cora"),
                ("role", "customer"),
                ("organization", &acme_id),
                ("password", "initial password"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let cora: (i64, String, Option<i64>) = users::table
        .filter(users::email.eq("cora@acme.example"))
        .select((users::id, users::role, users::organization_id))
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!((cora.1.as_str(), cora.2), ("customer", Some(acme.id)));
    let page = app
        .get_as(
            &browser,
            &format!("/admin/users/{}?notice=user-created", cora.0),
        )
        .await;
    assert!(page.body.contains("The user was created."));

    let promoted = app
        .post_as(
            &browser,
            &format!("/admin/users/{}/role", cora.0),
            &[("role", "engineer"), ("organization", "")],
        )
        .await;
    assert_eq!(promoted.status, 303);
    let reset = app
        .post_as(
            &browser,
            &format!("/admin/users/{}/password", cora.0),
            &[("password", "reset password 1")],
        )
        .await;
    assert_eq!(reset.status, 303);
    assert_eq!(
        login(&app, "cora@acme.example", "reset password 1")
            .await
            .status,
        303
    );

    let actions = audit_actions(&app).await;
    for wanted in [
        "user.created",
        "user.role_changed",
        "user.password_reset",
        "login",
    ] {
        assert!(
            actions.contains(&wanted.to_owned()),
            "{wanted} missing from {actions:?}"
        );
    }
}

#[actix_web::test]
async fn bad_account_input_gets_a_clear_message_and_changes_nothing() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    let browser = app.sign_in(&admin).await;
    let long = "x".repeat(300);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            vec![
                ("email", ""),
                ("display_name", "A"),
                ("role", "engineer"),
                ("password", "long enough pw"),
            ],
            "enter an email address",
        ),
        (
            vec![
                ("email", "not-an-email"),
                ("display_name", "A"),
                ("role", "engineer"),
                ("password", "long enough pw"),
            ],
            "is not an email address",
        ),
        (
            vec![
                ("email", "a@b.example"),
                ("display_name", "  "),
                ("role", "engineer"),
                ("password", "long enough pw"),
            ],
            "must not be empty",
        ),
        (
            vec![
                ("email", "a@b.example"),
                ("display_name", &long),
                ("role", "engineer"),
                ("password", "long enough pw"),
            ],
            "at most 120 characters",
        ),
        (
            vec![
                ("email", "a@b.example"),
                ("display_name", "A"),
                ("role", "root"),
                ("password", "long enough pw"),
            ],
            "unknown role",
        ),
        (
            vec![
                ("email", "a@b.example"),
                ("display_name", "A"),
                ("role", "engineer"),
                ("password", "short"),
            ],
            "at least 10 characters",
        ),
        (
            vec![
                ("email", "a@b.example"),
                ("display_name", "A"),
                ("role", "customer"),
                ("password", "long enough pw"),
            ],
            "a customer must belong to an organization",
        ),
        (
            vec![
                ("email", "a@b.example"),
                ("display_name", "A"),
                ("role", "engineer"),
                ("organization", "99999"),
                ("password", "long enough pw"),
            ],
            "does not exist",
        ),
        (
            vec![
                ("email", &admin.email),
                ("display_name", "A"),
                ("role", "engineer"),
                ("password", "long enough pw"),
            ],
            "is already registered",
        ),
        (
            // No default role: it must be chosen.
            vec![
                ("email", "nobody@example.com"),
                ("display_name", "A"),
                ("password", "long enough pw"),
            ],
            r#"<p class="field-error" id="role-error">choose the person"#,
        ),
    ];
    let form = app.get_as(&browser, "/admin/users").await;
    assert!(
        form.body
            .contains(r#"<option value="" selected>— choose a role —</option>"#),
        "the add-user form must not preselect a role"
    );
    for (fields, message) in cases {
        let res = app.post_as(&browser, "/admin/users", &fields).await;
        assert_eq!(res.status, 422, "{fields:?}: {}", res.body);
        assert!(
            res.body.contains(message),
            "{fields:?} should say {message:?}"
        );
    }
    let count: i64 = users::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(count, 1, "a refused form created a user");

    // A body that is not a form at all.
    let json = app
        .call(
            browser.with_cookies(
                TestRequest::post()
                    .uri("/admin/users")
                    .insert_header(("content-type", "application/json"))
                    .set_payload(r#"{"email":"x@y.z"}"#),
            ),
        )
        .await;
    assert_eq!(json.status, 415);
    assert!(json.body.contains("application/x-www-form-urlencoded"));
    // A form whose fields cannot be read.
    let garbled = app
        .call(
            browser.with_cookies(
                TestRequest::post()
                    .uri("/admin/users")
                    .insert_header(("content-type", "application/x-www-form-urlencoded"))
                    .set_payload(format!("csrf_token={}&email=%ZZ", browser.csrf)),
            ),
        )
        .await;
    assert!(
        garbled.status == 400 || garbled.status == 422,
        "{}",
        garbled.status
    );
}

#[actix_web::test]
async fn a_cross_site_post_is_refused() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    let browser = app.sign_in(&admin).await;
    let form = [
        ("email", "evil@example.com"),
        ("display_name", "Evil"),
        ("role", "admin"),
        ("password", "long enough pw"),
    ];

    // What another site's page can send: the browser attaches the session
    // cookie but the page cannot know the CSRF token.
    let forged = app
        .call(
            Browser {
                session: browser.session.clone(),
                csrf: String::new(),
            }
            .with_cookies(TestRequest::post().uri("/admin/users").set_form(form))
            .insert_header(("origin", "https://evil.example")),
        )
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
    assert!(forged.body.contains("came from another site"));
    // A guessed token, sent from another origin.
    let mut with_token = form.to_vec();
    with_token.push(("csrf_token", &browser.csrf));
    let other_origin = app
        .call(
            browser
                .with_cookies(
                    TestRequest::post()
                        .uri("/admin/users")
                        .set_form(with_token.clone()),
                )
                .insert_header(("origin", "https://evil.example")),
        )
        .await;
    assert_eq!(other_origin.status, 403);
    // A wrong token from no origin.
    let mut wrong = form.to_vec();
    wrong.push(("csrf_token", "0000"));
    let wrong_token = app
        .call(browser.with_cookies(TestRequest::post().uri("/admin/users").set_form(wrong)))
        .await;
    assert_eq!(wrong_token.status, 403);
    let count: i64 = users::table.count().get_result(&mut conn).await.unwrap();
    assert_eq!(count, 1);
    // The same form from this site goes through.
    let ok = app.post_as(&browser, "/admin/users", &form).await;
    assert_eq!(ok.status, 303, "{}", ok.body);
}

#[actix_web::test]
async fn pages_hand_out_a_csrf_cookie_and_put_it_in_their_forms() {
    let app = TestApp::new().await;
    let res = app.get("/login").await;
    let token = res.set_cookie("casebook_csrf").unwrap();
    assert_eq!(token.len(), 64);
    assert!(
        res.body
            .contains(&format!(r#"name="csrf_token" value="{token}""#))
    );
    let raw: Vec<&str> = res
        .headers
        .get_all("set-cookie")
        .filter_map(|v| v.to_str().ok())
        .collect();
    assert!(raw.iter().any(|c| c.contains("casebook_csrf")
        && c.contains("SameSite=Strict")
        && c.contains("HttpOnly")));
}

#[actix_web::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::new().await;
    for path in [
        "/",
        "/login",
        "/static/css/app.css",
        "/nowhere",
        "/healthz",
        "/admin/users",
    ] {
        let res = app.get(path).await;
        let csp = res.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{path}: {csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(
            res.header("x-content-type-options"),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(res.header("referrer-policy"), Some("same-origin"), "{path}");
    }
}

#[actix_web::test]
async fn api_tokens_are_shown_once_stored_hashed_and_revocable() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let user = fixtures::user().create(&mut conn).await;
    let browser = app.sign_in(&user).await;

    let token = create_token(&app, &browser, "alertmanager").await;
    assert!(token[3..].bytes().all(|b| b.is_ascii_hexdigit()), "{token}");
    let stored: String = api_tokens::table
        .select(api_tokens::token_hash)
        .first(&mut conn)
        .await
        .unwrap();
    assert_ne!(stored, token);
    assert!(!stored.contains(&token[3..]));
    // Never shown again.
    assert!(!app.get_as(&browser, "/account").await.body.contains(&token));

    let me = app.api_get(&token, "/api/v1/me").await;
    assert_eq!(me.status, 200, "{}", me.body);
    let body: serde_json::Value = serde_json::from_str(&me.body).unwrap();
    assert_eq!(body["email"], user.email.as_str());

    let id: i64 = api_tokens::table
        .select(api_tokens::id)
        .first(&mut conn)
        .await
        .unwrap();
    let revoked = app
        .post_as(&browser, &format!("/account/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(revoked.status, 303);
    let refused = app.api_get(&token, "/api/v1/me").await;
    assert_eq!(refused.status, 401);
    assert!(refused.body.contains("unknown or revoked"));
    let actions = audit_actions(&app).await;
    assert!(
        actions.contains(&"token.created".to_owned())
            && actions.contains(&"token.revoked".to_owned())
    );

    // Someone else's token cannot be revoked by id.
    let other = fixtures::user().create(&mut conn).await;
    let other_browser = app.sign_in(&other).await;
    assert_eq!(
        app.post_as(&other_browser, &format!("/account/tokens/{id}/revoke"), &[])
            .await
            .status,
        404
    );
    // A token needs a name.
    let unnamed = app
        .post_as(&browser, "/account/tokens", &[("name", "   ")])
        .await;
    assert_eq!(unnamed.status, 422);
}

#[actix_web::test]
async fn the_api_refuses_malformed_tokens_and_ignores_the_session_cookie() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let user = fixtures::user().create(&mut conn).await;
    for header in [
        "Bearer",
        "Bearer nonsense",
        "Basic dXNlcjpwYXNz",
        &format!("Bearer cb_{}", "g".repeat(64)),
    ] {
        let res = app
            .call(
                TestRequest::get()
                    .uri("/api/v1/me")
                    .insert_header(("Authorization", header)),
            )
            .await;
        assert_eq!(res.status, 401, "{header}");
        assert!(
            res.header("content-type")
                .unwrap_or_default()
                .contains("json")
        );
        assert!(
            res.body.contains("malformed Authorization header"),
            "{header}: {}",
            res.body
        );
    }
    let unknown = app
        .api_get(&format!("cb_{}", "ab".repeat(32)), "/api/v1/me")
        .await;
    assert_eq!(unknown.status, 401);
    let browser = app.sign_in(&user).await;
    let with_cookie = app.get_as(&browser, "/api/v1/me").await;
    assert_eq!(with_cookie.status, 401, "the API accepted a session cookie");
}

#[actix_web::test]
async fn the_audit_log_pages_newest_first() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    for n in 0..120 {
        casebook::db::audit::record(
            &mut conn,
            casebook::db::audit::Event {
                actor: None,
                action: "test.event",
                subject: format!("event-{n:03}"),
                client_addr: None,
                detail: serde_json::json!({}),
            },
        )
        .await
        .unwrap();
    }
    let browser = app.sign_in(&admin).await;
    let first = app.get_as(&browser, "/admin/audit").await;
    assert_eq!(first.status, 200);
    assert!(first.body.contains("event-119") && !first.body.contains("event-069"));
    assert!(first.body.contains("Page 1 of 3") && first.body.contains("page=2"));
    let third = app.get_as(&browser, "/admin/audit?page=3").await;
    assert!(third.body.contains("event-000") && !third.body.contains("event-119"));
    // Out of range is clamped, not an error.
    assert_eq!(
        app.get_as(&browser, "/admin/audit?page=99").await.status,
        200
    );
    assert_eq!(
        app.get_as(&browser, "/admin/audit?page=abc").await.status,
        400
    );
}

#[actix_web::test]
async fn organizations_are_created_by_admins_with_unique_names() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let admin = fixtures::user().role(Role::Admin).create(&mut conn).await;
    let browser = app.sign_in(&admin).await;
    assert_eq!(
        app.post_as(&browser, "/admin/organizations", &[("name", "Acme")])
            .await
            .status,
        303
    );
    let dup = app
        .post_as(&browser, "/admin/organizations", &[("name", "ACME")])
        .await;
    assert_eq!(dup.status, 422);
    assert!(dup.body.contains("is already taken"));
    let list = app.get_as(&browser, "/admin/organizations").await;
    assert!(list.body.contains("Acme"));
}

async fn stored_zone(app: &TestApp, user_id: i64) -> Option<String> {
    let mut conn = app.conn().await;
    users::table
        .find(user_id)
        .select(users::time_zone)
        .first(&mut conn)
        .await
        .unwrap()
}

/// One's time zone is an IANA name chosen on the account page (the
/// instance's default until then); a name that is no zone is refused with
/// the form again and changes nothing; an empty field goes back to the
/// default.
#[actix_web::test]
async fn a_person_chooses_their_time_zone_and_a_bad_name_changes_nothing() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let user = fixtures::user()
        .role(Role::Engineer)
        .create(&mut conn)
        .await;
    let browser = app.sign_in(&user).await;
    let page = app.get_as(&browser, "/account").await;
    assert!(page.body.contains("in UTC: it is"), "{}", page.body);
    assert!(page.body.contains("<option value=\"Europe/Berlin\">"));

    let res = app
        .post_as(
            &browser,
            "/account/time-zone",
            &[("time_zone", "Europe/Berlin")],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert_eq!(res.location(), Some("/account?notice=time-zone-saved"));
    assert_eq!(
        stored_zone(&app, user.id).await.as_deref(),
        Some("Europe/Berlin")
    );
    let page = app.get_as(&browser, "/account").await;
    assert!(
        page.body.contains("in Europe/Berlin: it is"),
        "{}",
        page.body
    );
    assert!(
        audit_actions(&app)
            .await
            .contains(&"time_zone.changed".to_owned())
    );

    for bad in ["Europe/Atlantis", "+02:00", "<b>x</b>"] {
        let res = app
            .post_as(&browser, "/account/time-zone", &[("time_zone", bad)])
            .await;
        assert_eq!(res.status, 422, "{bad}");
        assert!(
            res.body.contains("id=\"time_zone-error\""),
            "{bad}: {}",
            res.body
        );
        assert!(!res.body.contains("<b>x</b>"), "the typed text is escaped");
        assert_eq!(
            stored_zone(&app, user.id).await.as_deref(),
            Some("Europe/Berlin"),
            "{bad} changed nothing"
        );
    }

    // Letter case is forgiven and the stored name is the database's.
    app.post_as(
        &browser,
        "/account/time-zone",
        &[("time_zone", "asia/kolkata")],
    )
    .await;
    assert_eq!(
        stored_zone(&app, user.id).await.as_deref(),
        Some("Asia/Kolkata")
    );
    app.post_as(&browser, "/account/time-zone", &[("time_zone", "")])
        .await;
    assert_eq!(stored_zone(&app, user.id).await, None);
}

#[actix_web::test]
async fn a_tokens_use_is_noted_at_most_once_a_minute() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    let user = fixtures::user().create(&mut conn).await;
    let browser = app.sign_in(&user).await;
    let token = create_token(&app, &browser, "script").await;
    assert_eq!(last_used(&mut conn).await.unwrap(), None);

    assert_eq!(app.api_get(&token, "/api/v1/me").await.status, 200);
    let first = last_used(&mut conn)
        .await
        .unwrap()
        .expect("the first use is noted");
    // Used again within the minute: the row is not written again.
    assert_eq!(app.api_get(&token, "/api/v1/me").await.status, 200);
    assert_eq!(last_used(&mut conn).await.unwrap(), Some(first));

    // A use more than a minute after the last noted one is noted.
    let earlier = first - chrono::Duration::seconds(90);
    diesel::update(api_tokens::table)
        .set(api_tokens::last_used_at.eq(earlier))
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(app.api_get(&token, "/api/v1/me").await.status, 200);
    let noted = last_used(&mut conn).await.unwrap().unwrap();
    assert!(
        noted > earlier + chrono::Duration::seconds(60),
        "{noted} vs {earlier}"
    );
}

/// The "last used" noted on the (only) API token.
async fn last_used(
    conn: &mut diesel_async::AsyncPgConnection,
) -> QueryResult<Option<chrono::DateTime<chrono::Utc>>> {
    api_tokens::table
        .select(api_tokens::last_used_at)
        .first(conn)
        .await
}

/// Creates an API token named `name` from the account page and reads it
/// off the page (the only time it is shown).
async fn create_token(app: &TestApp, browser: &Browser, name: &str) -> String {
    let created = app
        .post_as(browser, "/account/tokens", &[("name", name)])
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let start = created.body.find("cb_").unwrap();
    created.body[start..start + 67].to_owned()
}
