//! Alert intake: a delivery of alerts from an integration (Alertmanager's
//! webhook or the generic JSON intake) opens, updates, resolves or reopens
//! tickets. `check` refuses bad input before anything is written; `apply`
//! does the work in the caller's transaction: the generic intake's request
//! (`receive`), or the inbox's applier for Alertmanager's deliveries
//! (`tickets::inbox`).
//!
//! Idempotence: each alert has one row in `alerts`, unique per
//! (integration, fingerprint). The delivery inserts the rows it lacks
//! (`ON CONFLICT DO NOTHING`) and then locks all its rows `FOR UPDATE`, in
//! fingerprint order, so concurrent deliveries of the same alert run one
//! after the other and the second sees what the first did: a retry or a
//! repeat notification changes nothing, and sixteen identical deliveries
//! at once open one ticket.
//!
//! Writes are batched: the tickets a delivery opens, their transitions,
//! outbox rows and journal entries, and the alert rows' new state are a few
//! multi-row statements, not a few per alert, so the row locks are held
//! briefly.
//!
//! Triage on arrival: the tickets just opened are queued for it in the same
//! transaction (`arrival_triage`); the arrival worker (`tickets::arrival`)
//! records their suggestions after the commit, outside the request.

use std::collections::{BTreeMap, HashMap};

use chrono::{Duration, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use serde_json::json;

use super::{TicketError, edit, new_status_entry};
use crate::db::arrival_triage::{self, Queued};
use crate::db::integrations::{self, AlertUpdate, Integration};
use crate::db::journal::{self, NewEntry};
use crate::db::tickets::{self, NewTicket};
use crate::domain::FieldError;
use crate::domain::account::UserId;
use crate::domain::alert::{AlertStatus, Decision, Incoming, Known, MAX_ALERTS, decide, is_repeat};
use crate::domain::policy::Visibility;
use crate::domain::ticket::{EntryKind, Priority, Status, TicketId};

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

    /// Counts the applied alerts in `/metrics`: those that opened a ticket;
    /// those that opened none because their ticket exists (fired again, a
    /// retry, a repeat). The request's intake and the inbox's applier both
    /// count through here.
    pub fn count_in(&self, metrics: &crate::metrics::Metrics) {
        for alert in &self.alerts {
            match alert.decision {
                Decision::Open => metrics.alert_opened(),
                Decision::FiredAgain | Decision::Unchanged => metrics.alert_deduplicated(),
                Decision::Reopen | Decision::Resolved => {}
            }
        }
    }
}

/// A ticket an alert of the delivery opens, checked, before the batch
/// insert.
struct ToOpen<'a> {
    update: AlertUpdate<'a>,
    fingerprint: String,
    title: String,
    description: String,
    priority: Priority,
    category: String,
    query: String,
    alertname: String,
    runbook_key: Option<String>,
}

/// Applies a delivery at once, in one transaction (the generic intake:
/// its callers want the ticket id in the answer).
pub async fn receive(
    conn: &mut AsyncPgConnection,
    integration: &Integration,
    external_url: &str,
    alerts: Vec<Incoming>,
) -> Result<Receipt, TicketError> {
    let by_fp = check(integration, external_url, alerts)?;
    if by_fp.is_empty() {
        return Ok(Receipt::default());
    }
    conn.transaction(async |conn| apply(conn, integration, external_url, by_fp).await)
        .await
}

/// Refuses a delivery that could not be applied, before anything is
/// written: too many alerts, an alert that cannot be stored, a firing
/// alert whose ticket could not be opened (its title, description,
/// priority or category). Answers the alerts by fingerprint: one alert
/// once per delivery, the last word on it counts.
pub fn check(
    integration: &Integration,
    external_url: &str,
    alerts: Vec<Incoming>,
) -> Result<BTreeMap<String, Incoming>, TicketError> {
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
    let mapping = integration.mapping();
    let mut by_fp: BTreeMap<String, Incoming> = BTreeMap::new();
    for mut alert in alerts {
        alert.fingerprint = alert.fingerprint.trim().to_owned();
        by_fp.insert(alert.fingerprint.clone(), alert);
    }
    // What an opening would check, checked now: a delivery accepted into
    // the inbox does not fail later on its own input.
    for alert in by_fp.values() {
        if alert.status == AlertStatus::Firing {
            edit::checked(
                &alert.title(),
                &alert.description(external_url),
                &mapping.priority(alert).to_string(),
                &mapping.category(alert),
            )?;
        }
    }
    Ok(by_fp)
}

