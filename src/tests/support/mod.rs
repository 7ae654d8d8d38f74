//! Test support: the test database server, one fresh database per test, the
//! app under test, and helpers for driving the `casebook` binary.
//!
//! By default the harness starts a private throwaway cluster with the same
//! code as the embedded default (`db::cluster`); `TEST_DATABASE_URL` points it
//! at an existing server instead (any database on it; the harness creates
//! its own).

pub mod browser;
pub mod fixtures;
pub mod process;
pub mod smtp;

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use actix_web::test;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use nix::sys::signal::Signal;
use nix::unistd::Pid;

use actix_web::cookie::Cookie;
use chrono::{Duration, Utc};

use casebook::app::{self, AppState};
use casebook::config::Config;
use casebook::db::cluster::{self, Cluster, Layout, Options};
use casebook::db::sessions;
use casebook::db::users::User;
use casebook::db::{self, quote_ident};
use casebook::domain::account::UserId;
use casebook::secrets::{hash_token, new_token};

/// The server every test database lives on.
struct TestServer {
    /// Connection string with `{db}` where the database name goes.
    url_pattern: String,
    template: String,
}

static SERVER: OnceLock<TestServer> = OnceLock::new();
static NEXT_DB: AtomicU32 = AtomicU32::new(0);

fn prefix() -> String {
    format!("cbtest_{}", std::process::id())
}

fn server() -> &'static TestServer {
    SERVER.get_or_init(|| {
        // Set up on a thread of its own: the tests' runtimes come and go.
        std::thread::spawn(|| {
            let url_pattern = match std::env::var("TEST_DATABASE_URL") {
                Ok(url) if !url.trim().is_empty() => casebook::db::with_dbname(&url, "{db}"),
                _ => start_private_cluster(),
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap();
            let template = format!("{}_template", prefix());
            runtime.block_on(async {
                let mut admin = db::connect(&url_pattern.replace("{db}", "postgres"))
                    .await
                    .unwrap_or_else(|e| panic!("test database server: {e}"));
                drop_leftovers(&mut admin).await;
                diesel::sql_query(format!("CREATE DATABASE {}", quote_ident(&template)))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                db::migrate(&url_pattern.replace("{db}", &template), db::MIGRATIONS)
                    .await
                    .unwrap();
            });
            TestServer {
                url_pattern,
                template,
            }
        })
        .join()
        .expect("test database server set-up failed")
    })
}

/// Starts the throwaway cluster on a thread that lives as long as the test
/// process, so the parent-death signal stops the server when the run ends.
fn start_private_cluster() -> String {
    remove_stale_cluster_dirs();
    let dir = std::env::temp_dir().join(format!("casebook-test-{}", std::process::id()));
    let layout = Layout::in_data_dir(&dir);
    let (tx, rx) = std::sync::mpsc::channel();
    let options = Options {
        layout: layout.clone(),
        bin_dir: std::env::var_os("CASEBOOK_PG_BIN_DIR").map(Into::into),
        on_parent_death: Some(Signal::SIGQUIT),
        throwaway: true,
        share_running: false,
    };
    std::thread::spawn(move || match Cluster::start(&options) {
        Ok(_cluster) => {
            tx.send(Ok(())).unwrap();
            // Keep the cluster (and this thread) until the process ends.
            loop {
                std::thread::park();
            }
        }
        Err(e) => tx.send(Err(e.to_string())).unwrap(),
    });
    rx.recv()
        .unwrap()
        .unwrap_or_else(|e| panic!("private test cluster: {e}"));
    layout.url("{db}")
}

/// Cluster directories of earlier runs whose process is gone.
fn remove_stale_cluster_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("casebook-test-"))
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if !cluster::is_alive(Pid::from_raw(pid)) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Databases left on a shared server by earlier runs that have ended.
async fn drop_leftovers(admin: &mut AsyncPgConnection) {
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        datname: String,
    }
    let names: Vec<Name> = diesel::sql_query(
        "SELECT datname::text AS datname FROM pg_database WHERE datname LIKE 'cbtest\\_%'",
    )
    .load(admin)
    .await
    .unwrap_or_default();
    for Name { datname } in names {
        let pid = datname
            .split('_')
            .nth(1)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| !cluster::is_alive(Pid::from_raw(p))) {
            let _ = diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(&datname)
            ))
            .execute(admin)
            .await;
        }
    }
}

