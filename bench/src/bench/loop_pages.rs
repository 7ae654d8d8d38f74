//! `casebook bench-loop`: the review queue, the improvement backlog and the
//! rota page timed through HTTP (the real app on an ephemeral port, one
//! request at a time) on a scratch database loaded with many tickets (by
//! default 100,000) and improvement items (20,000, each with its history),
//! generated in SQL from a seed. The scratch database is dropped at the end
//! unless `--keep`.

use std::net::SocketAddr;

use actix_web::HttpServer;
use chrono::Utc;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;

use super::scratch::{Scratch, with_database};
use super::{HttpFigure, command_error, http};
use casebook::app::{self, AppState};
use casebook::config::Config;
use casebook::db::{self, sessions};
use casebook::domain::account::UserId;
use casebook::search::SearchIndex;
use casebook::secrets::{dummy_password_hash, hash_token, new_token};
use casebook::server::StartupError;

/// The target the issue sets for each page.
pub const TARGET_P99_MS: f64 = 50.0;

#[derive(Debug, Clone)]
pub struct LoopOptions {
    pub tickets: usize,
    pub items: usize,
    pub requests: usize,
    pub seed: u64,
    pub database: String,
    pub keep: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoopReport {
    pub tickets: usize,
    pub items: usize,
    pub events: i64,
    pub queue: i64,
    pub load_seconds: f64,
    pub pages: Vec<HttpFigure>,
    pub target_p99_ms: f64,
    pub target_met: bool,
}

impl LoopReport {
    pub fn summary(&self) -> String {
        let mut out = format!(
            "loaded {} tickets ({} waiting for review), {} improvement items with {} history rows in {:.1} s\n",
            self.tickets, self.queue, self.items, self.events, self.load_seconds
        );
        for page in &self.pages {
            out.push_str(&format!(
                "{:<44} {}   {} bytes\n",
                page.label,
                page.latency.line(),
                page.mean_bytes
            ));
        }
        out.push_str(&format!(
            "target p99 <= {TARGET_P99_MS} ms on every page: {}",
            if self.target_met { "met" } else { "NOT met" }
        ));
        out
    }
}

/// The generated data, all in SQL: people, models, tickets (most resolved
/// or closed, most of those reviewed), items with their history rows, a
/// rota of 64 weeks.
const LOAD: &[&str] = &[
    "SELECT setseed({seed})",
    "INSERT INTO organizations (name) VALUES ('Bench Org A'), ('Bench Org B')",
    "INSERT INTO users (email, display_name, role, organization_id, password_hash)
       SELECT 'staff' || n || '@bench.example', 'Staff ' || n,
              (ARRAY['engineer','reviewer','manager'])[1 + n % 3], NULL, $1
       FROM generate_series(1, 30) n",
    "INSERT INTO users (email, display_name, role, organization_id, password_hash)
       SELECT 'customer@bench.example', 'Customer', 'customer', min(id), $1 FROM organizations",
    "INSERT INTO incident_models (key, title, status, revision)
       SELECT 'bench-model-' || n, 'Bench model ' || n, 'published', 1 FROM generate_series(1, 500) n",
    "INSERT INTO tickets (title, requester_id, organization_id, priority, status, created_at, updated_at)
       SELECT 'Bench ticket ' || n,
              (SELECT id FROM users WHERE role = 'customer' LIMIT 1),
              (SELECT min(id) FROM organizations),
              1 + (random() * 3)::int,
              CASE WHEN r < 0.55 THEN 'resolved' WHEN r < 0.85 THEN 'closed' WHEN r < 0.90 THEN 'new'
                   WHEN r < 0.95 THEN 'in_progress' ELSE 'triaged' END,
              now() - (random() * interval '365 days'),
              now()
       FROM (SELECT n, random() AS r FROM generate_series(1, {tickets}) n) g",
    "INSERT INTO ticket_transitions (ticket_id, to_status, at)
       SELECT id, 'new', created_at FROM tickets",
    "INSERT INTO reviews (ticket_id, reviewer_id, status, what_happened, model_linked, model_worked, escalation, submitted_at)
       SELECT t.id, (SELECT min(id) FROM users WHERE role = 'reviewer'), 'submitted', 'Routine.',
              'yes', 'worked', 'none_needed', t.created_at + interval '2 days'
       FROM tickets t WHERE t.status IN ('resolved', 'closed') AND random() < 0.85",
    "UPDATE tickets t SET reviewed_at = r.submitted_at FROM reviews r WHERE r.ticket_id = t.id",
    "INSERT INTO improvements (title, kind, model_id, owner_id, due_on, priority, status, reason, created_by, created_at, updated_at)
       SELECT 'Bench item ' || n, kind,
              CASE WHEN kind IN ('update_model', 'retire_model') THEN (SELECT min(id) FROM incident_models) + (n % 500) END,
              (SELECT min(id) FROM users WHERE role <> 'customer') + (n % 30),
              (now() + (random() * 120 - 60) * interval '1 day')::date,
              1 + (random() * 3)::int,
              st, CASE WHEN st = 'wont_do' THEN 'Not worth it' ELSE '' END,
              (SELECT min(id) FROM users WHERE role = 'reviewer'),
              now() - (random() * interval '364 days'), now()
       FROM (SELECT n,
                    (ARRAY['update_model','new_model','retire_model','monitoring','automation','product_fix','process'])[1 + n % 7] AS kind,
                    CASE WHEN random() < 0.4 THEN 'open' WHEN random() < 0.2 THEN 'in_progress'
                         WHEN random() < 0.8 THEN 'done' ELSE 'wont_do' END AS st
             FROM generate_series(1, {items}) n) g",
    // The history: created open at another priority, re-prioritised for a
    // third of the items, then closed for those that are closed.
    "INSERT INTO improvement_events (improvement_id, actor_id, at, action, priority, status, due_on)
       SELECT id, created_by, created_at, 'created', 1 + (id % 4)::int, 'open', due_on FROM improvements",
    "INSERT INTO improvement_events (improvement_id, actor_id, at, action, priority, status, due_on)
       SELECT id, created_by, created_at + (now() - created_at) / 3, 'priority', priority, 'open', due_on
       FROM improvements WHERE id % 3 = 0",
    "INSERT INTO improvement_events (improvement_id, actor_id, at, action, priority, status, due_on)
       SELECT id, created_by, created_at + (now() - created_at) * 2 / 3, 'edited', priority, status, due_on
       FROM improvements",
    "INSERT INTO rota_weeks (week_start, triager_id)
       SELECT date_trunc('week', now())::date + k * 7, (SELECT min(id) FROM users WHERE role <> 'customer') + (k + 52) % 30
       FROM generate_series(-52, 11) k",
    // What autovacuum does soon after a load: statistics, and the
    // visibility map that index-only scans (the queue count) rely on.
    "VACUUM ANALYZE",
];

async fn load(conn: &mut AsyncPgConnection, opts: &LoopOptions) -> Result<(), StartupError> {
    let seed = format!("{:.3}", (opts.seed % 1000) as f64 / 1000.0);
    for template in LOAD {
        // Our own numbers go into the text; the hash is a parameter.
        let sql = template
            .replace("{seed}", &seed)
            .replace("{tickets}", &opts.tickets.to_string())
            .replace("{items}", &opts.items.to_string());
        if sql.contains("$1") {
            diesel::sql_query(sql)
                .bind::<diesel::sql_types::Text, _>(dummy_password_hash())
                .execute(conn)
                .await?;
        } else {
            diesel::sql_query(sql).execute(conn).await?;
        }
    }
    Ok(())
}

pub async fn bench_loop(config: &Config, opts: &LoopOptions) -> Result<LoopReport, StartupError> {
    let scratch = Scratch {
        name: &opts.database,
        fresh: true,
        keep: opts.keep,
    };
    with_database(config, scratch, async |url| run(config, opts, url).await).await
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> Result<i64, StartupError> {
    Ok(diesel::sql_query(sql).get_result::<Count>(conn).await?.n)
}

async fn run(config: &Config, opts: &LoopOptions, url: &str) -> Result<LoopReport, StartupError> {
    db::migrate(url, db::MIGRATIONS).await?;
    let mut conn = db::connect(url).await?;
    let started = std::time::Instant::now();
    eprintln!(
        "casebook: bench-loop: loading {} tickets and {} items",
        opts.tickets, opts.items
    );
    load(&mut conn, opts).await?;
    let load_seconds = started.elapsed().as_secs_f64();
    let events = count(&mut conn, "SELECT count(*) AS n FROM improvement_events").await?;
    let queue = casebook::db::reviews::queue_count(&mut conn).await?;
    let reviewer = count(
        &mut conn,
        "SELECT min(id) AS n FROM users WHERE role = 'reviewer'",
    )
    .await?;
    let session = new_token("").map_err(command_error)?;
    sessions::create(
        &mut conn,
        UserId(reviewer),
        &hash_token(&session),
        Utc::now() + chrono::Duration::days(1),
    )
    .await?;
    let cookie = format!("{}={session}", casebook::web::auth::SESSION_COOKIE);

    let n = opts.requests.max(1);
    let request = |path: String| http::Request {
        method: "GET",
        path,
        headers: vec![("Cookie", cookie.clone())],
        body: String::new(),
        expect: 200,
    };
    // Mostly the first page, as people use them; some deeper pages and
    // filters.
    let queue_pages: Vec<_> = (0..n)
        .map(|i| {
            request(if i % 5 == 4 {
                format!("/reviews?page={}", 2 + i % 20)
            } else {
                "/reviews".to_owned()
            })
        })
        .collect();
    let filters = [
        "",
        "kind=update_model",
        "status=all",
        "status=done",
        "mine=1",
        "owner=5",
        "page=7",
    ];
    let backlog_pages: Vec<_> = (0..n)
        .map(|i| request(format!("/improvements?{}", filters[i % filters.len()])))
        .collect();
    let rota_pages: Vec<_> = (0..n).map(|_| request("/rota".to_owned())).collect();

    let pool = db::pool(url, 8).map_err(StartupError::Pool)?;
    let index = SearchIndex::in_memory().map_err(command_error)?;
    let state = AppState::new(pool, config.clone(), index);
    let listener = casebook::server::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let addr = listener.local_addr()?;
    let server = HttpServer::new(move || app::build(state.clone()))
        .workers(2)
        .disable_signals()
        .listen(listener)?
        .run();
    let handle = server.handle();
    let client = tokio::task::spawn_blocking(move || {
        let mut client = http::Client::new(addr);
        let mut out = Vec::new();
        for (label, requests) in [
            ("HTTP GET /reviews (the review queue)", &queue_pages),
            (
                "HTTP GET /improvements (backlog, debt, trend)",
                &backlog_pages,
            ),
            ("HTTP GET /rota (16 weeks × people)", &rota_pages),
        ] {
            eprintln!("casebook: bench-loop: {label}");
            let (latency, mean_bytes) = http::measure(&mut client, requests, 20)?;
            out.push(HttpFigure {
                label: label.to_owned(),
                latency,
                mean_bytes,
            });
        }
        Ok::<_, std::io::Error>(out)
    });
    let serving = tokio::spawn(server);
    let pages = client.await.map_err(command_error)?.map_err(command_error);
    handle.stop(true).await;
    let _ = serving.await;
    let pages = pages?;
    let target_met = pages.iter().all(|p| p.latency.p99_ms <= TARGET_P99_MS);
    Ok(LoopReport {
        tickets: opts.tickets,
        items: opts.items,
        events,
        queue,
        load_seconds,
        pages,
        target_p99_ms: TARGET_P99_MS,
        target_met,
    })
}