/// Applies checked alerts (`check`) in the caller's transaction.
pub async fn apply(
    conn: &mut AsyncPgConnection,
    integration: &Integration,
    external_url: &str,
    mut by_fp: BTreeMap<String, Incoming>,
) -> Result<Receipt, TicketError> {
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
        return Ok(receipt);
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
    // What the delivery writes, gathered and written in batches below.
    let mut to_open: Vec<ToOpen> = Vec::new();
    let mut entries: Vec<NewEntry> = Vec::new();
    let mut updates: Vec<AlertUpdate> = Vec::new();
    let mut spellings: HashMap<String, String> = HashMap::new();
    // Reopened and resolved tickets, moved together after the loop.
    let mut moves: Vec<(&tickets::Ticket, Status)> = Vec::new();
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
                let category = match spellings.get(&category) {
                    Some(listed) => listed.clone(),
                    None => {
                        let listed = edit::listed_spelling(conn, category.clone()).await?;
                        spellings.insert(category, listed.clone());
                        listed
                    }
                };
                update.fire_count = 1;
                to_open.push(ToOpen {
                    update,
                    fingerprint: row.fingerprint.clone(),
                    title,
                    description,
                    priority,
                    category,
                    query: alert.triage_query(),
                    alertname: alert.alertname().to_owned(),
                    runbook_key: alert.runbook_key(),
                });
                // Its receipt line follows once the ticket has its id.
                continue;
            }
            (Decision::FiredAgain | Decision::Reopen, Some(ticket)) => {
                update.fire_count = row.fire_count + 1;
                if decision == Decision::Reopen {
                    moves.push((ticket, Status::InProgress));
                    entries.push(new_status_entry(
                        ticket.id,
                        user,
                        ticket.status(),
                        Status::InProgress,
                        "Reopened: the alert fired again.",
                    ));
                }
                entries.push(alert_entry(
                    ticket.id,
                    user,
                    json!({ "alert": "fired_again", "count": update.fire_count, "fingerprint": alert.fingerprint }),
                ));
                Some(ticket.id)
            }
            (Decision::Resolved, Some(ticket)) => {
                entries.push(alert_entry(
                    ticket.id,
                    user,
                    json!({ "alert": "resolved", "ends_at": alert.ends_at.map(|t| t.to_rfc3339()), "fingerprint": alert.fingerprint }),
                ));
                let from = ticket.status();
                if integration.resolve_on_resolved
                    && from.is_open()
                    && from.transition(Status::Resolved, "x").is_ok()
                {
                    moves.push((ticket, Status::Resolved));
                    entries.push(new_status_entry(
                        ticket.id,
                        user,
                        from,
                        Status::Resolved,
                        "Resolved automatically: the alert resolved.",
                    ));
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
            updates.push(update);
        }
        receipt.alerts.push(AlertResult {
            fingerprint: row.fingerprint.clone(),
            ticket: ticket_id,
            decision,
        });
    }
    tickets::set_status_many(conn, &moves, Some(user)).await?;
    let news: Vec<NewTicket> = to_open
        .iter()
        .map(|o| NewTicket {
            title: &o.title,
            description: &o.description,
            requester: user,
            organization: integration.organization_id,
            priority: o.priority,
            category: &o.category,
        })
        .collect();
    let created = tickets::create_many(conn, user, &news).await?;
    drop(news);
    let mut queued = Vec::with_capacity(created.len());
    for (o, ticket) in to_open.into_iter().zip(created) {
        entries.push(alert_entry(
            ticket.id,
            user,
            json!({ "alert": "opened", "integration": integration.name, "fingerprint": o.fingerprint }),
        ));
        queued.push(Queued {
            ticket_id: ticket.id.0,
            user_id: user.0,
            query: o.query,
            alertname: o.alertname,
            runbook_key: o.runbook_key,
        });
        let mut update = o.update;
        update.ticket = ticket.id.0;
        updates.push(update);
        receipt.alerts.push(AlertResult {
            fingerprint: o.fingerprint,
            ticket: Some(ticket.id),
            decision: Decision::Open,
        });
    }
    journal::add_many(conn, entries).await?;
    integrations::save_many(conn, &updates).await?;
    arrival_triage::enqueue(conn, &queued).await?;
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
    Ok(receipt)
}

/// An internal entry saying what the alert did; the page words it from
/// `data` (`web::tickets::view`).
fn alert_entry(ticket: TicketId, user: UserId, data: serde_json::Value) -> NewEntry<'static> {
    NewEntry {
        ticket,
        author: Some(user),
        kind: EntryKind::System,
        visibility: Visibility::Internal,
        body: "",
        data,
    }
}
