//! The first admin: a one-time setup link, refused without its token, gone
//! once an admin exists.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use casebook::db::schema::users;
use casebook::domain::account::Role;

use crate::support::TestApp;
use crate::support::fixtures;

/// The token `serve` would print: announce() prints it; here it is read
/// back by replacing it with a known one.
async fn known_setup_token(app: &TestApp) -> String {
    casebook::web::setup::announce(&app.state.pool, "http://test")
        .await
        .unwrap();
    let token = casebook::secrets::new_token("").unwrap();
    let mut conn = app.conn().await;
    casebook::db::sessions::replace_setup_token(&mut conn, &casebook::secrets::hash_token(&token))
        .await
        .unwrap();
    token
}

#[actix_web::test]
async fn the_setup_page_needs_the_printed_token() {
    let app = TestApp::new().await;
    let token = known_setup_token(&app).await;
    assert_eq!(app.get("/setup").await.status, 401);
    let wrong = app.get("/setup?token=guess").await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("printed on its console"));
    let right = app.get(&format!("/setup?token={token}")).await;
    assert_eq!(right.status, 200);
    assert!(right.body.contains("Create the first admin"));
}

#[actix_web::test]
async fn the_first_admin_is_created_once_and_the_page_disappears() {
    let app = TestApp::new().await;
    let token = known_setup_token(&app).await;
    let browser = app.anonymous();
    let mismatch = app
        .post_as(
            &browser,
            "/setup",
            &[
                ("token", &token),
                ("email", "root@example.com"),
                ("display_name", "Root"),
                ("password", "long enough pw"),
                ("password_confirm", "different pw!"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, 422);
    assert!(mismatch.body.contains("does not match"));

    let res = app
        .post_as(
            &browser,
            "/setup",
            &[
                ("token", &token),
                ("email", "root@example.com"),
                ("display_name", "Root"),
                ("password", "long enough pw"),
                ("password_confirm", "long enough pw"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    assert!(
        res.set_cookie("casebook_session").is_some(),
        "not signed in after setup"
    );
    let mut conn = app.conn().await;
    let roles: Vec<String> = users::table
        .select(users::role)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(roles, vec!["admin"]);

    // Gone: the page says so and leads to signing in; a replay of the
    // same form is refused.
    let reused = app.get(&format!("/setup?token={token}")).await;
    assert_eq!(reused.status, 303);
    assert_eq!(reused.location(), Some("/login?notice=setup-used"));
    let login = app.get("/login?notice=setup-used").await;
    assert!(
        login.body.contains("This setup link was already used"),
        "{}",
        login.body
    );
    let replay = app
        .post_as(
            &browser,
            "/setup",
            &[
                ("token", &token),
                ("email", "second@example.com"),
                ("display_name", "Second"),
                ("password", "long enough pw"),
                ("password_confirm", "long enough pw"),
            ],
        )
        .await;
    assert_eq!(replay.status, 404);
    assert_eq!(
        users::table
            .count()
            .get_result::<i64>(&mut conn)
            .await
            .unwrap(),
        1
    );
}

#[actix_web::test]
async fn with_an_admin_present_no_setup_token_is_issued() {
    let app = TestApp::new().await;
    let mut conn = app.conn().await;
    fixtures::user().role(Role::Admin).create(&mut conn).await;
    casebook::web::setup::announce(&app.state.pool, "http://test")
        .await
        .unwrap();
    assert_eq!(
        casebook::db::sessions::setup_token_hash(&mut conn)
            .await
            .unwrap(),
        None
    );
    assert_eq!(app.get("/setup?token=anything").await.status, 303);
}