/// A fresh database of the test server, dropped when the value is.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    /// A database cloned from the migrated template.
    pub async fn new() -> Self {
        let server = server();
        Self::create(Some(&server.template)).await
    }

    /// A database with no migrations applied.
    pub async fn empty() -> Self {
        Self::create(None).await
    }

    async fn create(template: Option<&str>) -> Self {
        let server = server();
        let name = format!("{}_{}", prefix(), NEXT_DB.fetch_add(1, Ordering::Relaxed));
        let mut admin = db::connect(&server.url_pattern.replace("{db}", "postgres"))
            .await
            .unwrap();
        let from = template
            .map(|t| format!(" TEMPLATE {}", quote_ident(t)))
            .unwrap_or_default();
        diesel::sql_query(format!("CREATE DATABASE {}{from}", quote_ident(&name)))
            .execute(&mut admin)
            .await
            .unwrap();
        let url = server.url_pattern.replace("{db}", &name);
        Self { name, url }
    }

    pub async fn conn(&self) -> AsyncPgConnection {
        db::connect(&self.url).await.unwrap()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin_url = server().url_pattern.replace("{db}", "postgres");
        let sql = format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&self.name)
        );
        // Drop runs inside a test's runtime; do the work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                if let Ok(mut admin) = db::connect(&admin_url).await {
                    let _ = diesel::sql_query(sql).execute(&mut admin).await;
                }
            });
        })
        .join();
    }
}

/// Config for an app on `db`; the data directory is not used by the
/// in-process app.
pub fn test_config(db: &TestDb) -> Config {
    Config {
        data_dir: std::env::temp_dir().join("casebook-test-unused"),
        listen: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(db.url.clone()),
        pg_bin_dir: None,
        secure_cookies: false,
        triage_sample: casebook::domain::rota::DEFAULT_SAMPLE,
        metrics_token: None,
        metrics_listen: None,
        delivery: casebook::config::Delivery::default(),
        time_zone: chrono_tz::Tz::UTC,
    }
}

/// The real app on a fresh database.
pub struct TestApp {
    pub db: TestDb,
    pub state: AppState,
}

impl TestApp {
    pub async fn new() -> Self {
        Self::on(TestDb::new().await)
    }

    pub fn on(db: TestDb) -> Self {
        let pool = db::pool(&db.url, 4).unwrap();
        let state = AppState::new(
            pool,
            test_config(&db),
            casebook::search::SearchIndex::in_memory().unwrap(),
        );
        Self { db, state }
    }

