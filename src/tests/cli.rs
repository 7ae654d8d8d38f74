//! The `casebook` binary itself: the embedded default's life cycle (start,
//! reuse, SIGTERM, kill -9, orphans, stale pid files) and one clear error for
//! each way start-up can fail.

use std::time::Duration;

use diesel_async::{AsyncPgConnection, RunQueryDsl};
use nix::sys::signal::Signal;

use casebook::db;
use casebook::db::cluster::{Cluster, Layout, Options};

use crate::support::process::{
    Serve, casebook, data_dir, free_port, gone_within, http_get, run, stderr,
};
use crate::support::{TestDb, url_with_user};

async fn embedded_conn(layout: &Layout) -> AsyncPgConnection {
    db::connect(&layout.url("casebook")).await.unwrap()
}

async fn record(layout: &Layout, action: &str) {
    let mut conn = embedded_conn(layout).await;
    diesel::sql_query("INSERT INTO audit_log (action) VALUES ($1)")
        .bind::<diesel::sql_types::Text, _>(action)
        .execute(&mut conn)
        .await
        .unwrap();
}

async fn recorded(layout: &Layout, action: &str) -> bool {
    use diesel::dsl::sql;
    use diesel::sql_types::{Bool, Text};
    let mut conn = embedded_conn(layout).await;
    diesel::select(
        sql::<Bool>("EXISTS (SELECT 1 FROM audit_log WHERE action = ")
            .bind::<Text, _>(action)
            .sql(")"),
    )
    .get_result(&mut conn)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn embedded_default_starts_reuses_its_data_and_stops_its_server_on_sigterm() {
    let dir = data_dir();
    let mut first = Serve::start_with(dir.path(), |c| {
        c.env("CASEBOOK_LOG_FORMAT", "json");
    });
    first.wait_ready();
    assert_eq!(http_get(first.addr, "/").map(|r| r.0), Some(200));
    record(&first.layout(), "kept across restarts").await;
    let server_pid = first.layout().recorded_pid().unwrap();

    first.signal(Signal::SIGTERM);
    assert!(
        first.wait_exit(),
        "serve did not exit cleanly:\n{}",
        first.log()
    );
    assert!(
        gone_within(server_pid, Duration::from_secs(1)),
        "database server {server_pid} left running"
    );
    // One JSON log line per request, naming the path and status.
    let log = first.log();
    let request_line = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["http.path"] == "/readyz" && v["http.status"] == 200);
    assert!(
        request_line.is_some(),
        "no JSON request log line in:\n{log}"
    );

    let mut second = Serve::start(dir.path());
    second.wait_ready();
    assert!(
        !second
            .log()
            .contains("creating the embedded PostgreSQL cluster")
    );
    assert!(recorded(&second.layout(), "kept across restarts").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn after_kill_9_the_next_start_recovers_and_loses_nothing_committed() {
    let dir = data_dir();
    let mut first = Serve::start(dir.path());
    first.wait_ready();
    record(&first.layout(), "committed before kill -9").await;
    let server_pid = first.layout().recorded_pid().unwrap();
    first.signal(Signal::SIGKILL);
    first.wait_exit();

    let mut second = Serve::start(dir.path());
    second.wait_ready();
    assert!(recorded(&second.layout(), "committed before kill -9").await);
    assert!(
        gone_within(server_pid, Duration::from_secs(5)),
        "the old server {server_pid} is still running"
    );
    let new_pid = second.layout().recorded_pid().unwrap();
    second.signal(Signal::SIGTERM);
    assert!(second.wait_exit());
    assert!(gone_within(new_pid, Duration::from_secs(1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_orphaned_database_server_is_stopped_and_replaced_on_the_next_start() {
    let dir = data_dir();
    let layout = Layout::in_data_dir(dir.path());
    // A server nobody will stop: no parent-death signal, never dropped.
    let orphan = Cluster::start(&Options {
        layout: layout.clone(),
        bin_dir: None,
        on_parent_death: None,
        throwaway: true,
        share_running: false,
    })
    .unwrap();
    let orphan_pid = orphan.pid().unwrap() as i32;
    std::mem::forget(orphan);

    let mut serve = Serve::start(dir.path());
    serve.wait_ready();
    assert!(
        gone_within(orphan_pid, Duration::from_secs(1)),
        "orphan {orphan_pid} still running"
    );
    assert!(
        serve.log().contains("left running by an earlier casebook"),
        "{}",
        serve.log()
    );
    let pid = layout.recorded_pid().unwrap();
    assert_ne!(pid, orphan_pid);
    serve.signal(Signal::SIGTERM);
    assert!(serve.wait_exit());
    assert!(gone_within(pid, Duration::from_secs(1)));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_pid_file_naming_another_process_is_cleared() {
    let dir = data_dir();
    let mut serve = Serve::start(dir.path());
    serve.wait_ready();
    serve.signal(Signal::SIGTERM);
    assert!(serve.wait_exit());
    // The pid of a live process that is not our server (this test process),
    // as after a reboot that recycled the number.
    let pid_file = Layout::in_data_dir(dir.path())
        .pgdata
        .join("postmaster.pid");
    std::fs::write(
        &pid_file,
        format!("{}\n{}\n", std::process::id(), dir.path().display()),
    )
    .unwrap();

    let mut again = Serve::start(dir.path());
    again.wait_ready();
    assert!(
        again.log().contains("removing a stale postmaster.pid"),
        "{}",
        again.log()
    );
}

#[test]
fn missing_server_binaries_are_named_with_what_to_do() {
    let dir = data_dir();
    let out = run(casebook()
        .args([
            "migrate",
            "--pg-bin-dir",
            "/nonexistent/pg/bin",
            "--data-dir",
        ])
        .arg(dir.path()));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(
            "PostgreSQL server binaries (initdb, postgres) not found in /nonexistent/pg/bin"
        ),
        "{err}"
    );
    assert!(err.contains("apt-get install postgresql"), "{err}");
    assert!(err.contains("DATABASE_URL"), "{err}");
}

#[test]
fn an_unwritable_data_directory_is_refused() {
    let parent = data_dir();
    let file = parent.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let out = run(casebook()
        .args(["serve", "--listen", &free_port().to_string(), "--data-dir"])
        .arg(file.join("data")));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("the data directory"), "{err}");
    assert!(err.contains("is not writable"), "{err}");
    assert!(err.contains("--data-dir"), "{err}");
}

#[test]
fn one_off_commands_never_create_an_installation() {
    let parent = data_dir();
    let dir = parent.path().join("casebook-data");
    for args in [
        &["demo"][..],
        &["export", "/tmp/never-written"][..],
        &["reindex"][..],
    ] {
        let out = run(casebook().args(args).arg("--data-dir").arg(&dir));
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!(
                "there is no Casebook installation in {}",
                dir.display()
            )),
            "{args:?}: {err}"
        );
        assert!(err.contains("--data-dir"), "{err}");
        assert!(!dir.exists(), "{args:?} created {}", dir.display());
    }
    // `migrate` creates one; then the one-off commands use it.
    let migrated = run(casebook().arg("migrate").arg("--data-dir").arg(&dir));
    assert!(migrated.status.success(), "{}", stderr(&migrated));
    let demo = run(casebook().arg("demo").arg("--data-dir").arg(&dir));
    assert!(demo.status.success(), "{}", stderr(&demo));
}

#[test]
fn a_port_in_use_is_refused_before_anything_starts() {
    let dir = data_dir();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let out = run(casebook()
        .args(["serve", "--listen", &addr.to_string(), "--data-dir"])
        .arg(dir.path()));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "cannot listen on {addr}: the port is already in use"
        )),
        "{err}"
    );
    assert!(
        !Layout::in_data_dir(dir.path()).pgdata.exists(),
        "a database was created anyway"
    );
}

