//! The app's skeleton: pages through the base layout, static files, health
//! and readiness, and the error page.

use crate::support::{TestApp, TestDb};

#[actix_web::test]
async fn home_page_renders_through_the_base_layout() {
    let app = TestApp::new().await;
    let res = app.get("/").await;
    assert_eq!(res.status, 200);
    assert!(
        res.header("content-type")
            .unwrap_or_default()
            .starts_with("text/html")
    );
    assert!(
        res.body.contains("<title>Home · Casebook</title>"),
        "{}",
        res.body
    );
    assert!(res.body.contains(r#"href="/static/css/app.css""#));
    assert!(res.body.contains("Incident models"));
}

#[actix_web::test]
async fn static_files_are_served_with_their_type() {
    let app = TestApp::new().await;
    let css = app.get("/static/css/app.css").await;
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.body.contains(":focus-visible"));
    assert_eq!(app.get("/static/css/missing.css").await.status, 404);
    assert_eq!(app.get("/static/../Cargo.toml").await.status, 404);
}

#[actix_web::test]
async fn unknown_addresses_get_the_not_found_page() {
    let app = TestApp::new().await;
    let res = app.get("/no/such/page").await;
    assert_eq!(res.status, 404);
    assert!(res.body.contains("Not found"), "{}", res.body);
    assert!(res.body.contains("<title>Not found · Casebook</title>"));
}

#[actix_web::test]
async fn healthz_answers_while_the_process_is_up() {
    let app = TestApp::new().await;
    let res = app.get("/healthz").await;
    assert_eq!(res.status, 200);
    assert!(res.body.contains(r#""status":"ok""#));
}

#[actix_web::test]
async fn readyz_is_ready_when_migrations_are_current() {
    let app = TestApp::new().await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status, 200, "{}", res.body);
    assert!(res.body.contains(r#""status":"ready""#));
}

#[actix_web::test]
async fn readyz_is_not_ready_on_an_unmigrated_database() {
    let app = TestApp::on(TestDb::empty().await);
    let res = app.get("/readyz").await;
    assert_eq!(res.status, 503, "{}", res.body);
    assert!(res.body.contains("not ready"), "{}", res.body);
}

#[actix_web::test]
async fn readyz_names_a_pending_migration() {
    let app = TestApp::new().await;
    let mut conn = app.db.conn().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(
            "DELETE FROM __diesel_schema_migrations WHERE version = (SELECT max(version) FROM __diesel_schema_migrations)",
        ),
        &mut conn,
    )
    .await
    .unwrap();
    let res = app.get("/readyz").await;
    assert_eq!(res.status, 503, "{}", res.body);
    assert!(res.body.contains("migrations pending"), "{}", res.body);
}

#[actix_web::test]
async fn readyz_is_not_ready_when_the_database_is_unreachable() {
    let db = TestDb::new().await;
    let mut app = TestApp::on(db);
    app.state.pool = casebook::db::pool("postgres://postgres@127.0.0.1:1/nothing", 1).unwrap();
    let res = app.get("/readyz").await;
    assert_eq!(res.status, 503, "{}", res.body);
    assert!(res.body.contains("database unreachable"), "{}", res.body);
}
