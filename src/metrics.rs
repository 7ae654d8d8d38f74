//! What `/metrics` reports, in the Prometheus text format: HTTP requests by
//! route pattern and status with latency histograms, counters other parts
//! of the program bump as things happen (alerts, rows indexed), and gauges
//! read at scrape time (open tickets, the triage queue, search lag, live
//! viewers, the connection pool). One [`Metrics`] per process, in
//! `AppState`; nothing global.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use chrono::Utc;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::db::DbPool;

/// One request's labels: the route pattern (`/tickets/{id}`, never the raw
/// path, so ids do not blow up the series), the method and the status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TicketLabels {
    priority: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

type HistogramFamily = Family<HttpLabels, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms to ~16 s.
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

pub struct Metrics {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: HistogramFamily,
    alerts_received: Counter,
    alerts_deduplicated: Counter,
    alerts_opened: Counter,
    open_tickets: Family<TicketLabels, Gauge>,
    triage_queue: Gauge,
    triage_oldest: Gauge<f64, AtomicU64>,
    search_pending: Gauge,
    arrival_pending: Gauge,
    arrival_oldest: Gauge<f64, AtomicU64>,
    inbox_pending: Gauge,
    inbox_oldest: Gauge<f64, AtomicU64>,
    inbox_failed: Gauge,
    live_viewers: Gauge,
    pool: Family<PoolLabels, Gauge>,
    /// Scrapes are serialised: each rewrites the scrape-time gauges.
    scrape: tokio::sync::Mutex<()>,
}

/// What a scrape reads beside the registry.
pub struct Sources<'a> {
    pub pool: &'a DbPool,
    pub search: &'a crate::search::SearchIndex,
    pub hub: &'a crate::live::Hub,
}

