//! The delivery outbox (`deliveries`): mail notifications and webhook
//! calls, queued in the transaction of the action that causes them and
//! sent after commit by the delivery worker (`notify::worker`). A mail row
//! names the recipient, the notice and the entry; the text is rendered at
//! delivery time through the recipient's own scope. A webhook row carries
//! the body as it was at the event, already cut to what the subscription
//! may see.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};

use crate::db::journal::Entry;
use crate::db::schema::{deliveries, delivery_attempts, notification_preferences, tickets, users};
use crate::db::webhooks::Subscription;
use crate::domain::account::{OrgId, Role};
use crate::domain::notice::{self, Event, Notice, Parties};
use crate::domain::policy::{Viewer, Visibility};
use crate::domain::ticket::EntryKind;

/// Delivery workers LISTEN here to send new rows at once.
pub const CHANNEL: &str = "casebook_delivery";

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = deliveries)]
pub struct Delivery {
    pub id: i64,
    pub channel: String,
    pub recipient: String,
    pub event: String,
    pub ticket_id: Option<i64>,
    pub payload: Value,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: String,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
}

fn entry_kind(kind: &str) -> Option<EntryKind> {
    Some(match kind {
        "reply" => EntryKind::Reply,
        "note" => EntryKind::Note,
        "status_change" => EntryKind::StatusChange,
        "assignment" => EntryKind::Assignment,
        "model_link" => EntryKind::ModelLink,
        "escalation" => EntryKind::Escalation,
        "triage" => EntryKind::Triage,
        "system" => EntryKind::System,
        _ => return None,
    })
}

async fn announce(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query(format!("NOTIFY {CHANNEL}"))
        .execute(conn)
        .await?;
    Ok(())
}

/// The ticket fields events carry: (requester, assignee, organization,
/// title, status, priority, category).
type TicketFacts = (i64, Option<i64>, Option<i64>, String, String, i16, String);

async fn ticket_facts(conn: &mut AsyncPgConnection, ticket: i64) -> QueryResult<TicketFacts> {
    tickets::table
        .find(ticket)
        .select((
            tickets::requester_id,
            tickets::assignee_id,
            tickets::organization_id,
            tickets::title,
            tickets::status,
            tickets::priority,
            tickets::category,
        ))
        .first(conn)
        .await
}

