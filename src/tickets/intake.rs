//! Alert intake: a delivery of alerts from an integration (Alertmanager's
//! webhook or the generic JSON intake) opens, updates, resolves or reopens
//! tickets, in one transaction per delivery.
//!
//! Idempotence: each alert has one row in `alerts`, unique per
//! (integration, fingerprint). The delivery inserts the rows it lacks
//! (`ON CONFLICT DO NOTHING`) and then locks all its rows `FOR UPDATE`, in
//! fingerprint order, so concurrent deliveries of the same alert run one
//! after the other and the second sees what the first did: a retry or a
//! repeat notification changes nothing, and sixteen identical deliveries
//! at once open one ticket.
//!
//! Triage on arrival: after the commit, the tickets just opened get their
//! model suggestions computed and recorded as a triage search by the
//! integration's account, a model that declares the alert's name (or that
//! its `runbook_url` names) first.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::{TicketError, edit, status_entry_with};
use crate::db::integrations::{self, AlertUpdate, Integration};
use crate::db::journal::{self, NewEntry};
use crate::db::tickets::{self, NewTicket};
use crate::domain::FieldError;
use crate::domain::account::UserId;
use crate::domain::alert::{AlertStatus, Decision, Incoming, Known, MAX_ALERTS, decide, is_repeat};
use crate::domain::policy::Visibility;
use crate::domain::ticket::{EntryKind, Status, TicketId};
use crate::search::SearchIndex;

/// What happened to one alert of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertResult {
    pub fingerprint: String,
    pub ticket: Option<TicketId>,
    pub decision: Decision,
}

/// What a delivery did, alert by alert (in fingerprint order).
#[derive(Debug, Clone, Default)]
pub struct Receipt {
    pub alerts: Vec<AlertResult>,
}

impl Receipt {
    pub fn count(&self, decision: Decision) -> usize {
        self.alerts
            .iter()
            .filter(|a| a.decision == decision)
            .count()
    }
}

/// A ticket just opened, for triage after the commit.
struct Opened {
    ticket: TicketId,
    query: String,
    alertname: String,
    runbook_key: Option<String>,
}

pub async fn receive(
    conn: &mut AsyncPgConnection,
    index: &SearchIndex,
    integration: &Integration,
    external_url: &str,
    alerts: Vec<Incoming>,
) -> Result<Receipt, TicketError> {
    if alerts.len() > MAX_ALERTS {
        return Err(FieldError::new(
            "alerts",
            format!("at most {MAX_ALERTS} alerts in one delivery"),
        )
        .into());
    }
    for (n, alert) in alerts.iter().enumerate() {
        alert.check(n + 1)?;
    }
    super::no_nul("externalURL", external_url)?;
    // One alert once per delivery: the last word on it counts.
    let mut by_fp: BTreeMap<String, Incoming> = BTreeMap::new();
    for mut alert in alerts {
        alert.fingerprint = alert.fingerprint.trim().to_owned();
        by_fp.insert(alert.fingerprint.clone(), alert);
    }
    if by_fp.is_empty() {
        return Ok(Receipt::default());
    }
    let (receipt, opened) = conn
        .transaction(async |conn| apply(conn, integration, external_url, by_fp).await)
        .await?;
    if !opened.is_empty()
        && let Err(e) = triage_opened(conn, index, UserId(integration.user_id), opened).await
    {
        // The tickets are in; a triager can still search by hand.
        tracing::error!(error = %e, "triage on arrival failed");
    }
    Ok(receipt)
}

