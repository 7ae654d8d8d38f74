//! Triage on arrival: a ticket opened from an alert gets its suggested
//! models computed and recorded as a triage search by the integration's
//! account, a model that declares the alert's name (or that its
//! `runbook_url` names) first.
//!
//! The intake only queues the work (`arrival_triage`, in the delivery's
//! transaction), so a burst of alerts is not held up by up to a hundred
//! searches per request. The arrival worker, one task per process, takes
//! queued rows after the commit (`FOR UPDATE SKIP LOCKED`, so several
//! instances share the queue; the searches run before the claim, so no
//! ticket is locked while they run), records each triage and deletes its
//! row in one transaction: a crash before that commit leaves the row, and the
//! next start triages the ticket; a crash after it leaves nothing to do.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::TicketError;
use crate::db::DbPool;
use crate::db::arrival_triage::{self, Queued};
use crate::db::integrations;
use crate::db::journal::{self, NewEntry};
use crate::domain::account::UserId;
use crate::domain::policy::Visibility;
use crate::domain::ticket::{EntryKind, TicketId};
use crate::search::{SearchError, SearchIndex};

/// Tickets triaged in one transaction.
pub const BATCH: i64 = 50;
/// Suggestions recorded per ticket.
const SUGGESTIONS: usize = 10;
/// A look at the queue even when no notification came (a missed NOTIFY,
/// rows left by a failed batch).
const IDLE_LOOK: Duration = Duration::from_secs(5);

/// Triages up to `limit` queued tickets in one transaction; answers how
/// many (0: nothing is queued that another worker or transaction does not
/// hold).
///
/// The searches (CPU work, tens of milliseconds for a batch) run before the
/// transaction, on rows read without locks; the transaction then claims
/// those rows and their tickets (skipping any held elsewhere) and records
/// the results. So no ticket is locked while the searches run: the alert
/// applier, firing again on a ticket just opened, does not wait for them.
pub async fn triage_batch(
    conn: &mut AsyncPgConnection,
    index: &SearchIndex,
    limit: i64,
) -> Result<usize, TicketError> {
    let peeked = arrival_triage::peek(conn, limit).await?;
    if peeked.is_empty() {
        return Ok(0);
    }
    let alertnames: Vec<String> = peeked
        .iter()
        .filter(|q| !q.alertname.is_empty())
        .map(|q| q.alertname.clone())
        .collect();
    let keys: Vec<String> = peeked
        .iter()
        .filter_map(|q| q.runbook_key.clone())
        .collect();
    let declared = integrations::declared_models(conn, &alertnames, &keys).await?;
    let queries: Vec<String> = peeked.iter().map(|q| q.query.clone()).collect();
    let index = index.clone();
    // The search is CPU work: off the async workers.
    let found = tokio::task::spawn_blocking(move || {
        queries
            .iter()
            .map(|q| crate::search::triage::suggest_models(&index, q, SUGGESTIONS))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| {
        SearchError::Index(tantivy::TantivyError::SystemError(format!(
            "the triage search task failed: {e}"
        )))
    })??;
    let mut results: HashMap<i64, serde_json::Value> = peeked
        .iter()
        .zip(&found)
        .map(|(q, suggestions)| (q.ticket_id, ranked(q, &declared, suggestions)))
        .collect();
    let ids: Vec<i64> = peeked.iter().map(|q| q.ticket_id).collect();
    conn.transaction(async move |conn| {
        let queued = arrival_triage::claim(conn, &ids).await?;
        if queued.is_empty() {
            return Ok(0);
        }
        let records: Vec<(TicketId, UserId, &str, serde_json::Value)> = queued
            .iter()
            .map(|q| {
                (
                    TicketId(q.ticket_id),
                    UserId(q.user_id),
                    q.query.as_str(),
                    results
                        .remove(&q.ticket_id)
                        .unwrap_or(serde_json::Value::Array(Vec::new())),
                )
            })
            .collect();
        let counts: HashMap<i64, usize> = records
            .iter()
            .map(|(t, _, _, r)| (t.0, r.as_array().map_or(0, Vec::len)))
            .collect();
        let searches = crate::db::triage::record_many(conn, &records).await?;
        let entries = queued
            .iter()
            .map(|q| NewEntry {
                ticket: TicketId(q.ticket_id),
                author: Some(UserId(q.user_id)),
                kind: EntryKind::Triage,
                visibility: Visibility::Internal,
                body: "",
                data: json!({
                    "query": q.query,
                    "results": counts.get(&q.ticket_id).copied().unwrap_or(0),
                    "search_id": searches.get(&q.ticket_id),
                    "on_arrival": true,
                }),
            })
            .collect();
        journal::add_many(conn, entries).await?;
        let done: Vec<i64> = queued.iter().map(|q| q.ticket_id).collect();
        arrival_triage::done(conn, &done).await?;
        Ok::<_, TicketError>(done.len())
    })
    .await
}

/// Triages everything queued (that no other worker holds); how many.
pub async fn triage_pending(
    conn: &mut AsyncPgConnection,
    index: &SearchIndex,
) -> Result<usize, TicketError> {
    let mut total = 0;
    loop {
        match triage_batch(conn, index, BATCH).await? {
            0 => return Ok(total),
            n => total += n,
        }
    }
}

/// The suggestions as recorded: the models that declare the alert first,
/// then the ranked ones, at most ten.
fn ranked(
    q: &Queued,
    declared: &[(String, String, Vec<Option<String>>)],
    suggestions: &[crate::search::triage::Suggestion],
) -> serde_json::Value {
    let first: Vec<(&str, &str)> = declared
        .iter()
        .filter(|(key, _, names)| {
            q.runbook_key.as_deref() == Some(key.as_str())
                || (!q.alertname.is_empty() && names.iter().flatten().any(|n| n == &q.alertname))
        })
        .map(|(key, title, _)| (key.as_str(), title.as_str()))
        .collect();
    let mut results: Vec<serde_json::Value> = first
        .iter()
        .map(|(key, title)| json!({ "key": key, "title": title, "declared": true }))
        .collect();
    results.extend(
        suggestions
            .iter()
            .filter(|s| !first.iter().any(|(key, _)| *key == s.key))
            .map(|s| json!({ "key": s.key, "title": s.title, "score": s.score })),
    );
    results.truncate(SUGGESTIONS);
    serde_json::Value::Array(results)
}

/// The arrival worker: triages what is queued at start (what a crash or a
/// stop left), then whenever a delivery queues more.
pub fn spawn(
    pool: DbPool,
    index: SearchIndex,
    wake: Arc<tokio::sync::Notify>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match pool.get().await {
                Ok(mut conn) => match triage_pending(&mut conn, &index).await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!("triaged {n} ticket(s) on arrival"),
                    // The rows stay queued; the next look tries again.
                    Err(e) => tracing::warn!(error = %e, "triage on arrival failed"),
                },
                Err(e) => tracing::warn!("arrival worker: no database connection: {e}"),
            }
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(IDLE_LOOK) => {}
            }
        }
    })
}
