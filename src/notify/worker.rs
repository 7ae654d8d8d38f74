//! The delivery worker: one task per process, started by `serve`. It asks
//! for due rows that head their recipient's queue, and sends each in a task
//! of its own (at most `CONCURRENCY` at once, on a pool of its own, so a
//! slow relay or a hanging endpoint holds neither request connections nor
//! other deliveries).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use diesel_async::AsyncConnection;

use super::Tried;
use crate::config::Delivery as Settings;
use crate::db::DbPool;
use crate::db::deliveries::{self, Outcome};

const CONCURRENCY: usize = 4;
/// A look at the table even when no notification came (a missed NOTIFY,
/// a retry falling due).
const IDLE_LOOK: Duration = Duration::from_secs(5);

pub fn spawn(
    pool: DbPool,
    settings: Settings,
    wake: Arc<tokio::sync::Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(run(pool, Arc::new(settings), wake))
}

async fn run(pool: DbPool, settings: Arc<Settings>, wake: Arc<tokio::sync::Notify>) {
    let mailer = match super::mail_out::Mailer::new(&settings) {
        Ok(mailer) => mailer.map(Arc::new),
        Err(e) => {
            tracing::error!("mail is not sent: {e}");
            None
        }
    };
    if mailer.is_none() {
        tracing::warn!("no SMTP relay configured: mail notifications are dropped, not sent");
    }
    let slots = Arc::new(tokio::sync::Semaphore::new(CONCURRENCY));
    let in_flight: Arc<Mutex<HashSet<i64>>> = Arc::default();
    loop {
        let busy: Vec<i64> = in_flight
            .lock()
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        let (due, next) = match pool.get().await {
            Ok(mut conn) => {
                let due = deliveries::due(&mut conn, 32, &busy).await;
                let next = deliveries::next_due(&mut conn).await;
                match (due, next) {
                    (Ok(due), Ok(next)) => (due, next),
                    (Err(e), _) | (_, Err(e)) => {
                        tracing::warn!("delivery worker: {e}");
                        (Vec::new(), None)
                    }
                }
            }
            Err(e) => {
                tracing::warn!("delivery worker: no database connection: {e}");
                (Vec::new(), None)
            }
        };
        for id in due {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            if let Ok(mut set) = in_flight.lock() {
                set.insert(id);
            }
            let (pool, settings, mailer, in_flight, wake) = (
                pool.clone(),
                settings.clone(),
                mailer.clone(),
                in_flight.clone(),
                wake.clone(),
            );
            tokio::spawn(async move {
                if let Err(e) = deliver(&pool, &settings, mailer.as_deref(), id).await {
                    tracing::warn!(delivery.id = id, "delivery {id} could not be recorded: {e}");
                }
                if let Ok(mut set) = in_flight.lock() {
                    set.remove(&id);
                }
                drop(permit);
                // The recipient's next message may be due now.
                wake.notify_one();
            });
        }
        let wait = next
            .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(IDLE_LOOK)
            .clamp(Duration::from_millis(20), IDLE_LOOK);
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum DeliverError {
    #[error("no database connection: {0}")]
    Pool(String),
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
}

/// Claims, sends and records one delivery in one transaction.
async fn deliver(
    pool: &DbPool,
    settings: &Arc<Settings>,
    mailer: Option<&super::mail_out::Mailer>,
    id: i64,
) -> Result<(), DeliverError> {
    let mut conn = pool
        .get()
        .await
        .map_err(|e| DeliverError::Pool(e.to_string()))?;
    let settings = settings.clone();
    conn.transaction(async move |conn| {
        let Some(delivery) = deliveries::claim(conn, id).await? else {
            return Ok(());
        };
        let tried = match delivery.channel.as_str() {
            "mail" => super::mail_out::deliver(conn, &settings, mailer, &delivery).await?,
            "webhook" => super::webhook_out::deliver(conn, &settings, &delivery).await?,
            other => Tried::Permanent(format!("unknown channel {other:?}")),
        };
        let attempt = delivery.attempts + 1;
        let outcome = match tried {
            Tried::Sent(detail) => {
                tracing::info!(
                    delivery.id = id,
                    delivery.channel = %delivery.channel,
                    "delivered {} {id} to {}: {detail}",
                    delivery.channel,
                    delivery.recipient
                );
                Outcome::Sent(detail)
            }
            Tried::Dropped(why) => {
                tracing::info!(delivery.id = id, "dropped delivery {id}: {why}");
                Outcome::Dropped(why)
            }
            Tried::Permanent(error) => {
                tracing::warn!(delivery.id = id, "delivery {id} failed for good: {error}");
                Outcome::Failed(error)
            }
            Tried::Transient(error) if attempt >= settings.max_attempts => {
                tracing::warn!(
                    delivery.id = id,
                    "delivery {id} failed after {attempt} tries: {error}"
                );
                Outcome::Failed(format!("{error} (gave up after {attempt} tries)"))
            }
            Tried::Transient(error) => {
                let wait = crate::domain::notice::backoff(
                    attempt,
                    settings.retry_base,
                    settings.retry_max,
                );
                let at = Utc::now()
                    + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1));
                tracing::info!(
                    delivery.id = id,
                    "delivery {id} try {attempt} failed ({error}); next try in {wait:?}"
                );
                Outcome::Retry { error, at }
            }
        };
        deliveries::finish(conn, &delivery, &outcome).await?;
        Ok(())
    })
    .await
}
