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
struct ToOpen {
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
    by_fp: BTreeMap<String, Incoming>,
) -> Result<Receipt, TicketError> {
    let mut receipts = apply_many(
        conn,
        integration,
        external_url,
        std::slice::from_ref(&by_fp),
    )
    .await?;
    Ok(receipts.pop().unwrap_or_default())
}

/// A ticket of the deliveries: one that exists, or the `n`th they open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum TicketRef {
    Known(i64),
    Opened(usize),
}

impl TicketRef {
    /// The ticket's id, given the ids of the tickets opened (in opening
    /// order); none for one that was not opened.
    fn id(self, opened: &[i64]) -> Option<i64> {
        match self {
            TicketRef::Known(id) => Some(id),
            TicketRef::Opened(n) => opened.get(n).copied(),
        }
    }
}

/// Where an alert row stands while the deliveries are gone through in
/// order: what the next notification of its fingerprint is decided on.
struct AlertState<'a> {
    id: i64,
    status: AlertStatus,
    starts_at: Option<chrono::DateTime<Utc>>,
    fire_count: i32,
    ticket: Option<TicketRef>,
    /// The last notification that changed it (written at the end) and how
    /// many did.
    last: Option<&'a Incoming>,
    received: i64,
}

/// A journal entry of a ticket that may not have its id yet.
enum Noted {
    Alert(TicketRef, serde_json::Value),
    Status(TicketRef, Status, Status, &'static str),
}

/// Applies several checked deliveries of one integration (`check`), in the
/// order given, in the caller's transaction; answers each one's receipt.
/// The result is what applying them one after the other would do — each
/// fingerprint's notifications are decided in delivery order on what the
/// ones before did — with the look-ups and writes of all of them made
/// together: a few statements per call, not per delivery.
pub async fn apply_many(
    conn: &mut AsyncPgConnection,
    integration: &Integration,
    external_url: &str,
    deliveries: &[BTreeMap<String, Incoming>],
) -> Result<Vec<Receipt>, TicketError> {
    let mut lines: Vec<Vec<(String, Option<TicketRef>, Decision)>> =
        deliveries.iter().map(|_| Vec::new()).collect();
    // A first look, without locks: a notification that repeats what is
    // known (most of a burst: retries, groups re-sent) is answered from it
    // and neither waits for nor holds a lock. Once a fingerprint has a
    // notification that is not a repeat, its later ones are decided below,
    // on the locked row.
    let mut work: Vec<(usize, &Incoming)> = Vec::new();
    {
        let all: std::collections::BTreeSet<&str> = deliveries
            .iter()
            .flat_map(|d| d.keys().map(String::as_str))
            .collect();
        let all: Vec<&str> = all.into_iter().collect();
        let peeked: HashMap<String, integrations::AlertRow> =
            integrations::peek(conn, integration.id, &all)
                .await?
                .into_iter()
                .map(|row| (row.fingerprint.clone(), row))
                .collect();
        let mut changing: std::collections::HashSet<&str> = std::collections::HashSet::new();
        for (d, delivery) in deliveries.iter().enumerate() {
            for (fp, alert) in delivery {
                let row = peeked.get(fp);
                let repeat = !changing.contains(fp.as_str())
                    && row.is_some_and(|row| is_repeat(row.status(), row.starts_at, alert));
                match row {
                    Some(row) if repeat => lines[d].push((
                        fp.clone(),
                        row.ticket_id.map(TicketRef::Known),
                        Decision::Unchanged,
                    )),
                    _ => {
                        changing.insert(fp.as_str());
                        work.push((d, alert));
                    }
                }
            }
        }
    }
    if work.is_empty() {
        return Ok(receipts(lines, &[]));
    }
    let mut firing: Vec<&str> = work
        .iter()
        .filter(|(_, a)| a.status == AlertStatus::Firing)
        .map(|(_, a)| a.fingerprint.as_str())
        .collect();
    firing.sort_unstable();
    firing.dedup();
    let mut wanted: Vec<&str> = work.iter().map(|(_, a)| a.fingerprint.as_str()).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let rows = integrations::lock(conn, integration.id, &firing, &wanted).await?;
    let ticket_ids: Vec<i64> = rows.iter().filter_map(|r| r.ticket_id).collect();
    let locked: HashMap<i64, tickets::Ticket> = tickets::lock_many(conn, &ticket_ids)
        .await?
        .into_iter()
        .map(|t| (t.id.0, t))
        .collect();
    // Only a resolved ticket's resolution time matters (the reopen window).
    let resolved: Vec<i64> = locked
        .values()
        .filter(|t| t.status() == Status::Resolved)
        .map(|t| t.id.0)
        .collect();
    let resolved_at: HashMap<i64, _> = integrations::resolved_at(conn, &resolved)
        .await?
        .into_iter()
        .collect();
    // Each ticket's status (and last resolution) as the deliveries move it.
    let mut ticket_state: HashMap<TicketRef, (Status, Option<chrono::DateTime<Utc>>)> = locked
        .values()
        .map(|t| {
            (
                TicketRef::Known(t.id.0),
                (t.status(), resolved_at.get(&t.id.0).copied().flatten()),
            )
        })
        .collect();
    let mut alerts: HashMap<&str, AlertState> = rows
        .iter()
        .map(|row| {
            (
                row.fingerprint.as_str(),
                AlertState {
                    id: row.id,
                    status: row.status(),
                    starts_at: row.starts_at,
                    fire_count: row.fire_count,
                    ticket: row
                        .ticket_id
                        .filter(|id| locked.contains_key(id))
                        .map(TicketRef::Known),
                    last: None,
                    received: 0,
                },
            )
        })
        .collect();
    let mapping = integration.mapping();
    let user = UserId(integration.user_id);
    let window = Duration::minutes(i64::from(integration.reopen_window_minutes));
    let now = Utc::now();
    // What the deliveries write, gathered and written in batches below.
    let mut to_open: Vec<ToOpen> = Vec::new();
    let mut noted: Vec<Noted> = Vec::new();
    let mut spellings: HashMap<String, String> = HashMap::new();
    // Status moves, in order: (ticket, from, to).
    let mut moves: Vec<(TicketRef, Status, Status)> = Vec::new();
    for (d, alert) in work {
        let fp = alert.fingerprint.as_str();
        // A resolution of an alert never seen firing has no row.
        let Some(state) = alerts.get_mut(fp) else {
            lines[d].push((fp.to_owned(), None, Decision::Unchanged));
            continue;
        };
        let known = state.ticket.map(|t| {
            let (ticket, resolved_at) = ticket_state[&t];
            Known {
                status: state.status,
                starts_at: state.starts_at,
                ticket,
                resolved_at,
            }
        });
        let decision = decide(known, alert, now, window);
        let ticket = match (decision, state.ticket) {
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
                let opened = TicketRef::Opened(to_open.len());
                to_open.push(ToOpen {
                    title,
                    description,
                    priority,
                    category,
                    query: alert.triage_query(),
                    alertname: alert.alertname().to_owned(),
                    runbook_key: alert.runbook_key(),
                });
                ticket_state.insert(opened, (Status::New, None));
                noted.push(Noted::Alert(
                    opened,
                    json!({ "alert": "opened", "integration": integration.name, "fingerprint": alert.fingerprint }),
                ));
                state.fire_count = 1;
                opened
            }
            (Decision::FiredAgain | Decision::Reopen, Some(ticket)) => {
                state.fire_count += 1;
                if decision == Decision::Reopen {
                    let from = ticket_state[&ticket].0;
                    moves.push((ticket, from, Status::InProgress));
                    noted.push(Noted::Status(
                        ticket,
                        from,
                        Status::InProgress,
                        "Reopened: the alert fired again.",
                    ));
                    if let Some(s) = ticket_state.get_mut(&ticket) {
                        s.0 = Status::InProgress;
                    }
                }
                noted.push(Noted::Alert(
                    ticket,
                    json!({ "alert": "fired_again", "count": state.fire_count, "fingerprint": alert.fingerprint }),
                ));
                ticket
            }
            (Decision::Resolved, Some(ticket)) => {
                noted.push(Noted::Alert(
                    ticket,
                    json!({ "alert": "resolved", "ends_at": alert.ends_at.map(|t| t.to_rfc3339()), "fingerprint": alert.fingerprint }),
                ));
                let from = ticket_state[&ticket].0;
                if integration.resolve_on_resolved
                    && from.is_open()
                    && from.transition(Status::Resolved, "x").is_ok()
                {
                    moves.push((ticket, from, Status::Resolved));
                    noted.push(Noted::Status(
                        ticket,
                        from,
                        Status::Resolved,
                        "Resolved automatically: the alert resolved.",
                    ));
                    ticket_state.insert(ticket, (Status::Resolved, Some(now)));
                }
                ticket
            }
            (_, ticket) => {
                lines[d].push((fp.to_owned(), ticket, Decision::Unchanged));
                continue;
            }
        };
        state.ticket = Some(ticket);
        state.status = alert.status;
        state.starts_at = alert.starts_at.or(state.starts_at);
        state.last = Some(alert);
        state.received += 1;
        lines[d].push((fp.to_owned(), Some(ticket), decision));
    }
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
    let opened: Vec<i64> = created.iter().map(|c| c.id.0).collect();
    let id_of = |t: TicketRef| t.id(&opened);
    // A ticket moved twice (resolved, then reopened) moves in two rounds,
    // each from where the one before left it.
    let mut rounds: Vec<Vec<(tickets::Ticket, Status)>> = Vec::new();
    let mut moved: HashMap<TicketRef, usize> = HashMap::new();
    for (t, from, to) in moves {
        let row = match t {
            TicketRef::Known(id) => locked.get(&id),
            TicketRef::Opened(n) => created.get(n),
        };
        let Some(row) = row else { continue };
        let mut row = row.clone();
        row.status = from;
        let round = moved.entry(t).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push((row, to));
        *round += 1;
    }
    for round in &rounds {
        let changes: Vec<(&tickets::Ticket, Status)> = round.iter().map(|(t, s)| (t, *s)).collect();
        tickets::set_status_many(conn, &changes, Some(user)).await?;
    }
    let entries: Vec<NewEntry> = noted
        .into_iter()
        .filter_map(|n| match n {
            Noted::Alert(t, data) => Some(alert_entry(TicketId(id_of(t)?), user, data)),
            Noted::Status(t, from, to, reason) => Some(new_status_entry(
                TicketId(id_of(t)?),
                user,
                from,
                to,
                reason,
            )),
        })
        .collect();
    journal::add_many(conn, entries).await?;
    let updates: Vec<AlertUpdate> = alerts
        .values()
        .filter_map(|s| {
            let alert = s.last?;
            Some(AlertUpdate {
                id: s.id,
                ticket: id_of(s.ticket?)?,
                status: s.status,
                fire_count: s.fire_count,
                starts_at: s.starts_at,
                ends_at: alert
                    .ends_at
                    .filter(|_| alert.status == AlertStatus::Resolved),
                group_key: &alert.group_key,
                alertname: alert.alertname(),
                received: s.received,
            })
        })
        .collect();
    integrations::save_many(conn, &updates).await?;
    let queued: Vec<Queued> = to_open
        .into_iter()
        .zip(&created)
        .map(|(o, ticket)| Queued {
            ticket_id: ticket.id.0,
            user_id: user.0,
            query: o.query,
            alertname: o.alertname,
            runbook_key: o.runbook_key,
        })
        .collect();
    arrival_triage::enqueue(conn, &queued).await?;
    Ok(receipts(lines, &opened))
}

/// The receipts of `apply_many`, each in fingerprint order, with the
/// opened tickets' ids (`opened`, in opening order).
fn receipts(
    lines: Vec<Vec<(String, Option<TicketRef>, Decision)>>,
    opened: &[i64],
) -> Vec<Receipt> {
    lines
        .into_iter()
        .map(|lines| {
            let mut alerts: Vec<AlertResult> = lines
                .into_iter()
                .map(|(fingerprint, ticket, decision)| AlertResult {
                    fingerprint,
                    ticket: ticket.and_then(|t| t.id(opened)).map(TicketId),
                    decision,
                })
                .collect();
            alerts.sort_by(|a, b| a.fingerprint.cmp(&b.fingerprint));
            Receipt { alerts }
        })
        .collect()
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