    /// Sends `req` through the real app.
    pub async fn call(&self, req: test::TestRequest) -> TestResponse {
        let service = test::init_service(app::build(self.state.clone())).await;
        let res = test::call_service(&service, req.to_request()).await;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let body = test::read_body(res).await;
        TestResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// Status and headers only: for streams that never end. An error body
    /// (a refusal) is short and is read.
    pub async fn head_of(&self, req: test::TestRequest) -> TestResponse {
        let service = test::init_service(app::build(self.state.clone())).await;
        let res = test::call_service(&service, req.to_request()).await;
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let streaming = headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let body = if streaming {
            String::new()
        } else {
            String::from_utf8_lossy(&test::read_body(res).await).into_owned()
        };
        TestResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> TestResponse {
        self.call(test::TestRequest::get().uri(path)).await
    }

    pub async fn conn(&self) -> AsyncPgConnection {
        self.db.conn().await
    }

    /// A signed-in browser for `user`: a session row as the login page
    /// would write it, and a CSRF cookie.
    pub async fn sign_in(&self, user: &User) -> Browser {
        let token = new_token("").unwrap();
        let mut conn = self.conn().await;
        sessions::create(
            &mut conn,
            UserId(user.id),
            &hash_token(&token),
            Utc::now() + Duration::days(1),
        )
        .await
        .unwrap();
        Browser {
            session: Some(token),
            csrf: new_token("").unwrap(),
        }
    }

    /// A browser with no session (but a CSRF cookie, as after any page view).
    pub fn anonymous(&self) -> Browser {
        Browser {
            session: None,
            csrf: new_token("").unwrap(),
        }
    }

    pub async fn get_as(&self, browser: &Browser, path: &str) -> TestResponse {
        self.call(browser.with_cookies(test::TestRequest::get().uri(path)))
            .await
    }

    /// POSTs a form the way a page of this site would: with the CSRF
    /// field matching the cookie.
    pub async fn post_as(
        &self,
        browser: &Browser,
        path: &str,
        fields: &[(&str, &str)],
    ) -> TestResponse {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        all.push(("csrf_token", &browser.csrf));
        self.call(browser.with_cookies(test::TestRequest::post().uri(path).set_form(all)))
            .await
    }

    /// Follows a refused ticket form: the answer must be a redirect to the
    /// ticket carrying a flash cookie; returns the ticket page that shows
    /// the reason and the typed text (`None` when there was no flash).
    pub async fn follow_flash(
        &self,
        browser: &Browser,
        res: &TestResponse,
    ) -> Option<TestResponse> {
        let flash = res.set_cookie("casebook_flash")?;
        assert_eq!(res.status, 303, "a refusal redirects: {}", res.body);
        let location = res.location()?.split('#').next()?.to_owned();
        assert!(location.starts_with("/tickets/"), "{location}");
        Some(
            self.call(
                browser
                    .with_cookies(test::TestRequest::get().uri(&location))
                    .cookie(Cookie::new("casebook_flash", flash)),
            )
            .await,
        )
    }

    /// POSTs a ticket-page form that must be refused, and returns the page
    /// the browser lands on (see [`TestApp::follow_flash`]).
    pub async fn refused_as(
        &self,
        browser: &Browser,
        path: &str,
        fields: &[(&str, &str)],
    ) -> TestResponse {
        let res = self.post_as(browser, path, fields).await;
        match self.follow_flash(browser, &res).await {
            Some(page) => page,
            None => panic!(
                "not refused with a flash: {} {:?} {}",
                res.status,
                res.location(),
                res.body
            ),
        }
    }

    /// GET with `Authorization: Bearer <token>`.
    pub async fn api_get(&self, token: &str, path: &str) -> TestResponse {
        self.call(
            test::TestRequest::get()
                .uri(path)
                .insert_header(("Authorization", format!("Bearer {token}"))),
        )
        .await
    }
}

/// Cookies a browser holds for this site.
#[derive(Clone)]
pub struct Browser {
    pub session: Option<String>,
    pub csrf: String,
}

impl Browser {
    pub fn with_cookies(&self, req: test::TestRequest) -> test::TestRequest {
        let mut req = req.cookie(Cookie::new("casebook_csrf", self.csrf.clone()));
        if let Some(session) = &self.session {
            req = req.cookie(Cookie::new("casebook_session", session.clone()));
        }
        req
    }
}

pub struct TestResponse {
    pub status: u16,
    pub headers: actix_web::http::header::HeaderMap,
    pub body: String,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> Option<&str> {
        self.header("location")
    }

    /// The value a `Set-Cookie` header gives `name`, if any.
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all("set-cookie")
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| Cookie::parse(v.to_owned()).ok())
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
    }
}

/// The same connection string logging in as `user`.
pub fn url_with_user(url: &str, user: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        return format!("{scheme}://{user}@{host}");
    }
    let mut parts: Vec<String> = url
        .split_whitespace()
        .filter(|p| !p.starts_with("user=") && !p.starts_with("password="))
        .map(str::to_owned)
        .collect();
    parts.push(format!("user={user}"));
    parts.join(" ")
}