async fn apply(
    conn: &mut AsyncPgConnection,
    integration: &Integration,
    external_url: &str,
    mut by_fp: BTreeMap<String, Incoming>,
) -> Result<(Receipt, Vec<Opened>), TicketError> {
    let mut receipt = Receipt::default();
    // A first look, without locks: a notification that repeats what is
    // known (most of a burst: retries, groups re-sent) is answered from it
    // and neither waits for nor holds a lock.
    {
        let wanted: Vec<&str> = by_fp.keys().map(String::as_str).collect();
        for row in integrations::peek(conn, integration.id, &wanted).await? {
            let repeat = by_fp
                .get(&row.fingerprint)
                .is_some_and(|alert| is_repeat(row.status(), row.starts_at, alert));
            if repeat {
                by_fp.remove(&row.fingerprint);
                receipt.alerts.push(AlertResult {
                    fingerprint: row.fingerprint,
                    ticket: row.ticket_id.map(TicketId),
                    decision: Decision::Unchanged,
                });
            }
        }
    }
    if by_fp.is_empty() {
        receipt
            .alerts
            .sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
        return Ok((receipt, Vec::new()));
    }
    let firing: Vec<&str> = by_fp
        .values()
        .filter(|a| a.status == AlertStatus::Firing)
        .map(|a| a.fingerprint.as_str())
        .collect();
    let wanted: Vec<&str> = by_fp.keys().map(String::as_str).collect();
    let rows = integrations::lock(conn, integration.id, &firing, &wanted).await?;
    let ticket_ids: Vec<i64> = rows.iter().filter_map(|r| r.ticket_id).collect();
    let statuses: HashMap<i64, tickets::Ticket> = tickets::lock_many(conn, &ticket_ids)
        .await?
        .into_iter()
        .map(|t| (t.id.0, t))
        .collect();
    let resolved_at: HashMap<i64, _> = integrations::resolved_at(conn, &ticket_ids)
        .await?
        .into_iter()
        .collect();
    let mapping = integration.mapping();
    let user = UserId(integration.user_id);
    let window = Duration::minutes(i64::from(integration.reopen_window_minutes));
    let now = Utc::now();
    let mut opened = Vec::new();
    for row in rows {
        let Some(alert) = by_fp.get(&row.fingerprint) else {
            continue;
        };
        let ticket = row.ticket_id.and_then(|id| statuses.get(&id));
        let known = ticket.map(|t| Known {
            status: row.status(),
            starts_at: row.starts_at,
            ticket: t.status(),
            resolved_at: resolved_at.get(&t.id.0).copied().flatten(),
        });
        let decision = decide(known, alert, now, window);
        let mut update = AlertUpdate {
            id: row.id,
            ticket: 0,
            status: alert.status,
            fire_count: row.fire_count,
            starts_at: alert.starts_at.or(row.starts_at),
            ends_at: alert
                .ends_at
                .filter(|_| alert.status == AlertStatus::Resolved),
            group_key: &alert.group_key,
            alertname: alert.alertname(),
        };
        let ticket_id = match (decision, ticket) {
            (Decision::Open, _) => {
                let (title, description, priority, category) = edit::checked(
                    &alert.title(),
                    &alert.description(external_url),
                    &mapping.priority(alert).to_string(),
                    &mapping.category(alert),
                )?;
                let category = edit::listed_spelling(conn, category).await?;
                let created = tickets::create(
                    conn,
                    NewTicket {
                        title: &title,
                        description: &description,
                        requester: user,
                        organization: integration.organization_id,
                        priority,
                        category: &category,
                    },
                )
                .await?;
                alert_entry(
                    conn,
                    created.id,
                    user,
                    json!({ "alert": "opened", "integration": integration.name, "fingerprint": alert.fingerprint }),
                )
                .await?;
                update.fire_count = 1;
                opened.push(Opened {
                    ticket: created.id,
                    query: alert.triage_query(),
                    alertname: alert.alertname().to_owned(),
                    runbook_key: alert.runbook_key(),
                });
                Some(created.id)
            }
            (Decision::FiredAgain | Decision::Reopen, Some(ticket)) => {
                update.fire_count = row.fire_count + 1;
                if decision == Decision::Reopen {
                    tickets::set_status(conn, ticket, Status::InProgress, Some(user)).await?;
                    status_entry_with(
                        conn,
                        ticket.id,
                        user,
                        ticket.status(),
                        Status::InProgress,
                        "Reopened: the alert fired again.",
                    )
                    .await?;
                }
                alert_entry(
                    conn,
                    ticket.id,
                    user,
                    json!({ "alert": "fired_again", "count": update.fire_count, "fingerprint": alert.fingerprint }),
                )
                .await?;
                Some(ticket.id)
            }
            (Decision::Resolved, Some(ticket)) => {
                alert_entry(
                    conn,
                    ticket.id,
                    user,
                    json!({ "alert": "resolved", "ends_at": alert.ends_at.map(|t| t.to_rfc3339()), "fingerprint": alert.fingerprint }),
                )
                .await?;
                let from = ticket.status();
                if integration.resolve_on_resolved
                    && from.is_open()
                    && from.transition(Status::Resolved, "x").is_ok()
                {
                    tickets::set_status(conn, ticket, Status::Resolved, Some(user)).await?;
                    status_entry_with(
                        conn,
                        ticket.id,
                        user,
                        from,
                        Status::Resolved,
                        "Resolved automatically: the alert resolved.",
                    )
                    .await?;
                }
                Some(ticket.id)
            }
            (_, ticket) => {
                receipt.alerts.push(AlertResult {
                    fingerprint: row.fingerprint.clone(),
                    ticket: ticket.map(|t| t.id),
                    decision: Decision::Unchanged,
                });
                continue;
            }
        };
        if let Some(id) = ticket_id {
            update.ticket = id.0;
            integrations::save(conn, update).await?;
        }
        receipt.alerts.push(AlertResult {
            fingerprint: row.fingerprint.clone(),
            ticket: ticket_id,
            decision,
        });
    }
    // Resolutions of alerts never seen: nothing to do, said so.
    for fp in by_fp.keys() {
        if !receipt.alerts.iter().any(|a| &a.fingerprint == fp) {
            receipt.alerts.push(AlertResult {
                fingerprint: fp.clone(),
                ticket: None,
                decision: Decision::Unchanged,
            });
        }
    }
    receipt
        .alerts
        .sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
    Ok((receipt, opened))
}

