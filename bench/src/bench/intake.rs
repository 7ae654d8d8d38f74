//! `casebook-bench bench-intake`: a burst of Alertmanager webhook
//! deliveries (by default 10,000 alerts in payloads of 1 to 100 alerts,
//! drawn from 1,500 fingerprints so most alerts repeat one already seen)
//! sent by 16 concurrent senders to the real app (`app::build` on an
//! ephemeral port, 2 workers) on a scratch database with the demo models
//! indexed, so every new ticket gets its triage on arrival. The receiver
//! answers 202 once a delivery is in the inbox; the inbox's applier (as
//! `serve` runs it) applies them meanwhile. Prints the receiver's latency
//! (of the 202s) and two rates: alerts accepted per second, and the
//! end-to-end rate (10,000 alerts over the time from the first send until
//! the inbox is drained and every ticket exists). Then checks that every
//! fingerprint that fired has exactly one ticket: none lost, none doubled.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::HttpServer;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::Serialize;
use serde_json::json;

use super::data::Rng;
use super::scratch::{Scratch, with_database};
use super::{Latency, command_error, http};
use casebook::app::{self, AppState};
use casebook::config::Config;
use casebook::db;
use casebook::db::integrations::{self, Settings};
use casebook::db::users::{self, NewUser};
use casebook::domain::account::Role;
use casebook::domain::alert::PriorityMap;
use casebook::domain::ticket::Priority;
use casebook::search::{SearchIndex, indexer};
use casebook::secrets::{hash_token, new_token};
use casebook::server::StartupError;

/// The targets on this 2-core machine.
pub const TARGET_ALERTS_PER_SECOND: f64 = 2000.0;
pub const TARGET_P99_MS: f64 = 100.0;

#[derive(Debug, Clone)]
pub struct IntakeOptions {
    pub alerts: usize,
    pub fingerprints: usize,
    pub senders: usize,
    pub max_batch: usize,
    pub seed: u64,
    pub database: String,
    pub keep: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct IntakeReport {
    pub alerts: usize,
    pub payloads: usize,
    pub senders: usize,
    pub distinct_firing: usize,
    /// From the first send to the last 202.
    pub seconds: f64,
    pub accepted_per_second: f64,
    /// From the first send until the inbox was drained.
    pub end_to_end_seconds: f64,
    pub alerts_per_second: f64,
    /// Deliveries still pending when the last was answered.
    pub inbox_pending_at_last_answer: i64,
    pub deliveries_applied: i64,
    pub deliveries_failed: i64,
    pub latency: Latency,
    /// The slowest answers, slowest first: which payload (its send order)
    /// and when it was sent, to tell a slow start from a slow middle.
    pub slowest: Vec<Answer>,
    pub tickets: i64,
    pub alert_rows: i64,
    pub distinct_tickets: i64,
    pub triage_searches: i64,
    /// Tickets still queued for triage on arrival when the last delivery
    /// was answered, and how long finishing them took.
    pub triage_queued_at_end: i64,
    pub triage_drain_seconds: f64,
    pub opened: i64,
    pub fired_again: i64,
    pub reopened: i64,
    pub resolved: i64,
    pub unchanged: i64,
    pub consistent: bool,
    pub target_met: bool,
}

/// One 202 answer: the payload's place in the send order, when it was
/// sent (from the first send) and how long its answer took.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Answer {
    pub order: usize,
    pub sent_ms: f64,
    pub took_ms: f64,
}

/// How many of the slowest answers the report lists.
const SLOWEST: usize = 5;

impl IntakeReport {
    pub fn summary(&self) -> String {
        let slowest: Vec<String> = self
            .slowest
            .iter()
            .map(|a| {
                format!(
                    "#{} sent at {:.0} ms took {:.1} ms",
                    a.order, a.sent_ms, a.took_ms
                )
            })
            .collect();
        format!(
            "sent {} alerts in {} Alertmanager payloads (1-100 alerts each) from {} senders in {:.2} s\n\
             accepted (202)                  {:.0} alerts/s ({:.0} payloads/s)\n\
             receiver latency per payload    {}\n\
             slowest answers                 {}\n\
             end to end (inbox drained)      {:.0} alerts/s ({:.2} s; {} deliveries still pending at the last 202)\n\
             deliveries applied / failed     {} / {}\n\
             outcomes                        opened {}, fired again {}, reopened {}, resolved {}, unchanged {}\n\
             fingerprints that fired         {}\n\
             tickets                         {} ({} distinct on {} alert rows; {} triage searches on arrival)\n\
             triage on arrival at the end    {} still queued, done {:.2} s after the last answer\n\
             no lost or duplicated ticket    {}\n\
             target >= {} alerts/s end to end and receiver p99 <= {} ms: {}",
            self.alerts,
            self.payloads,
            self.senders,
            self.seconds,
            self.accepted_per_second,
            self.payloads as f64 / self.seconds.max(1e-9),
            self.latency.line(),
            slowest.join("; "),
            self.alerts_per_second,
            self.end_to_end_seconds,
            self.inbox_pending_at_last_answer,
            self.deliveries_applied,
            self.deliveries_failed,
            self.opened,
            self.fired_again,
            self.reopened,
            self.resolved,
            self.unchanged,
            self.distinct_firing,
            self.tickets,
            self.distinct_tickets,
            self.alert_rows,
            self.triage_searches,
            self.triage_queued_at_end,
            self.triage_drain_seconds,
            if self.consistent { "yes" } else { "NO" },
            TARGET_ALERTS_PER_SECOND,
            TARGET_P99_MS,
            if self.target_met { "met" } else { "NOT met" }
        )
    }
}