/// The facts of several tickets in one query.
async fn facts_of(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> QueryResult<HashMap<i64, TicketFacts>> {
    let rows: Vec<(i64, TicketFacts)> = tickets::table
        .filter(tickets::id.eq_any(ids))
        .select((
            tickets::id,
            (
                tickets::requester_id,
                tickets::assignee_id,
                tickets::organization_id,
                tickets::title,
                tickets::status,
                tickets::priority,
                tickets::category,
            ),
        ))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}

/// The subscriptions of each (event, organization), looked up once per
/// action however many entries or tickets it writes.
#[derive(Default)]
pub struct Subscribers(HashMap<(Event, Option<i64>), Vec<Subscription>>);

impl Subscribers {
    /// The subscriptions an entry of this kind and visibility on `ticket`
    /// is delivered to, looked up ahead: for an action with a round trip to
    /// spare before it writes the entry (the triage search, while the
    /// search runs), so that [`for_entry_on`] looks nothing up. The
    /// events depend on the kind and visibility only; one it does not hold
    /// is still looked up when the entry is written.
    pub async fn ahead(
        conn: &mut AsyncPgConnection,
        kind: EntryKind,
        visibility: Visibility,
        ticket: &crate::db::tickets::Ticket,
    ) -> QueryResult<Self> {
        let (_, events) = notice::for_entry(
            kind,
            visibility,
            None,
            None,
            Parties {
                author: None,
                requester: ticket.requester_id.0,
                assignee: ticket.assignee_id,
            },
        );
        let mut subscribers = Self::default();
        for event in events {
            subscribers.of(conn, event, ticket.organization_id).await?;
        }
        Ok(subscribers)
    }

    async fn of(
        &mut self,
        conn: &mut AsyncPgConnection,
        event: Event,
        org: Option<i64>,
    ) -> QueryResult<Vec<Subscription>> {
        if let Some(subs) = self.0.get(&(event, org)) {
            return Ok(subs.clone());
        }
        let subs = crate::db::webhooks::subscribed(conn, event, org).await?;
        self.0.insert((event, org), subs.clone());
        Ok(subs)
    }
}

/// Queues what a journal entry causes; `journal::add` calls it in the
/// entry's transaction.
pub async fn for_entry(conn: &mut AsyncPgConnection, entry: &Entry) -> QueryResult<()> {
    let facts = ticket_facts(conn, entry.ticket_id).await?;
    entry_deliveries(conn, entry, &facts, &mut Subscribers::default()).await
}

/// [`for_entry`] with the entry's ticket as the caller read it (locked, in
/// this transaction; no second read of it) and its subscriptions looked up
/// ahead ([`Subscribers::ahead`]).
pub async fn for_entry_on(
    conn: &mut AsyncPgConnection,
    entry: &Entry,
    ticket: &crate::db::tickets::Ticket,
    subscribers: &mut Subscribers,
) -> QueryResult<()> {
    let facts: TicketFacts = (
        ticket.requester_id.0,
        ticket.assignee_id,
        ticket.organization_id,
        ticket.title.clone(),
        ticket.status.as_str().to_owned(),
        ticket.priority.level(),
        ticket.category.clone(),
    );
    entry_deliveries(conn, entry, &facts, subscribers).await
}

/// Queues what several entries cause (`journal::add_many`), with one look
/// at their tickets and at the subscriptions.
pub async fn for_entries(conn: &mut AsyncPgConnection, entries: &[Entry]) -> QueryResult<()> {
    let mut ids: Vec<i64> = entries.iter().map(|e| e.ticket_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let facts = facts_of(conn, &ids).await?;
    let mut subscribers = Subscribers::default();
    for entry in entries {
        // The entry's ticket exists (a foreign key), in this transaction.
        if let Some(facts) = facts.get(&entry.ticket_id) {
            entry_deliveries(conn, entry, facts, &mut subscribers).await?;
        }
    }
    Ok(())
}

async fn entry_deliveries(
    conn: &mut AsyncPgConnection,
    entry: &Entry,
    facts: &TicketFacts,
    subscribers: &mut Subscribers,
) -> QueryResult<()> {
    let Some(kind) = entry_kind(&entry.kind) else {
        return Ok(());
    };
    let (requester, assignee, org, ..) = facts.clone();
    let target = match kind {
        EntryKind::Assignment => entry.data["assignee_id"].as_i64(),
        EntryKind::Escalation => entry.data["to_user_id"].as_i64(),
        _ => None,
    };
    let (notices, events) = notice::for_entry(
        kind,
        entry.visibility,
        entry.data["to"].as_str(),
        target,
        Parties {
            author: entry.author_id,
            requester,
            assignee,
        },
    );
    for (notice, person) in notices {
        mail(conn, notice, person, &[(entry.ticket_id, entry.id)]).await?;
    }
    let mut subscribed = Vec::new();
    for event in events {
        let subs = subscribers.of(conn, event, org).await?;
        if !subs.is_empty() {
            subscribed.push((event, subs));
        }
    }
    if subscribed.is_empty() {
        return Ok(());
    }
    let full = json!({
        "ticket": ticket_json(entry.ticket_id, facts, true),
        "entry": {
            "id": entry.id,
            "kind": entry.kind,
            "visibility": crate::db::journal::visibility_str(entry.visibility),
            "body": entry.body,
            "author_id": entry.author_id,
            "data": entry.data,
        },
    });
    // Only a public entry has a customer view at all.
    let public = (entry.visibility == Visibility::Public).then(|| {
        json!({
            "ticket": ticket_json(entry.ticket_id, facts, false),
            "entry": {
                "id": entry.id,
                "kind": entry.kind,
                "visibility": "public",
                "body": entry.body,
                "data": public_entry_data(&entry.kind, &entry.data),
            },
        })
    });
    for (event, subs) in subscribed {
        webhooks(
            conn,
            &subs,
            event,
            Some(entry.ticket_id),
            &full,
            public.as_ref(),
        )
        .await?;
    }
    Ok(())
}

/// What of a public entry's `data` a customer may read: status moves, field
/// corrections and the files of a public reply are theirs; anything else is
/// left out.
fn public_entry_data(kind: &str, data: &Value) -> Value {
    match kind {
        "status_change" => json!({ "from": data["from"], "to": data["to"] }),
        // The files of a public reply are the customer's to read.
        "reply" if data.get("attachments").is_some() => {
            json!({ "attachments": data["attachments"] })
        }
        _ => json!({}),
    }
}

fn ticket_json(id: i64, facts: &TicketFacts, team: bool) -> Value {
    let (_, assignee, org, title, status, priority, category) = facts;
    let mut ticket = json!({
        "id": id,
        "title": title,
        "status": status,
        "priority": format!("P{priority}"),
        "organization_id": org,
    });
    if team {
        ticket["category"] = json!(category);
        ticket["assignee_id"] = json!(assignee);
    }
    ticket
}

/// A new ticket: the `ticket.opened` event, and for a P1 a mail to the
/// week's triager.
pub async fn ticket_opened(
    conn: &mut AsyncPgConnection,
    ticket: i64,
    description: &str,
    opened_by: i64,
) -> QueryResult<()> {
    tickets_opened(conn, &[(ticket, description)], opened_by).await
}

/// [`ticket_opened`] for several tickets (ticket, description) opened by
/// one account in one action (the alert intake), with one look at the
/// tickets, the rota and the subscriptions.
pub async fn tickets_opened(
    conn: &mut AsyncPgConnection,
    opened: &[(i64, &str)],
    opened_by: i64,
) -> QueryResult<()> {
    if opened.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = opened.iter().map(|(id, _)| *id).collect();
    let facts = facts_of(conn, &ids).await?;
    let p1: Vec<(i64, i64)> = opened
        .iter()
        .filter(|(id, _)| facts.get(id).is_some_and(|f| f.5 == 1))
        .map(|(id, _)| (*id, 0))
        .collect();
    if !p1.is_empty() {
        let week = crate::domain::rota::week_of(Utc::now().date_naive());
        let triager: Option<i64> = crate::db::schema::rota_weeks::table
            .filter(crate::db::schema::rota_weeks::week_start.eq(week))
            .select(crate::db::schema::rota_weeks::triager_id)
            .first(conn)
            .await
            .optional()?;
        if let Some(triager) = triager.filter(|t| *t != opened_by) {
            mail(conn, Notice::NewP1, triager, &p1).await?;
        }
    }
    let mut subscribers = Subscribers::default();
    for (ticket, description) in opened {
        let Some(facts) = facts.get(ticket) else {
            continue;
        };
        let subs = subscribers.of(conn, Event::TicketOpened, facts.2).await?;
        if subs.is_empty() {
            continue;
        }
        let mut full = json!({ "ticket": ticket_json(*ticket, facts, true) });
        full["ticket"]["description"] = json!(description);
        let mut public = json!({ "ticket": ticket_json(*ticket, facts, false) });
        public["ticket"]["description"] = json!(description);
        webhooks(
            conn,
            &subs,
            Event::TicketOpened,
            Some(*ticket),
            &full,
            Some(&public),
        )
        .await?;
    }
    Ok(())
}

/// A team event with no customer view (a review, an improvement item).
pub async fn team_event(
    conn: &mut AsyncPgConnection,
    event: Event,
    ticket: Option<i64>,
    data: &Value,
) -> QueryResult<()> {
    let org = match ticket {
        Some(t) => ticket_facts(conn, t).await?.2,
        None => None,
    };
    let subs = crate::db::webhooks::subscribed(conn, event, org).await?;
    webhooks(conn, &subs, event, ticket, data, None).await
}

/// One person's choices; the defaults when they made none.
pub async fn preferences(
    conn: &mut AsyncPgConnection,
    user: i64,
) -> QueryResult<Vec<(Notice, bool)>> {
    let row: Option<(bool, bool, bool, bool, bool)> = notification_preferences::table
        .find(user)
        .select((
            notification_preferences::public_reply,
            notification_preferences::resolved,
            notification_preferences::assigned,
            notification_preferences::escalated,
            notification_preferences::new_p1,
        ))
        .first(conn)
        .await
        .optional()?;
    let (a, b, c, d, e) = row.unwrap_or((true, true, true, true, true));
    Ok(vec![
        (Notice::PublicReply, a),
        (Notice::Resolved, b),
        (Notice::Assigned, c),
        (Notice::Escalated, d),
        (Notice::NewP1, e),
    ])
}

pub async fn set_preferences(
    conn: &mut AsyncPgConnection,
    user: i64,
    on: &[Notice],
) -> QueryResult<()> {
    let has = |n: Notice| on.contains(&n);
    let values = (
        notification_preferences::public_reply.eq(has(Notice::PublicReply)),
        notification_preferences::resolved.eq(has(Notice::Resolved)),
        notification_preferences::assigned.eq(has(Notice::Assigned)),
        notification_preferences::escalated.eq(has(Notice::Escalated)),
        notification_preferences::new_p1.eq(has(Notice::NewP1)),
        notification_preferences::updated_at.eq(diesel::dsl::now),
    );
    diesel::insert_into(notification_preferences::table)
        .values((notification_preferences::user_id.eq(user), values))
        .on_conflict(notification_preferences::user_id)
        .do_update()
        .set(values)
        .execute(conn)
        .await?;
    Ok(())
}

/// Queues a mail notice to a person for each (ticket, entry), when they
/// want it and may see the ticket at all (the text is checked again, entry
/// by entry, when it is rendered).
async fn mail(
    conn: &mut AsyncPgConnection,
    notice: Notice,
    person: i64,
    about: &[(i64, i64)],
) -> QueryResult<()> {
    let found: Option<(String, String, Option<i64>, bool)> = users::table
        .find(person)
        .select((
            users::email,
            users::role,
            users::organization_id,
            users::disabled,
        ))
        .first(conn)
        .await
        .optional()?;
    let Some((email, role, org, disabled)) = found else {
        return Ok(());
    };
    let role: Role = role.parse().unwrap_or(Role::Customer);
    if disabled || (notice.is_team_only() && !role.is_staff()) {
        return Ok(());
    }
    let wanted = preferences(conn, person)
        .await?
        .into_iter()
        .any(|(n, on)| n == notice && on);
    if !wanted {
        return Ok(());
    }
    let viewer = Viewer {
        user: crate::domain::account::UserId(person),
        role,
        org: org.map(OrgId),
    };
    let ids: Vec<i64> = about.iter().map(|(ticket, _)| *ticket).collect();
    let orgs: HashMap<i64, Option<i64>> = tickets::table
        .filter(tickets::id.eq_any(&ids))
        .select((tickets::id, tickets::organization_id))
        .load::<(i64, Option<i64>)>(conn)
        .await?
        .into_iter()
        .collect();
    let email = email.to_ascii_lowercase();
    let rows: Vec<_> = about
        .iter()
        .filter(|(ticket, _)| {
            orgs.get(ticket)
                .is_some_and(|org| viewer.may_view_ticket(org.map(OrgId)))
        })
        .map(|(ticket, entry)| {
            (
                deliveries::channel.eq("mail"),
                deliveries::recipient.eq(email.clone()),
                deliveries::event.eq(notice.as_str()),
                deliveries::ticket_id.eq(*ticket),
                deliveries::payload.eq(json!({ "user_id": person, "entry_id": entry })),
            )
        })
        .collect();
    if rows.is_empty() {
        return Ok(());
    }
    diesel::insert_into(deliveries::table)
        .values(rows)
        .execute(conn)
        .await?;
    announce(conn).await
}

/// Queues the event for every active subscription that takes it:
/// customer-visible-only subscriptions get the `public` view of customer
/// events of their own organization, and nothing else.
async fn webhooks(
    conn: &mut AsyncPgConnection,
    subs: &[Subscription],
    event: Event,
    ticket: Option<i64>,
    full: &Value,
    public: Option<&Value>,
) -> QueryResult<()> {
    if subs.is_empty() {
        return Ok(());
    }
    let at = Utc::now().to_rfc3339();
    for sub in subs {
        let data = if sub.customer_visible_only {
            match public {
                Some(public) if event.is_customer_visible() => public,
                _ => continue,
            }
        } else {
            full
        };
        let body = crate::domain::webhook::body(&sub.format, event, &at, data);
        diesel::insert_into(deliveries::table)
            .values((
                deliveries::channel.eq("webhook"),
                deliveries::recipient.eq(format!("webhook:{}", sub.id)),
                deliveries::event.eq(event.as_str()),
                deliveries::ticket_id.eq(ticket),
                deliveries::payload.eq(json!({ "subscription_id": sub.id, "body": body })),
            ))
            .execute(conn)
            .await?;
    }
    announce(conn).await
}

/// Ids of deliveries due now that head their recipient's queue (no
/// earlier row to the same recipient is still pending), oldest first.
pub async fn due(conn: &mut AsyncPgConnection, limit: i64, skip: &[i64]) -> QueryResult<Vec<i64>> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        id: i64,
    }
    let rows: Vec<Id> = diesel::sql_query(
        "SELECT d.id FROM deliveries d \
         WHERE d.status = 'pending' AND d.next_attempt_at <= now() \
           AND d.id <> ALL($1) \
           AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.status = 'pending' \
                           AND e.recipient = d.recipient AND e.id < d.id) \
         ORDER BY d.id LIMIT $2",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(skip.to_vec())
    .bind::<diesel::sql_types::BigInt, _>(limit)
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.id).collect())
}