/// An internal entry saying what the alert did; the page words it from
/// `data` (`web::tickets::view`).
async fn alert_entry(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    user: UserId,
    data: serde_json::Value,
) -> Result<(), TicketError> {
    journal::add(
        conn,
        NewEntry {
            ticket,
            author: Some(user),
            kind: EntryKind::System,
            visibility: Visibility::Internal,
            body: "",
            data,
        },
    )
    .await?;
    Ok(())
}

/// Computes and records the suggestions for the tickets just opened: one
/// triage search each, by the integration's account.
async fn triage_opened(
    conn: &mut AsyncPgConnection,
    index: &SearchIndex,
    user: UserId,
    opened: Vec<Opened>,
) -> Result<(), TicketError> {
    let alertnames: Vec<String> = opened
        .iter()
        .filter(|o| !o.alertname.is_empty())
        .map(|o| o.alertname.clone())
        .collect();
    let keys: Vec<String> = opened
        .iter()
        .filter_map(|o| o.runbook_key.clone())
        .collect();
    let declared = integrations::declared_models(conn, &alertnames, &keys).await?;
    let index = index.clone();
    let queries: Vec<String> = opened.iter().map(|o| o.query.clone()).collect();
    let found = tokio::task::spawn_blocking(move || {
        queries
            .iter()
            .map(|q| crate::search::triage::suggest_models(&index, q, 10))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| TicketError::Invalid(FieldError::new("triage", e.to_string())))??;
    conn.transaction(async move |conn| {
        for (o, suggestions) in opened.iter().zip(found) {
            let first: Vec<(String, String)> = declared
                .iter()
                .filter(|(key, _, names)| {
                    o.runbook_key.as_deref() == Some(key.as_str())
                        || (!o.alertname.is_empty()
                            && names.iter().flatten().any(|n| n == &o.alertname))
                })
                .map(|(key, title, _)| (key.clone(), title.clone()))
                .collect();
            let mut results: Vec<serde_json::Value> = first
                .iter()
                .map(|(key, title)| json!({ "key": key, "title": title, "declared": true }))
                .collect();
            results.extend(
                suggestions
                    .iter()
                    .filter(|s| !first.iter().any(|(key, _)| key == &s.key))
                    .map(|s| json!({ "key": s.key, "title": s.title, "score": s.score })),
            );
            results.truncate(10);
            let count = results.len();
            let search_id = crate::db::triage::record(
                conn,
                o.ticket,
                user,
                &o.query,
                serde_json::Value::Array(results),
            )
            .await?;
            journal::add(
                conn,
                NewEntry {
                    ticket: o.ticket,
                    author: Some(user),
                    kind: EntryKind::Triage,
                    visibility: Visibility::Internal,
                    body: "",
                    data: json!({ "query": o.query, "results": count, "search_id": search_id, "on_arrival": true }),
                },
            )
            .await?;
        }
        Ok::<_, TicketError>(())
    })
    .await
}
