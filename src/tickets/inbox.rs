//! The durable inbox of Alertmanager deliveries: accepted at once, applied
//! by one writer.
//!
//! The receiver checks a delivery (`intake::check`: bad input is refused
//! with nothing written), stores it in `alert_inbox` (one committed
//! insert: an acknowledged delivery is never lost) and answers 202 with
//! the row's id. One applier per cluster (`spawn`, a task in `serve`,
//! woken by the receiving process; the advisory lock `alert_inbox::APPLIER_LOCK`
//! keeps other instances' appliers out while it works) applies pending
//! deliveries in the order they were accepted, several per transaction,
//! each with the intake's own code (`intake::apply`) in a savepoint, and
//! stores each one's receipt in the same transaction. With one writer no
//! delivery waits for another's alert-row or ticket locks, and a
//! fingerprint's firing and resolution are applied in the order they came.
//!
//! A delivery that fails to apply rolls back to its savepoint; its attempt
//! and error are counted and the applier stops there (later deliveries
//! may concern the same alerts) and tries again after a pause. After
//! `MAX_ATTEMPTS` it is parked as failed, with its error, and the queue
//! moves on; `/metrics` and the admin's integration page show it. A crash
//! before the commit leaves the rows pending for the next start; a
//! delivery is marked applied only in the transaction that applied it.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde::{Deserialize, Serialize};

use super::TicketError;
use super::intake::{self, Receipt};
use crate::db::DbPool;
use crate::db::alert_inbox::{self, Pending};
use crate::db::integrations::{self, Integration};
use crate::domain::FieldError;
use crate::domain::alert::{AlertStatus, Incoming};
use crate::domain::ticket::Priority;
use crate::metrics::Metrics;

/// Attempts before a delivery that cannot be applied is parked as failed.
pub const MAX_ATTEMPTS: i32 = 5;
/// Deliveries looked at per transaction.
const BATCH: i64 = 64;
/// Alerts applied per transaction (a larger first delivery still goes
/// alone): bounds how long one transaction holds its locks.
const BATCH_ALERTS: i64 = 2_000;
/// A look at the inbox even when this process accepted nothing (another
/// instance's deliveries, whose applier stopped).
const IDLE_LOOK: Duration = Duration::from_secs(5);
/// The next look when another instance's applier held the inbox.
const BUSY_LOOK: Duration = Duration::from_millis(50);
/// Applied deliveries (and their receipts) are kept this long for their
/// status URL.
const KEEP_APPLIED_HOURS: i64 = 24;

/// One alert as the inbox stores it (the checked `Incoming`). Written
/// borrowed from the checked alert, serialised straight to the JSON text
/// the row keeps (no copy of the alert and no `serde_json::Value` in
/// between); read back owned.
#[derive(Debug, Serialize, Deserialize)]
struct Stored<'a> {
    fingerprint: Cow<'a, str>,
    #[serde(default)]
    group_key: Cow<'a, str>,
    status: Cow<'a, str>,
    #[serde(default)]
    labels: Cow<'a, BTreeMap<String, String>>,
    #[serde(default)]
    annotations: Cow<'a, BTreeMap<String, String>>,
    #[serde(default)]
    starts_at: Option<DateTime<Utc>>,
    #[serde(default)]
    ends_at: Option<DateTime<Utc>>,
    #[serde(default)]
    generator_url: Cow<'a, str>,
    #[serde(default)]
    title: Option<Cow<'a, str>>,
    #[serde(default)]
    description: Option<Cow<'a, str>>,
    #[serde(default)]
    priority: Option<i16>,
    #[serde(default)]
    category: Option<Cow<'a, str>>,
}

fn stored(alerts: &BTreeMap<String, Incoming>) -> Result<String, FieldError> {
    let rows: Vec<Stored> = alerts
        .values()
        .map(|a| Stored {
            fingerprint: Cow::Borrowed(&a.fingerprint),
            group_key: Cow::Borrowed(&a.group_key),
            status: Cow::Borrowed(a.status.as_str()),
            labels: Cow::Borrowed(&a.labels),
            annotations: Cow::Borrowed(&a.annotations),
            starts_at: a.starts_at,
            ends_at: a.ends_at,
            generator_url: Cow::Borrowed(&a.generator_url),
            title: a.title.as_deref().map(Cow::Borrowed),
            description: a.description.as_deref().map(Cow::Borrowed),
            priority: a.priority.map(Priority::level),
            category: a.category.as_deref().map(Cow::Borrowed),
        })
        .collect();
    serde_json::to_string(&rows)
        .map_err(|e| FieldError::new("alerts", format!("the delivery cannot be stored: {e}")))
}