impl Metrics {
    /// The families, registered; `indexed` is the search index's counter of
    /// applied outbox rows (it lives with the index, which bumps it).
    pub fn new(indexed: Counter) -> Self {
        let mut registry = Registry::with_prefix("casebook");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by method, route pattern and status",
            http_requests.clone(),
        );
        let http_duration: HistogramFamily = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "Time to answer HTTP requests (to the response head; streams not included)",
            prometheus_client::registry::Unit::Seconds,
            http_duration.clone(),
        );
        let alerts_received = Counter::default();
        registry.register(
            "alerts_received",
            "Alerts received by the alert intakes",
            alerts_received.clone(),
        );
        let alerts_deduplicated = Counter::default();
        registry.register(
            "alerts_deduplicated",
            "Alerts that matched an open ticket (or a retried delivery) instead of opening one",
            alerts_deduplicated.clone(),
        );
        let alerts_opened = Counter::default();
        registry.register(
            "alerts_opened",
            "Tickets opened from alerts",
            alerts_opened.clone(),
        );
        let open_tickets = Family::<TicketLabels, Gauge>::default();
        registry.register(
            "open_tickets",
            "Tickets in an open status, by priority and status",
            open_tickets.clone(),
        );
        let triage_queue = Gauge::default();
        registry.register(
            "triage_queue_length",
            "Tickets waiting for triage (status new)",
            triage_queue.clone(),
        );
        let triage_oldest = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "triage_queue_oldest_age",
            "Age of the oldest ticket waiting for triage (0 when none waits)",
            prometheus_client::registry::Unit::Seconds,
            triage_oldest.clone(),
        );
        let search_pending = Gauge::default();
        registry.register(
            "search_index_pending_rows",
            "Committed search outbox rows this process's index has not applied (its lag)",
            search_pending.clone(),
        );
        registry.register(
            "search_indexed_rows",
            "Search outbox rows this process has applied to its index",
            indexed,
        );
        let arrival_pending = Gauge::default();
        registry.register(
            "arrival_triage_pending",
            "Tickets opened from alerts whose triage on arrival is queued, not yet recorded",
            arrival_pending.clone(),
        );
        let arrival_oldest = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "arrival_triage_oldest_age",
            "Age of the oldest queued triage on arrival (0 when none waits)",
            prometheus_client::registry::Unit::Seconds,
            arrival_oldest.clone(),
        );
        let inbox_pending = Gauge::default();
        registry.register(
            "alert_inbox_pending",
            "Alert deliveries accepted (202) and not yet applied",
            inbox_pending.clone(),
        );
        let inbox_oldest = Gauge::<f64, AtomicU64>::default();
        registry.register_with_unit(
            "alert_inbox_oldest_age",
            "Age of the oldest alert delivery not yet applied (0 when none waits)",
            prometheus_client::registry::Unit::Seconds,
            inbox_oldest.clone(),
        );
        let inbox_failed = Gauge::default();
        registry.register(
            "alert_inbox_failed",
            "Alert deliveries parked as failed after their last attempt (shown to admins on the integration's page)",
            inbox_failed.clone(),
        );
        let live_viewers = Gauge::default();
        registry.register(
            "live_viewers",
            "Open event streams (live ticket pages and API streams)",
            live_viewers.clone(),
        );
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections: max (the limit), open, idle, in_use; waiting is requests queued for one",
            pool.clone(),
        );
        Self {
            registry,
            http_requests,
            http_duration,
            alerts_received,
            alerts_deduplicated,
            alerts_opened,
            open_tickets,
            triage_queue,
            triage_oldest,
            search_pending,
            arrival_pending,
            arrival_oldest,
            inbox_pending,
            inbox_oldest,
            inbox_failed,
            live_viewers,
            pool,
            scrape: tokio::sync::Mutex::new(()),
        }
    }

    /// One answered request.
    pub fn observe_request(&self, labels: HttpLabels, seconds: f64) {
        self.http_duration.get_or_create(&labels).observe(seconds);
        self.http_requests.get_or_create(&labels).inc();
    }

    /// `n` alerts arrived at an intake (one delivery may carry many).
    pub fn alerts_received(&self, n: u64) {
        self.alerts_received.inc_by(n);
    }

    /// An alert was folded into an existing ticket or a retried delivery.
    pub fn alert_deduplicated(&self) {
        self.alerts_deduplicated.inc();
    }

    /// An alert opened a ticket.
    pub fn alert_opened(&self) {
        self.alerts_opened.inc();
    }

    /// The text exposition: the scrape-time gauges are read first (a few
    /// cheap queries on one pooled connection). A gauge whose query fails
    /// is left out of this scrape rather than reported wrong; the failure
    /// is logged.
    pub async fn render(&self, sources: Sources<'_>) -> Result<String, std::fmt::Error> {
        let _scrape = self.scrape.lock().await;
        self.read_pool(sources.pool);
        self.live_viewers
            .set(i64::try_from(sources.hub.viewers()).unwrap_or(i64::MAX));
        self.open_tickets.clear();
        match sources.pool.get().await {
            Ok(mut conn) => {
                match crate::db::gauges::open_tickets(&mut conn).await {
                    Ok(rows) => {
                        for (priority, status, n) in rows {
                            self.open_tickets
                                .get_or_create(&TicketLabels {
                                    priority: format!("P{priority}"),
                                    status,
                                })
                                .set(n);
                        }
                    }
                    Err(e) => tracing::warn!("metrics: open tickets not read: {e}"),
                }
                match crate::db::gauges::triage_queue(&mut conn).await {
                    Ok((n, oldest)) => {
                        self.triage_queue.set(n);
                        self.triage_oldest.set(age_of(oldest));
                    }
                    Err(e) => tracing::warn!("metrics: triage queue not read: {e}"),
                }
                match crate::db::arrival_triage::pending(&mut conn).await {
                    Ok((n, oldest)) => {
                        self.arrival_pending.set(n);
                        self.arrival_oldest.set(age_of(oldest));
                    }
                    Err(e) => tracing::warn!("metrics: arrival triage queue not read: {e}"),
                }
                match crate::db::alert_inbox::pending(&mut conn).await {
                    Ok((n, oldest, failed)) => {
                        self.inbox_pending.set(n);
                        self.inbox_oldest.set(age_of(oldest));
                        self.inbox_failed.set(failed);
                    }
                    Err(e) => tracing::warn!("metrics: alert inbox not read: {e}"),
                }
                match crate::search::indexer::lag(sources.search, &mut conn).await {
                    Ok(n) => {
                        self.search_pending.set(n);
                    }
                    Err(e) => tracing::warn!("metrics: search lag not read: {e}"),
                }
            }
            Err(e) => tracing::warn!("metrics: no database connection for the gauges: {e}"),
        }
        // Read again: the scrape's own connection is back in the pool.
        self.read_pool(sources.pool);
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    fn read_pool(&self, pool: &DbPool) {
        let status = pool.status();
        let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let set = |state: &'static str, n: i64| {
            self.pool.get_or_create(&PoolLabels { state }).set(n);
        };
        set("max", as_i64(status.max_size));
        set("open", as_i64(status.size));
        set("idle", as_i64(status.available));
        set(
            "in_use",
            as_i64(status.size.saturating_sub(status.available)),
        );
        set("waiting", as_i64(status.waiting));
    }
}

/// Shared by the app's clones of its state.
pub type SharedMetrics = Arc<Metrics>;

/// Seconds since `oldest` (0 when nothing waits).
fn age_of(oldest: Option<chrono::DateTime<Utc>>) -> f64 {
    oldest.map_or(0.0, |t| {
        (Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0
    })
}