/// Locks one due delivery for the caller's transaction, if it is still
/// due, heads its queue, and no other worker holds it.
pub async fn claim(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<Option<Delivery>> {
    diesel::sql_query(
        "SELECT d.* FROM deliveries d \
         WHERE d.id = $1 AND d.status = 'pending' AND d.next_attempt_at <= now() \
           AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.status = 'pending' \
                           AND e.recipient = d.recipient AND e.id < d.id) \
         FOR UPDATE OF d SKIP LOCKED",
    )
    .bind::<diesel::sql_types::BigInt, _>(id)
    .get_result(conn)
    .await
    .optional()
}

/// When the next pending delivery falls due.
pub async fn next_due(conn: &mut AsyncPgConnection) -> QueryResult<Option<DateTime<Utc>>> {
    deliveries::table
        .filter(deliveries::status.eq("pending"))
        .select(diesel::dsl::min(deliveries::next_attempt_at))
        .first(conn)
        .await
}

/// How a try ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent(String),
    /// Try again at the given time.
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
    /// The last try failed.
    Failed(String),
    /// Nothing to send (the recipient may no longer see it, or opted out).
    Dropped(String),
}

/// Records a try and its outcome, in the claiming transaction.
pub async fn finish(
    conn: &mut AsyncPgConnection,
    delivery: &Delivery,
    outcome: &Outcome,
) -> QueryResult<()> {
    let (ok, detail, status, next) = match outcome {
        Outcome::Sent(d) => (true, d.as_str(), "sent", None),
        Outcome::Retry { error, at } => (false, error.as_str(), "pending", Some(*at)),
        Outcome::Failed(e) => (false, e.as_str(), "failed", None),
        Outcome::Dropped(d) => (true, d.as_str(), "dropped", None),
    };
    let counts = !matches!(outcome, Outcome::Dropped(_));
    if counts {
        diesel::insert_into(delivery_attempts::table)
            .values((
                delivery_attempts::delivery_id.eq(delivery.id),
                delivery_attempts::ok.eq(ok),
                delivery_attempts::detail.eq(detail),
            ))
            .execute(conn)
            .await?;
    }
    let error = if ok { "" } else { detail };
    let done = (status != "pending").then(Utc::now);
    diesel::update(deliveries::table.find(delivery.id))
        .set((
            deliveries::status.eq(status),
            deliveries::attempts.eq(delivery.attempts + i32::from(counts)),
            deliveries::next_attempt_at.eq(next.unwrap_or(delivery.next_attempt_at)),
            deliveries::last_error.eq(if status == "dropped" { detail } else { error }),
            deliveries::done_at.eq(done),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The newest deliveries of one channel, for the admin pages.
pub async fn recent(
    conn: &mut AsyncPgConnection,
    channel: &str,
    limit: i64,
) -> QueryResult<Vec<Delivery>> {
    deliveries::table
        .filter(deliveries::channel.eq(channel))
        .select(Delivery::as_select())
        .order(deliveries::id.desc())
        .limit(limit)
        .load(conn)
        .await
}

/// Counts by status, for `/readyz`-style checks and tests.
pub async fn counts(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(String, i64)>> {
    deliveries::table
        .group_by(deliveries::status)
        .select((deliveries::status, diesel::dsl::count_star()))
        .load(conn)
        .await
}