fn incoming(value: &serde_json::Value) -> Result<BTreeMap<String, Incoming>, FieldError> {
    let rows = Vec::<Stored>::deserialize(value).map_err(|e| {
        FieldError::new("alerts", format!("the stored delivery is unreadable: {e}"))
    })?;
    let mut out = BTreeMap::new();
    for s in rows {
        let alert = Incoming {
            fingerprint: s.fingerprint.into_owned(),
            group_key: s.group_key.into_owned(),
            status: AlertStatus::parse("alerts", &s.status)?,
            labels: s.labels.into_owned(),
            annotations: s.annotations.into_owned(),
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            generator_url: s.generator_url.into_owned(),
            title: s.title.map(Cow::into_owned),
            description: s.description.map(Cow::into_owned),
            priority: s.priority.map(Priority::new).transpose()?,
            category: s.category.map(Cow::into_owned),
        };
        out.insert(alert.fingerprint.clone(), alert);
    }
    Ok(out)
}

/// One alert's line of a stored receipt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiptLine {
    pub fingerprint: String,
    pub ticket_id: Option<i64>,
    /// opened, fired_again, reopened, resolved or unchanged.
    pub outcome: String,
}

/// A receipt as stored with its delivery.
pub fn receipt_lines(receipt: &Receipt) -> Vec<ReceiptLine> {
    receipt
        .alerts
        .iter()
        .map(|a| ReceiptLine {
            fingerprint: a.fingerprint.clone(),
            ticket_id: a.ticket.map(|t| t.0),
            outcome: a.decision.as_str().to_owned(),
        })
        .collect()
}

/// A stored receipt read back (a line that cannot be read is left out).
pub fn read_receipt(value: &serde_json::Value) -> Vec<ReceiptLine> {
    serde_json::from_value(value.clone()).unwrap_or_default()
}

/// A delivery taken into the inbox.
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    pub id: i64,
    /// Alerts in it, after merging repeats of one fingerprint.
    pub alerts: usize,
}

/// Checks a delivery and stores it for the applier (one committed
/// insert); bad input is refused and nothing is written.
pub async fn accept(
    conn: &mut AsyncPgConnection,
    integration: &Integration,
    external_url: &str,
    alerts: Vec<Incoming>,
) -> Result<Accepted, TicketError> {
    let by_fp = intake::check(integration, external_url, alerts)?;
    let n = by_fp.len();
    let id = alert_inbox::insert(
        conn,
        integration.id,
        external_url,
        &stored(&by_fp)?,
        i32::try_from(n).unwrap_or(i32::MAX),
    )
    .await?;
    Ok(Accepted { id, alerts: n })
}

/// What one pass of the applier did.
#[derive(Debug, Default)]
pub struct Pass {
    /// Deliveries applied, with their receipts.
    pub applied: Vec<(i64, Receipt)>,
    /// How many of them were applied in runs of several at once.
    pub together: usize,
    /// Deliveries parked as failed in this pass.
    pub parked: Vec<i64>,
    /// A delivery failed and will be tried again: the pass stopped there.
    pub retry: bool,
    /// Another applier holds the lock.
    pub busy: bool,
    /// A delivery met a deadlock or a serialization failure: the pass
    /// stopped there and the next one tries it again at once.
    pub again: bool,
}

impl Pass {
    fn did_something(&self) -> bool {
        !self.applied.is_empty() || !self.parked.is_empty() || self.again
    }
}

