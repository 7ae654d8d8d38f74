//! `casebook-bench bench-reports`: every reports page, and every table's
//! JSON and CSV export, timed over HTTP against a real `casebook serve`
//! process (the release binary built beside this one), on a scratch
//! database holding a year of a busy team's tickets (by default 1,000,000)
//! generated in set-based SQL (`reports_data.sql`). Each page is timed per
//! variant — the default period (the last 30 days), 90 days, a from–to
//! period in another zone, and each filter (category, priority,
//! organization, assignee) over 90 days — and each table's JSON and CSV with
//! the default period, its JSON also over 90 days. The scratch database is dropped at the end unless
//! `--keep`; `--skip-load` reuses a kept one.

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use serde::Serialize;

use super::scratch::{Scratch, with_database};
use super::{HttpFigure, command_error, http};
use casebook::config::Config;
use casebook::db::{self, api_tokens, sessions};
use casebook::domain::account::UserId;
use casebook::domain::report::Part;
use casebook::secrets::{dummy_password_hash, hash_token, new_token};
use casebook::server::StartupError;

/// The target for every reports page.
pub const TARGET_P99_MS: f64 = 300.0;

const DATA: &str = include_str!("reports_data.sql");

#[derive(Debug, Clone)]
pub struct ReportsOptions {
    pub tickets: usize,
    /// Requests timed per page and variant.
    pub requests: usize,
    /// Requests timed per JSON or CSV table.
    pub export_requests: usize,
    pub seed: u64,
    pub database: String,
    pub keep: bool,
    pub skip_load: bool,
    /// The `casebook` binary to serve with; by default the one beside this
    /// benchmark's binary.
    pub casebook: Option<PathBuf>,
    /// Time only the pages and exports whose label contains one of these
    /// (all when empty), to time a few while working on them.
    pub only: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportsReport {
    pub tickets: i64,
    pub facts: i64,
    pub transitions: i64,
    pub links: i64,
    pub escalations: i64,
    pub searches: i64,
    pub replies: i64,
    pub load_seconds: Option<f64>,
    pub pages: Vec<HttpFigure>,
    pub exports: Vec<HttpFigure>,
    pub target_p99_ms: f64,
    pub target_met: bool,
}

impl ReportsReport {
    pub fn summary(&self) -> String {
        let mut out = format!(
            "data: {} tickets ({} fact rows), {} transitions, {} model links, {} escalations, {} replies, {} searches{}\n",
            self.tickets,
            self.facts,
            self.transitions,
            self.links,
            self.escalations,
            self.replies,
            self.searches,
            self.load_seconds
                .map_or_else(String::new, |s| format!(", loaded in {s:.0} s"))
        );
        for figure in self.pages.iter().chain(&self.exports) {
            out.push_str(&format!(
                "{:<64} {}   {:>7} bytes  {}\n",
                figure.label,
                figure.latency.line(),
                figure.mean_bytes,
                if figure.latency.p99_ms <= TARGET_P99_MS {
                    "ok"
                } else {
                    "OVER"
                }
            ));
        }
        out.push_str(&format!(
            "target p99 <= {TARGET_P99_MS} ms on every page and export: {}",
            if self.target_met { "met" } else { "NOT met" }
        ));
        out
    }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> Result<i64, StartupError> {
    Ok(diesel::sql_query(sql).get_result::<Count>(conn).await?.n)
}

/// Runs the generator's statements with triggers off (a bulk load runs
/// alone), then builds the facts set-based, as the migration does.
async fn load(conn: &mut AsyncPgConnection, opts: &ReportsOptions) -> Result<(), StartupError> {
    let seed = format!("{:.3}", (opts.seed % 1000) as f64 / 1000.0);
    let hash = dummy_password_hash().replace('\'', "''");
    conn.batch_execute("SET session_replication_role = replica")
        .await?;
    for statement in DATA.split("\n;\n") {
        let sql = statement
            .replace("{seed}", &seed)
            .replace("{tickets}", &opts.tickets.to_string())
            .replace("{hash}", &hash);
        let started = Instant::now();
        conn.batch_execute(&sql).await?;
        let first = sql
            .lines()
            .find(|l| !l.starts_with("--") && !l.trim().is_empty())
            .unwrap_or("");
        eprintln!(
            "casebook: bench-reports: {:>6.1} s  {}",
            started.elapsed().as_secs_f64(),
            first.chars().take(90).collect::<String>()
        );
    }
    conn.batch_execute("RESET session_replication_role").await?;
    for sql in ["ANALYZE", "SELECT report_facts_rebuild()", "VACUUM ANALYZE"] {
        let started = Instant::now();
        conn.batch_execute(sql).await?;
        eprintln!(
            "casebook: bench-reports: {:>6.1} s  {sql}",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

pub async fn bench_reports(
    config: &Config,
    opts: &ReportsOptions,
) -> Result<ReportsReport, StartupError> {
    let scratch = Scratch {
        name: &opts.database,
        fresh: !opts.skip_load,
        keep: opts.keep,
    };
    with_database(config, scratch, async |url| run(config, opts, url).await).await
}

/// The `casebook serve` child: killed when dropped, so an error or Ctrl-C
/// never leaves it running.
struct Served {
    child: Child,
    addr: SocketAddr,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn casebook_binary(opts: &ReportsOptions) -> Result<PathBuf, StartupError> {
    let path = match &opts.casebook {
        Some(path) => path.clone(),
        None => std::env::current_exe()?
            .parent()
            .map(|dir| dir.join("casebook"))
            .ok_or_else(|| command_error("cannot tell where this benchmark runs from"))?,
    };
    if !path.is_file() {
        return Err(command_error(format!(
            "{} is missing: build it first (cargo build --release), or name it with --casebook",
            path.display()
        )));
    }
    Ok(path)
}

async fn serve(config: &Config, opts: &ReportsOptions, url: &str) -> Result<Served, StartupError> {
    let binary = casebook_binary(opts)?;
    // A free port: bound, read, released; the server binds it next.
    let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
    let data_dir = config.data_dir.join("bench-reports-serve");
    std::fs::create_dir_all(&data_dir)?;
    let child = Command::new(&binary)
        .arg("serve")
        .arg("--listen")
        .arg(addr.to_string())
        .env("DATABASE_URL", url)
        .env("CASEBOOK_DATA_DIR", &data_dir)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()?;
    let served = Served { child, addr };
    let started = Instant::now();
    loop {
        let ready = tokio::task::spawn_blocking(move || {
            let mut client = http::Client::new(addr);
            client
                .send(&http::Request {
                    method: "GET",
                    path: "/healthz".to_owned(),
                    headers: Vec::new(),
                    body: String::new(),
                    expect: 200,
                })
                .is_ok_and(|(status, _)| status == 200)
        })
        .await
        .map_err(command_error)?;
        if ready {
            return Ok(served);
        }
        if started.elapsed() > Duration::from_secs(120) {
            return Err(command_error(format!(
                "{} serve did not answer on {addr} within 120 s",
                binary.display()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn run(
    config: &Config,
    opts: &ReportsOptions,
    url: &str,
) -> Result<ReportsReport, StartupError> {
    db::migrate(url, db::MIGRATIONS).await?;
    let mut conn = db::connect(url).await?;
    let load_seconds = if opts.skip_load {
        None
    } else {
        let started = Instant::now();
        eprintln!(
            "casebook: bench-reports: generating {} tickets",
            opts.tickets
        );
        load(&mut conn, opts).await?;
        Some(started.elapsed().as_secs_f64())
    };
    let tickets = count(&mut conn, "SELECT count(*) AS n FROM tickets").await?;
    let facts = count(&mut conn, "SELECT count(*) AS n FROM ticket_report_facts").await?;
    if facts != tickets {
        return Err(command_error(format!(
            "{facts} fact rows for {tickets} tickets: the facts are not complete"
        )));
    }
    let transitions = count(&mut conn, "SELECT count(*) AS n FROM ticket_transitions").await?;
    let links = count(&mut conn, "SELECT count(*) AS n FROM ticket_models").await?;
    let escalations = count(&mut conn, "SELECT count(*) AS n FROM escalations").await?;
    let searches = count(&mut conn, "SELECT count(*) AS n FROM triage_searches").await?;
    let replies = count(
        &mut conn,
        "SELECT count(*) AS n FROM journal_entries WHERE kind = 'reply'",
    )
    .await?;
    let manager = count(
        &mut conn,
        "SELECT min(id) AS n FROM users WHERE role = 'manager'",
    )
    .await?;
    let organization = count(&mut conn, "SELECT min(id) + 7 AS n FROM organizations").await?;
    let assignee = count(
        &mut conn,
        "SELECT min(id) + 3 AS n FROM users WHERE role <> 'customer'",
    )
    .await?;
    let session = new_token("").map_err(command_error)?;
    sessions::create(
        &mut conn,
        UserId(manager),
        &hash_token(&session),
        Utc::now() + chrono::Duration::days(1),
    )
    .await?;
    let cookie = format!("{}={session}", casebook::web::auth::SESSION_COOKIE);
    let api = new_token("cb_").map_err(command_error)?;
    api_tokens::create(
        &mut conn,
        UserId(manager),
        "bench-reports",
        &hash_token(&api),
        &api.chars().take(10).collect::<String>(),
    )
    .await?;
    let bearer = format!("Bearer {api}");

    // Each page is timed per variant: the default period, the longest
    // preset, a from–to period in a zone half an hour off UTC (long ago, so
    // its pages are cold), and each filter alone over 90 days (the most
    // common category, the busiest priority, one organization, one
    // assignee), so a slow variant cannot hide among fast ones.
    let long_ago = Utc::now().date_naive() - chrono::Duration::days(200);
    let variants = [
        ("last 30 days", String::new()),
        ("days=90", "days=90".to_owned()),
        (
            "44 days from-to, Asia/Kolkata",
            format!(
                "from={}&to={}&tz=Asia/Kolkata",
                long_ago,
                long_ago + chrono::Duration::days(43)
            ),
        ),
        ("days=90, category", "days=90&category=cat-00".to_owned()),
        ("days=90, priority", "days=90&priority=3".to_owned()),
        (
            "days=90, organization",
            format!("days=90&organization={organization}"),
        ),
        ("days=90, assignee", format!("days=90&assignee={assignee}")),
        (
            "days=7, category and priority",
            "days=7&category=cat-07&priority=1".to_owned(),
        ),
    ];
    let request = |path: String| http::Request {
        method: "GET",
        path,
        headers: vec![("Cookie", cookie.clone())],
        body: String::new(),
        expect: 200,
    };
    let n = opts.requests.max(1);
    let mut pages: Vec<(String, Vec<http::Request<'_>>)> = Vec::new();
    for page in [
        "/reports",
        "/reports/links",
        "/reports/gaps",
        "/reports/models",
        "/reports/resolution",
        "/reports/triage",
    ] {
        for (name, qs) in &variants {
            let path = if qs.is_empty() {
                page.to_owned()
            } else {
                format!("{page}?{qs}")
            };
            pages.push((
                format!("GET {page} ({name})"),
                (0..n).map(|_| request(path.clone())).collect(),
            ));
        }
    }
    let m = opts.export_requests.max(1);
    let mut exports: Vec<(String, Vec<http::Request<'_>>)> = Vec::new();
    for part in Part::ALL {
        for path in [
            format!("/api/v1/reports/{}", part.name()),
            format!("/reports/export/{}", part.name()),
            format!("/api/v1/reports/{}?days=90", part.name()),
        ] {
            // The API takes a token; the pages' CSV links a session.
            let header = if path.starts_with("/api/") {
                ("Authorization", bearer.clone())
            } else {
                ("Cookie", cookie.clone())
            };
            exports.push((
                format!("GET {path}"),
                (0..m)
                    .map(|_| http::Request {
                        method: "GET",
                        path: path.clone(),
                        headers: vec![header.clone()],
                        body: String::new(),
                        expect: 200,
                    })
                    .collect(),
            ));
        }
    }

    if !opts.only.is_empty() {
        let wanted = |label: &String| opts.only.iter().any(|o| label.contains(o.as_str()));
        pages.retain(|(label, _)| wanted(label));
        exports.retain(|(label, _)| wanted(label));
    }
    let served = serve(config, opts, url).await?;
    let addr = served.addr;
    let measured = tokio::task::spawn_blocking(move || {
        let mut client = http::Client::new(addr);
        let mut time = |list: Vec<(String, Vec<http::Request<'_>>)>, warm: usize| {
            let mut out = Vec::new();
            for (label, requests) in list {
                eprintln!("casebook: bench-reports: {label}");
                let (latency, mean_bytes) = http::measure(&mut client, &requests, warm)?;
                out.push(HttpFigure {
                    label,
                    latency,
                    mean_bytes,
                });
            }
            Ok::<_, std::io::Error>(out)
        };
        Ok::<_, std::io::Error>((time(pages, 5)?, time(exports, 2)?))
    })
    .await
    .map_err(command_error)?;
    drop(served);
    let (pages, exports) = measured.map_err(command_error)?;
    let target_met = pages
        .iter()
        .chain(&exports)
        .all(|p| p.latency.p99_ms <= TARGET_P99_MS);
    Ok(ReportsReport {
        tickets,
        facts,
        transitions,
        links,
        escalations,
        searches,
        replies,
        load_seconds,
        pages,
        exports,
        target_p99_ms: TARGET_P99_MS,
        target_met,
    })
}