#[test]
fn an_unreachable_database_is_reported_with_what_to_check() {
    let dir = data_dir();
    let out = run(casebook()
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .env(
            "DATABASE_URL",
            "postgres://casebook:secret@127.0.0.1:1/casebook",
        ));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(
            "cannot connect to PostgreSQL at postgres://casebook:***@127.0.0.1:1/casebook"
        ),
        "{err}"
    );
    assert!(!err.contains("secret"), "password leaked: {err}");
    assert!(err.contains("check that the server is running"), "{err}");
}

#[tokio::test]
async fn refused_credentials_are_reported() {
    let db = TestDb::new().await;
    let url = url_with_user(&db.url, "no_such_role");
    let dir = data_dir();
    let out = run(casebook()
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .env("DATABASE_URL", &url));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("cannot connect to PostgreSQL"), "{err}");
    assert!(err.contains("no_such_role"), "{err}");
}

#[tokio::test]
async fn a_failing_migration_leaves_nothing_half_applied() {
    let db = TestDb::empty().await;
    let mut conn = db.conn().await;
    // A table in the way of the foundation migration.
    diesel::sql_query("CREATE TABLE audit_log (id int)")
        .execute(&mut conn)
        .await
        .unwrap();
    let dir = data_dir();
    let out = run(casebook()
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .env("DATABASE_URL", &db.url));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("a database migration failed and nothing was applied"),
        "{err}"
    );
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        err.trim()
            .lines()
            .last()
            .map(|l| l.starts_with("casebook: error:")),
        Some(true),
        "{err}"
    );

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let tables: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_tables WHERE tablename = '__diesel_schema_migrations'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(tables.n, 0, "the migrations table was left behind");
    let functions: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_proc WHERE proname = 'diesel_manage_updated_at'",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        functions.n, 0,
        "an earlier migration of the batch stayed applied"
    );
}