/// Applies the oldest pending deliveries in one transaction (each in a
/// savepoint), at most `BATCH` of them and about `BATCH_ALERTS` alerts.
pub async fn apply_batch(conn: &mut AsyncPgConnection) -> Result<Pass, TicketError> {
    conn.transaction(async |conn| {
        let mut pass = Pass::default();
        if !alert_inbox::lock_applier(conn).await? {
            pass.busy = true;
            return Ok(pass);
        }
        let mut rows = alert_inbox::next(conn, BATCH).await?;
        let mut alerts = 0i64;
        let mut take = 0;
        for row in &rows {
            if alerts > 0 && alerts + i64::from(row.alert_count) > BATCH_ALERTS {
                break;
            }
            alerts += i64::from(row.alert_count);
            take += 1;
        }
        rows.truncate(take);
        let mut sources: HashMap<i64, Integration> = HashMap::new();
        let mut rows = rows.into_iter().peekable();
        while let Some(first) = rows.next() {
            // A run of deliveries of one integration (and Alertmanager) is
            // applied at once; if that fails, one by one, so that only the
            // failing delivery counts an attempt.
            let mut run = vec![first];
            while let Some(next) = rows.next_if(|r| {
                r.integration_id == run[0].integration_id && r.external_url == run[0].external_url
            }) {
                run.push(next);
            }
            if run.len() > 1 {
                let together = conn
                    .transaction(async |conn| apply_run(conn, &run, &mut sources).await)
                    .await;
                match together {
                    Ok(receipts) => {
                        let done: Vec<(i64, serde_json::Value)> = run
                            .iter()
                            .zip(&receipts)
                            .map(|(row, receipt)| {
                                let lines = serde_json::to_value(receipt_lines(receipt))
                                    .unwrap_or(serde_json::Value::Null);
                                (row.id, lines)
                            })
                            .collect();
                        alert_inbox::applied_many(conn, &done).await?;
                        pass.together += run.len();
                        pass.applied
                            .extend(run.iter().map(|row| row.id).zip(receipts));
                        continue;
                    }
                    Err(e) if transient(&e) => {
                        tracing::info!(error = %e, "a run of alert deliveries will be applied again");
                        pass.again = true;
                        break;
                    }
                    Err(e) => {
                        tracing::info!(error = %e, "a run of alert deliveries failed; applying them one by one");
                    }
                }
            }
            if !apply_each(conn, run, &mut sources, &mut pass).await? {
                break;
            }
        }
        Ok::<_, TicketError>(pass)
    })
    .await
}

/// Applies deliveries one by one, each in a savepoint; answers whether
/// the pass may go on (false when one failed and waits for its next
/// attempt, or met a transient failure).
async fn apply_each(
    conn: &mut AsyncPgConnection,
    rows: Vec<Pending>,
    sources: &mut HashMap<i64, Integration>,
    pass: &mut Pass,
) -> Result<bool, TicketError> {
    for row in rows {
        let id = row.id;
        let applied = conn
            .transaction(async |conn| apply_one(conn, row, sources).await)
            .await;
        match applied {
            Ok(receipt) => {
                let lines = serde_json::to_value(receipt_lines(&receipt))
                    .unwrap_or(serde_json::Value::Null);
                alert_inbox::applied(conn, id, &lines).await?;
                pass.applied.push((id, receipt));
            }
            Err(e) if transient(&e) => {
                // Not the delivery's fault: tried again at once,
                // without counting an attempt.
                tracing::info!(delivery = id, error = %e, "an alert delivery will be applied again");
                pass.again = true;
                return Ok(false);
            }
            Err(e) => {
                tracing::warn!(delivery = id, error = %e, "an alert delivery failed to apply");
                if alert_inbox::attempt_failed(conn, id, &e.to_string(), MAX_ATTEMPTS).await? {
                    tracing::error!(delivery = id, error = %e, "alert delivery {id} parked as failed after {MAX_ATTEMPTS} attempts");
                    pass.parked.push(id);
                } else {
                    // Later deliveries may concern the same alerts: they
                    // wait for this one's next attempt.
                    pass.retry = true;
                    return Ok(false);
                }
            }
        }
    }
    Ok(true)
}

/// A failure that says nothing about the delivery: another transaction
/// was in the way.
fn transient(e: &TicketError) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        TicketError::Database(Error::DatabaseError(DatabaseErrorKind::SerializationFailure, _)) => {
            true
        }
        TicketError::Database(Error::DatabaseError(_, info)) => {
            info.message().contains("deadlock detected")
        }
        _ => false,
    }
}

/// The integration of a delivery, looked up once per pass.
async fn source(
    conn: &mut AsyncPgConnection,
    id: i64,
    sources: &mut HashMap<i64, Integration>,
) -> Result<Integration, TicketError> {
    if let Some(i) = sources.get(&id) {
        return Ok(i.clone());
    }
    // A revoked integration's accepted deliveries are still applied: they
    // were acknowledged.
    let i = integrations::find(conn, id)
        .await?
        .ok_or(TicketError::NotFound)?;
    sources.insert(i.id, i.clone());
    Ok(i)
}

