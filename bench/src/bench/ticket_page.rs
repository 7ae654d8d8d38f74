//! `casebook-bench bench-ticket-page`: the ticket page's render time, the
//! page a triager and an engineer live on, timed through HTTP (the real app
//! on an ephemeral port, one request at a time) on a scratch database with
//! many models (by default 100,000, so triage suggestions and possible
//! duplicates search a realistic index) and one ticket with a long journal
//! (by default 500 entries, public and internal, some of them pasted logs),
//! a linked model (its checklist) and a recorded triage search. The data is
//! the one `bench-search` generates, loaded the same way, indexed with the
//! real rebuild. The scratch database and index are dropped at the end
//! unless `--keep`.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use actix_web::HttpServer;
use chrono::Utc;
use serde::Serialize;

use super::scratch::{Scratch, with_database};
use super::{HttpFigure, command_error, create_people, data, http, load, specs};
use casebook::app::{self, AppState};
use casebook::config::Config;
use casebook::db::{self, sessions, users};
use casebook::domain::account::UserId;
use casebook::domain::policy::Visibility;
use casebook::search::{SearchIndex, indexer};
use casebook::secrets::{hash_token, new_token};
use casebook::server::StartupError;
use casebook::tickets as service;

/// The index directory, under the data directory.
const INDEX_DIR: &str = "bench-ticket-page-index";