#[tokio::test]
async fn migrate_applies_once_then_reports_up_to_date() {
    let db = TestDb::empty().await;
    let dir = data_dir();
    let first = run(casebook()
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .env("DATABASE_URL", &db.url));
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied"));
    let second = run(casebook()
        .args(["migrate", "--data-dir"])
        .arg(dir.path())
        .env("DATABASE_URL", &db.url));
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(String::from_utf8_lossy(&second.stdout).contains("up to date"));
}

#[tokio::test]
async fn serve_uses_database_url_when_given() {
    let db = TestDb::empty().await;
    let dir = data_dir();
    let mut serve = Serve::start_with(dir.path(), |c| {
        c.env("DATABASE_URL", &db.url);
    });
    serve.wait_ready();
    assert!(
        !Layout::in_data_dir(dir.path()).pgdata.exists(),
        "started an embedded cluster anyway"
    );
    serve.signal(Signal::SIGTERM);
    assert!(serve.wait_exit());
}

#[test]
fn help_lists_every_option_with_its_environment_variable() {
    let out = run(casebook().args(["serve", "--help"]));
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "--data-dir",
        "CASEBOOK_DATA_DIR",
        "--listen",
        "CASEBOOK_LISTEN",
        "--database-url",
        "DATABASE_URL",
        "--pg-bin-dir",
    ] {
        assert!(help.contains(needle), "{needle} missing from:\n{help}");
    }
}