async fn apply_one(
    conn: &mut AsyncPgConnection,
    row: Pending,
    sources: &mut HashMap<i64, Integration>,
) -> Result<Receipt, TicketError> {
    let integration = source(conn, row.integration_id, sources).await?;
    let by_fp = incoming(&row.alerts)?;
    if by_fp.is_empty() {
        return Ok(Receipt::default());
    }
    intake::apply(conn, &integration, &row.external_url, by_fp).await
}

/// Applies a run of deliveries of one integration and Alertmanager at
/// once (`intake::apply_many`): what applying them one after the other
/// would do, in far fewer statements.
async fn apply_run(
    conn: &mut AsyncPgConnection,
    run: &[Pending],
    sources: &mut HashMap<i64, Integration>,
) -> Result<Vec<Receipt>, TicketError> {
    let Some(first) = run.first() else {
        return Ok(Vec::new());
    };
    let integration = source(conn, first.integration_id, sources).await?;
    let deliveries = run
        .iter()
        .map(|row| incoming(&row.alerts))
        .collect::<Result<Vec<_>, _>>()?;
    intake::apply_many(conn, &integration, &first.external_url, &deliveries).await
}

/// What `apply_pending` did.
#[derive(Debug, Default)]
pub struct Drained {
    pub applied: usize,
    /// Of those, applied in runs of several deliveries at once.
    pub together: usize,
    pub parked: usize,
    /// A delivery failed and waits for its next attempt.
    pub retry: bool,
    /// Another instance's applier held the inbox.
    pub busy: bool,
}

/// Applies pending deliveries until none is left, one fails (it is tried
/// again on the next call, or parked if that was its last attempt), or
/// another applier holds the inbox; counts the alerts in `metrics`.
pub async fn apply_pending(
    conn: &mut AsyncPgConnection,
    metrics: &Metrics,
) -> Result<Drained, TicketError> {
    let mut drained = Drained::default();
    loop {
        let pass = apply_batch(conn).await?;
        for (_, receipt) in &pass.applied {
            receipt.count_in(metrics);
        }
        drained.applied += pass.applied.len();
        drained.together += pass.together;
        drained.parked += pass.parked.len();
        if pass.retry {
            drained.retry = true;
            return Ok(drained);
        }
        if pass.busy || !pass.did_something() {
            drained.busy = pass.busy;
            return Ok(drained);
        }
    }
}

/// The applier: applies what is pending at start (what a crash or a stop
/// left), then whenever a delivery is accepted, on any instance.
pub fn spawn(
    pool: DbPool,
    metrics: Arc<Metrics>,
    wake: Arc<tokio::sync::Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut pruned_at: Option<std::time::Instant> = None;
        loop {
            let mut pause = IDLE_LOOK;
            match pool.get().await {
                Ok(mut conn) => {
                    match apply_pending(&mut conn, &metrics).await {
                        Ok(d) => {
                            if d.applied > 0 {
                                tracing::debug!("applied {} alert delivery(ies)", d.applied);
                            }
                            if d.retry {
                                // A failing delivery: tried again soon, not
                                // in a tight loop.
                                pause = Duration::from_secs(1);
                            } else if d.busy {
                                // Another instance's applier is at work; it
                                // may have looked before this process's
                                // last delivery committed (there is no
                                // NOTIFY), so look again shortly.
                                pause = BUSY_LOOK;
                            }
                        }
                        // The rows stay pending; the next look tries again.
                        Err(e) => {
                            tracing::warn!(error = %e, "applying the alert inbox failed");
                            pause = Duration::from_secs(1);
                        }
                    }
                    if pruned_at.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
                        pruned_at = Some(std::time::Instant::now());
                        let before = Utc::now() - chrono::Duration::hours(KEEP_APPLIED_HOURS);
                        if let Err(e) = alert_inbox::prune(&mut conn, before).await {
                            tracing::warn!("alert inbox: old deliveries not pruned: {e}");
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!("alert applier: no database connection: {e}");
                    pause = Duration::from_secs(1);
                }
            }
            if pause == IDLE_LOOK {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(pause) => {}
                }
            } else {
                tokio::time::sleep(pause).await;
            }
        }
    })
}