pub async fn bench_intake(
    config: &Config,
    opts: &IntakeOptions,
) -> Result<IntakeReport, StartupError> {
    let scratch = Scratch {
        name: &opts.database,
        fresh: true,
        keep: opts.keep,
    };
    with_database(config, scratch, async |url| run(config, opts, url).await).await
}

/// The deliveries: payload bodies and the fingerprints that fire in them.
struct Burst {
    bodies: Vec<String>,
    firing: std::collections::BTreeSet<String>,
}

/// Each fingerprint has a first start; a tenth of the alerts are a later
/// firing of it (fired again, or reopening after a resolution) and a
/// twentieth resolutions. The rest repeat a firing already sent, as
/// Alertmanager's group re-sends and retries do.
fn burst(opts: &IntakeOptions) -> Burst {
    let mut rng = Rng::stream(opts.seed, 14, 0);
    let names = [
        "DiskFull",
        "HighErrorRate",
        "InstanceDown",
        "CertificateExpiring",
        "ReplicationLag",
        "PodCrashLooping",
        "HighLatency",
        "QueueBacklog",
    ];
    let severities = ["critical", "warning", "info"];
    let mut bodies = Vec::new();
    let mut firing = std::collections::BTreeSet::new();
    let mut sent = 0;
    while sent < opts.alerts {
        let size = (1 + rng.below(opts.max_batch.max(1))).min(opts.alerts - sent);
        let mut alerts = Vec::with_capacity(size);
        for _ in 0..size {
            let n = rng.below(opts.fingerprints.max(1));
            let fingerprint = format!("{:016x}", (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let roll = rng.below(100);
            let (status, start_hour) = match roll {
                0..5 => ("resolved", 8),
                5..15 => ("firing", 9 + rng.below(3)),
                _ => ("firing", 8),
            };
            if status == "firing" {
                firing.insert(fingerprint.clone());
            }
            let name = names[n % names.len()];
            alerts.push(json!({
                "status": status,
                "labels": {
                    "alertname": name,
                    "severity": severities[n % severities.len()],
                    "instance": format!("host{}.example:9100", n % 97),
                    "job": "node",
                },
                "annotations": {
                    "summary": format!("{name} on host{}", n % 97),
                    "description": "Generated by casebook-bench bench-intake.",
                },
                "startsAt": format!("2026-11-29T{start_hour:02}:00:00Z"),
                "endsAt": if status == "resolved" { "2026-11-29T08:30:00Z" } else { "0001-01-01T00:00:00Z" },
                "generatorURL": "http://prometheus:9090/graph",
                "fingerprint": fingerprint,
            }));
        }
        sent += size;
        bodies.push(
            json!({
                "version": "4",
                "groupKey": format!("{{}}:{{batch=\"{}\"}}", bodies.len()),
                "truncatedAlerts": 0,
                "status": "firing",
                "receiver": "casebook",
                "groupLabels": {},
                "commonLabels": {},
                "commonAnnotations": {},
                "externalURL": "http://alertmanager:9093",
                "alerts": alerts,
            })
            .to_string(),
        );
    }
    Burst { bodies, firing }
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(conn: &mut AsyncPgConnection, sql: &str) -> Result<i64, StartupError> {
    Ok(diesel::sql_query(sql).get_result::<Count>(conn).await?.n)
}

async fn run(
    config: &Config,
    opts: &IntakeOptions,
    url: &str,
) -> Result<IntakeReport, StartupError> {
    db::migrate(url, db::MIGRATIONS).await?;
    let mut conn = db::connect(url).await?;
    // The demo's models, indexed, so that triage on arrival has work to do.
    casebook::commands::demo(&mut conn)
        .await
        .map_err(command_error)?;
    let index = SearchIndex::in_memory().map_err(command_error)?;
    let mut writer = indexer::writer(&index).map_err(command_error)?;
    indexer::catch_up(&index, &mut writer, &mut conn)
        .await
        .map_err(command_error)?;

    let token = new_token("cbi_").map_err(command_error)?;
    let account = users::create(
        &mut conn,
        NewUser {
            email: "integration-bench@alerts.invalid",
            display_name: "Bench Alertmanager (integration)",
            role: Role::Engineer,
            organization: None,
            password_hash: "!",
        },
    )
    .await
    .map_err(command_error)?;
    let map =
        PriorityMap::parse("critical = P1\nwarning = P3\ninfo = P4").map_err(command_error)?;
    integrations::create(
        &mut conn,
        &Settings {
            name: "Bench Alertmanager",
            organization: None,
            default_priority: Priority::ALL[2],
            default_category: "infrastructure",
            priority_label: "severity",
            priority_map: &map,
            category_label: "",
            resolve_on_resolved: true,
            reopen_window_minutes: 1440,
        },
        &hash_token(&token),
        &token[..11],
        account.id,
    )
    .await?;

    let burst = burst(opts);
    eprintln!(
        "casebook: bench-intake: {} alerts in {} payloads, {} senders",
        opts.alerts,
        burst.bodies.len(),
        opts.senders
    );
    // The request pool as `serve` opens it (its connections open before
    // the first request).
    let pool = casebook::server::request_pool(url).await?;
    let state = AppState::new(pool, config.clone(), index.clone());
    // As `serve` runs it: the arrival worker triages the new tickets while
    // the burst goes on, woken through LISTEN.
    let listening = casebook::live::spawn_listener(url.to_owned(), state.hub.clone());
    // Its own connections, as the delivery worker has in `serve`: the
    // request pool's are driven by the HTTP workers' runtimes, which end
    // when the server stops, before the queue is checked below.
    let arrival_pool = db::pool(url, 2).map_err(StartupError::Pool)?;
    let arrivals =
        casebook::tickets::arrival::spawn(arrival_pool, index.clone(), state.hub.arrivals.clone());
    // The inbox's applier, as `serve` runs it: one connection of its own.
    let inbox_pool = db::pool(url, 1).map_err(StartupError::Pool)?;
    let applier =
        casebook::tickets::inbox::spawn(inbox_pool, state.metrics.clone(), state.hub.inbox.clone());
    let listener = casebook::server::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let addr = listener.local_addr()?;
    let server = HttpServer::new(move || app::build(state.clone()))
        .workers(2)
        .disable_signals()
        .listen(listener)?
        .run();
    let handle = server.handle();
    let bodies = Arc::new(burst.bodies);
    let payloads = bodies.len();
    let senders = opts.senders.max(1);
    let started = Instant::now();
    let client = tokio::task::spawn_blocking(move || {
        let next = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..senders)
            .map(|_| {
                let next = Arc::clone(&next);
                let bodies = Arc::clone(&bodies);
                let token = token.clone();
                std::thread::spawn(move || {
                    let mut client = http::Client::new(addr);
                    let mut answers = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(body) = bodies.get(i) else {
                            break;
                        };
                        let request = http::Request {
                            method: "POST",
                            path: "/api/v1/alerts/alertmanager".to_owned(),
                            headers: vec![
                                ("Authorization", format!("Bearer {token}")),
                                ("Content-Type", "application/json".to_owned()),
                            ],
                            body: body.clone(),
                            expect: 202,
                        };
                        let sent = Instant::now();
                        let (status, answer) = client.send(&request)?;
                        answers.push(Answer {
                            order: i,
                            sent_ms: (sent - started).as_secs_f64() * 1000.0,
                            took_ms: sent.elapsed().as_secs_f64() * 1000.0,
                        });
                        if status != 202 {
                            return Err(std::io::Error::other(format!(
                                "payload {i} answered {status}: {}",
                                String::from_utf8_lossy(&answer)
                            )));
                        }
                    }
                    Ok::<_, std::io::Error>(answers)
                })
            })
            .collect();
        let mut answers: Vec<Answer> = Vec::new();
        for thread in threads {
            let t = thread
                .join()
                .map_err(|_| std::io::Error::other("a sender panicked"))??;
            answers.extend(t);
        }
        Ok::<_, std::io::Error>((started.elapsed(), answers))
    });
    let serving = tokio::spawn(server);
    let measured = client.await.map_err(command_error)?.map_err(command_error);
    // End to end: until the applier has applied every accepted delivery
    // (its tickets exist once their delivery is applied).
    let (inbox_pending_at_last_answer, _, _) =
        casebook::db::alert_inbox::pending(&mut conn).await?;
    let end_to_end = loop {
        let (pending, _, _) = casebook::db::alert_inbox::pending(&mut conn).await?;
        if pending == 0 {
            break started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    handle.stop(true).await;
    let _ = serving.await;
    applier.abort();
    let (elapsed, mut answers) = measured?;
    let deliveries_applied = count(
        &mut conn,
        "SELECT count(*) AS n FROM alert_inbox WHERE state = 'applied'",
    )
    .await?;
    let deliveries_failed = count(
        &mut conn,
        "SELECT count(*) AS n FROM alert_inbox WHERE state = 'failed'",
    )
    .await?;
    // What the deliveries did, from their stored receipts.
    let mut outcomes = [0i64; 5];
    for (k, outcome) in ["opened", "fired_again", "reopened", "resolved", "unchanged"]
        .iter()
        .enumerate()
    {
        outcomes[k] = count(
            &mut conn,
            &format!(
                "SELECT count(*) AS n FROM alert_inbox, jsonb_array_elements(receipt) AS line \
                 WHERE line->>'outcome' = '{outcome}'"
            ),
        )
        .await?;
    }
    // Triage on arrival runs after each delivery's commit, in the worker:
    // what it has not done yet when the last answer came is finished here,
    // and the time that takes is reported.
    let answered = Instant::now();
    let (waiting, _) = casebook::db::arrival_triage::pending(&mut conn).await?;
    loop {
        casebook::tickets::arrival::triage_pending(&mut conn, &index)
            .await
            .map_err(command_error)?;
        // Rows the worker holds were skipped: wait for its commit.
        if casebook::db::arrival_triage::pending(&mut conn).await?.0 == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    arrivals.abort();
    listening.abort();
    let triage_wait = answered.elapsed();
    // The demo has tickets of its own: count the integration's.
    let tickets = count(
        &mut conn,
        &format!(
            "SELECT count(*) AS n FROM tickets WHERE requester_id = {}",
            account.id
        ),
    )
    .await?;
    let alert_rows = count(&mut conn, "SELECT count(*) AS n FROM alerts").await?;
    let distinct_tickets = count(
        &mut conn,
        "SELECT count(DISTINCT ticket_id) AS n FROM alerts",
    )
    .await?;
    let triage_searches = count(
        &mut conn,
        &format!(
            "SELECT count(*) AS n FROM triage_searches WHERE user_id = {}",
            account.id
        ),
    )
    .await?;
    let without_ticket = count(
        &mut conn,
        "SELECT count(*) AS n FROM alerts WHERE ticket_id IS NULL",
    )
    .await?;
    let distinct_firing = burst.firing.len();
    let fp = distinct_firing as i64;
    let consistent = deliveries_applied == payloads as i64
        && deliveries_failed == 0
        && tickets == fp
        && alert_rows == fp
        && distinct_tickets == fp
        && without_ticket == 0
        && outcomes[0] == fp
        && triage_searches == fp;
    let seconds = elapsed.as_secs_f64();
    let accepted_per_second = opts.alerts as f64 / seconds.max(1e-9);
    let end_to_end_seconds = end_to_end.as_secs_f64();
    let alerts_per_second = opts.alerts as f64 / end_to_end_seconds.max(1e-9);
    let times: Vec<Duration> = answers
        .iter()
        .map(|a| Duration::from_secs_f64(a.took_ms / 1000.0))
        .collect();
    let latency = Latency::of(&times);
    answers.sort_by(|a, b| b.took_ms.total_cmp(&a.took_ms));
    answers.truncate(SLOWEST);
    Ok(IntakeReport {
        alerts: opts.alerts,
        payloads,
        senders,
        distinct_firing,
        seconds,
        accepted_per_second,
        end_to_end_seconds,
        alerts_per_second,
        inbox_pending_at_last_answer,
        deliveries_applied,
        deliveries_failed,
        target_met: alerts_per_second >= TARGET_ALERTS_PER_SECOND
            && latency.p99_ms <= TARGET_P99_MS,
        latency,
        slowest: answers,
        tickets,
        alert_rows,
        distinct_tickets,
        triage_searches,
        triage_queued_at_end: waiting,
        triage_drain_seconds: triage_wait.as_secs_f64(),
        opened: outcomes[0],
        fired_again: outcomes[1],
        reopened: outcomes[2],
        resolved: outcomes[3],
        unchanged: outcomes[4],
        consistent,
    })
}