#[derive(Debug, Clone)]
pub struct PageOptions {
    pub models: usize,
    pub tickets: usize,
    pub entries: usize,
    pub requests: usize,
    pub seed: u64,
    pub database: String,
    pub keep: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageReport {
    pub models: usize,
    pub tickets: usize,
    pub entries: usize,
    pub load_seconds: f64,
    pub index_seconds: f64,
    pub pages: Vec<HttpFigure>,
}

impl PageReport {
    pub fn summary(&self) -> String {
        let mut out = format!(
            "loaded {} models and {} tickets in {:.1} s, indexed in {:.1} s; the ticket has {} journal entries\n",
            self.models, self.tickets, self.load_seconds, self.index_seconds, self.entries
        );
        for page in &self.pages {
            out.push_str(&format!(
                "{:<44} {}   {} bytes\n",
                page.label,
                page.latency.line(),
                page.mean_bytes
            ));
        }
        out
    }
}

pub async fn bench_ticket_page(
    config: &Config,
    opts: &PageOptions,
) -> Result<PageReport, StartupError> {
    if opts.models == 0 || opts.requests == 0 {
        return Err(command_error("--models and --requests must be at least 1"));
    }
    let index_dir = config.data_dir.join(INDEX_DIR);
    let scratch = Scratch {
        name: &opts.database,
        fresh: true,
        keep: opts.keep,
    };
    let outcome = with_database(config, scratch, async |url| {
        run(config, opts, url, &index_dir).await
    })
    .await;
    if opts.keep {
        eprintln!("casebook: kept the index {} (--keep)", index_dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&index_dir);
    }
    outcome
}

/// A pasted log: many short lines, as engineers paste `kubectl` or
/// `journalctl` output.
fn log_paste(n: usize) -> String {
    let mut out = String::from("```\n");
    for line in 0..40 {
        out.push_str(&format!(
            "2026-11-29T03:{:02}:{:02}Z api-gateway-7f9c{n} upstream timed out (110: Connection timed out) while reading response header, upstream: 10.0.{}.{}:8080\n",
            line % 60,
            (line * 7) % 60,
            n % 250,
            line
        ));
    }
    out.push_str("```");
    out
}

async fn run(
    config: &Config,
    opts: &PageOptions,
    url: &str,
    index_dir: &Path,
) -> Result<PageReport, StartupError> {
    let bases = Arc::new(data::bases());
    let client = load::connect(url).await?;
    let mut conn = db::connect(url).await?;
    db::migrate(url, db::MIGRATIONS).await?;
    let people = create_people(&mut conn).await?;
    let specs = Arc::new(specs(opts.seed, opts.models, &bases));
    eprintln!(
        "casebook: bench-ticket-page: loading {} models and {} tickets",
        opts.models, opts.tickets
    );
    let loaded = load::load(
        &client,
        opts.seed,
        specs.clone(),
        bases.clone(),
        opts.tickets,
        0,
        &people,
    )
    .await?;

    // The ticket: an alert as Alertmanager words it, opened by a customer,
    // so the page has suggestions and possible duplicates to find.
    let engineer = users::find(&mut conn, UserId(people.engineer))
        .await?
        .viewer();
    let (customer, _) = people
        .customers
        .first()
        .copied()
        .ok_or_else(|| command_error("no customer was created"))?;
    let customer = users::find(&mut conn, UserId(customer)).await?.viewer();
    let alert = data::query(opts.seed, 9, 0, &specs, &bases);
    let title: String = alert.text.chars().take(120).collect();
    let ticket = service::open(
        &mut conn,
        &customer,
        service::OpenTicket {
            title: &title,
            description: &alert.text,
            priority: "1",
            category: "",
            organization: None,
        },
    )
    .await
    .map_err(command_error)?
    .id;
    eprintln!(
        "casebook: bench-ticket-page: writing {} entries on ticket {ticket}",
        opts.entries
    );
    for n in 0..opts.entries {
        let (who, body, visibility) = match n % 10 {
            0 => (
                &customer,
                format!("Still failing for us, attempt {n}. Any news?"),
                Visibility::Public,
            ),
            3 => (&engineer, log_paste(n), Visibility::Internal),
            5 => (
                &engineer,
                format!(
                    "Update {n}: we are draining the affected nodes; next update in **15 minutes**."
                ),
                Visibility::Public,
            ),
            _ => (
                &engineer,
                format!(
                    "Checked the load balancer and the upstream pool (step {n}); `kubectl get pods -n gateway` shows 2 of 6 ready."
                ),
                Visibility::Internal,
            ),
        };
        service::write(&mut conn, who, ticket, &body, visibility)
            .await
            .map_err(command_error)?;
    }
    service::link_model(
        &mut conn,
        &engineer,
        ticket,
        &alert.source,
        "partial",
        "",
        None,
    )
    .await
    .map_err(command_error)?;

    let _ = std::fs::remove_dir_all(index_dir);
    let index = SearchIndex::open(index_dir).map_err(command_error)?;
    let mut writer = indexer::writer(&index).map_err(command_error)?;
    let total = (loaded.models + loaded.tickets + 1) as u64;
    eprintln!("casebook: bench-ticket-page: indexing {total} documents");
    let bar = load::progress("indexing", total);
    let started = std::time::Instant::now();
    indexer::rebuild(&index, &mut writer, &mut conn, &bar)
        .await
        .map_err(command_error)?;
    bar.finish_and_clear();
    writer.wait_merging_threads().map_err(command_error)?;
    index.reader.reload().map_err(command_error)?;
    let index_seconds = started.elapsed().as_secs_f64();
    // A recorded triage search, as a triager leaves on the ticket.
    service::triage(&mut conn, &index, &engineer, ticket, &alert.text)
        .await
        .map_err(command_error)?;

    let session = new_token("").map_err(command_error)?;
    sessions::create(
        &mut conn,
        engineer.user,
        &hash_token(&session),
        Utc::now() + chrono::Duration::days(1),
    )
    .await?;
    let cookie = format!("{}={session}", casebook::web::auth::SESSION_COOKIE);
    let pages: Vec<http::Request<'static>> = (0..opts.requests)
        .map(|_| http::Request {
            method: "GET",
            path: format!("/tickets/{ticket}"),
            headers: vec![("Cookie", cookie.clone())],
            body: String::new(),
            expect: 200,
        })
        .collect();

    let pool = db::pool(url, 8).map_err(StartupError::Pool)?;
    let state = AppState::new(pool, config.clone(), index.clone());
    let listener = casebook::server::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let addr = listener.local_addr()?;
    let server = HttpServer::new(move || app::build(state.clone()))
        .workers(2)
        .disable_signals()
        .listen(listener)?
        .run();
    let handle = server.handle();
    let measured = tokio::task::spawn_blocking(move || {
        let mut client = http::Client::new(addr);
        let label = "HTTP GET /tickets/{id} (staff, whole page)";
        eprintln!("casebook: bench-ticket-page: {label}");
        let (latency, mean_bytes) = http::measure(&mut client, &pages, 20)?;
        Ok::<_, std::io::Error>(vec![HttpFigure {
            label: label.to_owned(),
            latency,
            mean_bytes,
        }])
    });
    let (served, measured) = tokio::join!(server, async {
        let measured = measured.await;
        handle.stop(true).await;
        measured
    });
    served?;
    let pages = measured.map_err(command_error)?.map_err(command_error)?;
    Ok(PageReport {
        models: loaded.models,
        tickets: loaded.tickets,
        entries: opts.entries,
        load_seconds: loaded.seconds,
        index_seconds,
        pages,
    })
}