fn user_add(
    dir: &std::path::Path,
    url: Option<&str>,
    args: &[&str],
    password: &str,
) -> std::process::Output {
    use std::io::Write;
    let mut command = casebook();
    command
        .args(["user", "add", "--data-dir"])
        .arg(dir)
        .args(args);
    if let Some(url) = url {
        command.env("DATABASE_URL", url);
    }
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn user_add_creates_accounts_and_refuses_bad_input() {
    let db = TestDb::empty().await;
    let dir = data_dir();
    let out = user_add(
        dir.path(),
        Some(&db.url),
        &[
            "--email",
            "cara@acme.example",
            "--role",
            "customer",
            "--org",
            "Acme",
        ],
        "a long password",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("created organization Acme"), "{stdout}");
    assert!(
        stdout.contains("added customer cara@acme.example"),
        "{stdout}"
    );

    let cases: [(&[&str], &str, &str); 5] = [
        (
            &["--email", "x@y.example", "--role", "wizard"],
            "a long password",
            "unknown role",
        ),
        (
            &["--email", "nope", "--role", "engineer"],
            "a long password",
            "is not an email address",
        ),
        (
            &["--email", "x@y.example", "--role", "engineer"],
            "short",
            "at least 10 characters",
        ),
        (
            &["--email", "x@y.example", "--role", "customer"],
            "a long password",
            "needs --org",
        ),
        (
            &["--email", "CARA@acme.example", "--role", "engineer"],
            "a long password",
            "is already registered",
        ),
    ];
    for (args, password, message) in cases {
        let out = user_add(dir.path(), Some(&db.url), args, password);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(stderr(&out).contains(message), "{args:?}: {}", stderr(&out));
    }
    let mut conn = db.conn().await;
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let users: Count = diesel::sql_query("SELECT count(*) AS n FROM users")
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(users.n, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_add_works_beside_a_running_serve_and_a_second_serve_is_refused() {
    let dir = data_dir();
    let mut serve = Serve::start(dir.path());
    serve.wait_ready();
    assert!(
        serve.log().contains("no admin account exists yet"),
        "{}",
        serve.log()
    );

    let out = user_add(
        dir.path(),
        None,
        &["--email", "root@example.com", "--role", "admin"],
        "a long password",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        http_get(serve.addr, "/readyz").map(|r| r.0),
        Some(200),
        "serve lost its database"
    );

    let second = run(casebook()
        .args(["serve", "--listen", &free_port().to_string(), "--data-dir"])
        .arg(dir.path()));
    assert!(!second.status.success());
    assert!(
        stderr(&second).contains("is already serving the data directory"),
        "{}",
        stderr(&second)
    );
    assert_eq!(http_get(serve.addr, "/readyz").map(|r| r.0), Some(200));
}

/// The search index of a stopped `serve`, compared with a rebuild.
async fn index_matches_a_rebuild(data_dir: &std::path::Path, db: &TestDb) {
    use casebook::search::{SearchIndex, indexer};
    let served = SearchIndex::open(&data_dir.join("index")).unwrap();
    let fresh = SearchIndex::in_memory().unwrap();
    let mut writer = indexer::writer(&fresh).unwrap();
    let mut conn = db.conn().await;
    indexer::rebuild(
        &fresh,
        &mut writer,
        &mut conn,
        &indicatif::ProgressBar::hidden(),
    )
    .await
    .unwrap();
    let (a, b) = (
        indexer::snapshot(&served).unwrap(),
        indexer::snapshot(&fresh).unwrap(),
    );
    assert!(!b.is_empty());
    assert_eq!(a, b, "the served index differs from a fresh rebuild");
}

fn search_pending(addr: std::net::SocketAddr) -> Option<i64> {
    let (status, body) = http_get(addr, "/readyz")?;
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    (status == 200)
        .then(|| v["search"]["pending"].as_i64())
        .flatten()
}

#[tokio::test(flavor = "multi_thread")]
async fn after_kill_9_mid_indexing_the_index_replays_to_a_rebuild() {
    let db = TestDb::new().await;
    let dir = data_dir();
    let mut serve = Serve::start_with(dir.path(), |c| {
        c.env("DATABASE_URL", &db.url);
    });
    serve.wait_ready();
    // Writes land while the indexer works; kill it part-way.
    let mut conn = db.conn().await;
    let generated = tempfile::tempdir().unwrap();
    casebook::commands::models::generate(generated.path(), 400, 3).unwrap();
    casebook::commands::import_dir(&mut conn, generated.path())
        .await
        .unwrap();
    serve.signal(Signal::SIGKILL);
    serve.wait_exit();

    let mut again = Serve::start_with(dir.path(), |c| {
        c.env("DATABASE_URL", &db.url);
    });
    again.wait_ready();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while search_pending(again.addr) != Some(0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the index never caught up:\n{}",
            again.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    again.signal(Signal::SIGTERM);
    assert!(again.wait_exit());
    index_matches_a_rebuild(dir.path(), &db).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_serve_processes_on_one_database_both_converge() {
    let db = TestDb::new().await;
    let (dir_a, dir_b) = (data_dir(), data_dir());
    let start = |dir: &std::path::Path| {
        Serve::start_with(dir, |c| {
            c.env("DATABASE_URL", &db.url);
        })
    };
    let (mut a, mut b) = (start(dir_a.path()), start(dir_b.path()));
    a.wait_ready();
    b.wait_ready();
    let mut conn = db.conn().await;
    casebook::commands::demo(&mut conn).await.unwrap();
    let generated = tempfile::tempdir().unwrap();
    casebook::commands::models::generate(generated.path(), 150, 9).unwrap();
    casebook::commands::import_dir(&mut conn, generated.path())
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    for serve in [&a, &b] {
        while search_pending(serve.addr) != Some(0) {
            assert!(
                std::time::Instant::now() < deadline,
                "an index never caught up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for serve in [&mut a, &mut b] {
        serve.signal(Signal::SIGTERM);
        assert!(serve.wait_exit());
    }
    index_matches_a_rebuild(dir_a.path(), &db).await;
    index_matches_a_rebuild(dir_b.path(), &db).await;
}

#[test]
fn the_quick_start_works_with_a_relative_data_directory() {
    let cwd = data_dir();
    let addr = free_port();
    let mut child = casebook()
        .args([
            "serve",
            "--data-dir",
            "casebook-data",
            "--listen",
            &addr.to_string(),
        ])
        .current_dir(cwd.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let mut ready = false;
    while std::time::Instant::now() < deadline {
        if let Some((200, _)) = http_get(addr, "/readyz") {
            ready = true;
            break;
        }
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        Signal::SIGTERM,
    );
    let out = child.wait_with_output().unwrap();
    assert!(
        ready,
        "not ready with --data-dir casebook-data: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success());
    let pid = Layout::in_data_dir(&cwd.path().join("casebook-data")).recorded_pid();
    assert!(pid.is_none_or(|p| gone_within(p, Duration::from_secs(1))));
}
