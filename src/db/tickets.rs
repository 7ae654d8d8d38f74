//! Tickets, their transitions, model links, escalations and duplicates.
//! Journal entries live in `db::journal`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::columns::{PriorityColumn, StatusColumn};
use crate::db::outbox::{self, Entity};
use crate::db::schema::{
    escalations, incident_models, organizations, ticket_models, ticket_transitions, tickets, users,
};
use crate::domain::account::UserId;
use crate::domain::policy::TicketScope;
use crate::domain::ticket::{Outcome, Priority, Status, TicketId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tickets)]
pub struct Ticket {
    #[diesel(deserialize_as = i64)]
    pub id: TicketId,
    pub title: String,
    pub description: String,
    #[diesel(deserialize_as = i64)]
    pub requester_id: UserId,
    pub organization_id: Option<i64>,
    #[diesel(deserialize_as = PriorityColumn)]
    pub priority: Priority,
    pub category: String,
    pub assignee_id: Option<i64>,
    #[diesel(deserialize_as = StatusColumn)]
    pub status: Status,
    pub duplicate_of: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Ticket {
    pub fn status(&self) -> Status {
        self.status
    }

    pub fn priority(&self) -> Priority {
        self.priority
    }

    pub fn is_closed(&self) -> bool {
        self.status == Status::Closed
    }

    /// Takes a reference because templates pass one.
    pub fn is_assigned_to(&self, user: &i64) -> bool {
        self.assignee_id == Some(*user)
    }

    pub fn id(&self) -> TicketId {
        self.id
    }
}

pub struct NewTicket<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub requester: UserId,
    pub organization: Option<i64>,
    pub priority: Priority,
    pub category: &'a str,
}

pub async fn create(conn: &mut AsyncPgConnection, new: NewTicket<'_>) -> QueryResult<Ticket> {
    let ticket: Ticket = diesel::insert_into(tickets::table)
        .values((
            tickets::title.eq(new.title),
            tickets::description.eq(new.description),
            tickets::requester_id.eq(new.requester.0),
            tickets::organization_id.eq(new.organization),
            tickets::priority.eq(new.priority.level()),
            tickets::category.eq(new.category),
        ))
        .returning(Ticket::as_returning())
        .get_result(conn)
        .await?;
    diesel::insert_into(ticket_transitions::table)
        .values((
            ticket_transitions::ticket_id.eq(ticket.id.0),
            ticket_transitions::to_status.eq(Status::New.as_str()),
            ticket_transitions::by_id.eq(new.requester.0),
        ))
        .execute(conn)
        .await?;
    outbox::enqueue(conn, Entity::Ticket, ticket.id.0).await?;
    crate::db::deliveries::ticket_opened(conn, ticket.id.0, new.description, new.requester.0)
        .await?;
    Ok(ticket)
}

/// Opens several tickets by one requester in a few statements (the alert
/// intake): the tickets, their first transitions, their outbox rows and
/// what opening them queues, each as one multi-row insert. Answers them in
/// the order of `news`.
pub async fn create_many(
    conn: &mut AsyncPgConnection,
    requester: UserId,
    news: &[NewTicket<'_>],
) -> QueryResult<Vec<Ticket>> {
    if news.is_empty() {
        return Ok(Vec::new());
    }
    let values: Vec<_> = news
        .iter()
        .map(|new| {
            (
                tickets::title.eq(new.title),
                tickets::description.eq(new.description),
                tickets::requester_id.eq(requester.0),
                tickets::organization_id.eq(new.organization),
                tickets::priority.eq(new.priority.level()),
                tickets::category.eq(new.category),
            )
        })
        .collect();
    // A multi-row insert draws its ids from the sequence row by row, in
    // the order of the rows.
    let mut created: Vec<Ticket> = diesel::insert_into(tickets::table)
        .values(values)
        .returning(Ticket::as_returning())
        .get_results(conn)
        .await?;
    created.sort_by_key(|t| t.id.0);
    let transitions: Vec<_> = created
        .iter()
        .map(|t| {
            (
                ticket_transitions::ticket_id.eq(t.id.0),
                ticket_transitions::to_status.eq(Status::New.as_str()),
                ticket_transitions::by_id.eq(requester.0),
            )
        })
        .collect();
    diesel::insert_into(ticket_transitions::table)
        .values(transitions)
        .execute(conn)
        .await?;
    let ids: Vec<i64> = created.iter().map(|t| t.id.0).collect();
    outbox::enqueue_many(conn, Entity::Ticket, &ids).await?;
    let opened: Vec<(i64, &str)> = created
        .iter()
        .map(|t| (t.id.0, t.description.as_str()))
        .collect();
    crate::db::deliveries::tickets_opened(conn, &opened, requester.0).await?;
    Ok(created)
}

/// Locks the ticket row for the rest of the transaction, so two status
/// changes cannot both start from the same status. Unscoped: only the
/// ticket service calls it, and checks the viewer's policy on the row;
/// reads for a person use [`find_visible`].
pub(crate) async fn find_for_update(
    conn: &mut AsyncPgConnection,
    id: TicketId,
) -> QueryResult<Option<Ticket>> {
    tickets::table
        .find(id.0)
        .select(Ticket::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
}

/// Locks several tickets, lowest id first (the order every multi-ticket
/// action takes, so two of them wait rather than deadlock). Unscoped, for
/// the ticket service like [`find_for_update`].
pub(crate) async fn lock_many(
    conn: &mut AsyncPgConnection,
    ids: &[i64],
) -> QueryResult<Vec<Ticket>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    tickets::table
        .filter(tickets::id.eq_any(ids))
        .order(tickets::id.asc())
        .select(Ticket::as_select())
        .for_update()
        .load(conn)
        .await
}

/// Moves one ticket to `to` (see [`set_status_many`]).
pub async fn set_status(
    conn: &mut AsyncPgConnection,
    ticket: &Ticket,
    to: Status,
    by: Option<UserId>,
) -> QueryResult<()> {
    set_status_many(conn, &[(ticket, to)], by).await
}

/// Moves tickets to new statuses in three statements (the tickets, their
/// transitions, the search outbox) whatever their number, so per-statement
/// triggers run once: the alert intake resolves and reopens many tickets
/// per delivery. A ticket listed twice moves once, by its first change.
pub async fn set_status_many(
    conn: &mut AsyncPgConnection,
    changes: &[(&Ticket, Status)],
    by: Option<UserId>,
) -> QueryResult<()> {
    let mut seen = std::collections::HashSet::new();
    let changes: Vec<&(&Ticket, Status)> = changes
        .iter()
        .filter(|(t, _)| seen.insert(t.id.0))
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = changes.iter().map(|(t, _)| t.id.0).collect();
    let to: Vec<&str> = changes.iter().map(|(_, s)| s.as_str()).collect();
    diesel::sql_query(
        "UPDATE tickets SET status = u.status, updated_at = CURRENT_TIMESTAMP \
         FROM unnest($1::int8[], $2::text[]) AS u(id, status) WHERE tickets.id = u.id",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(&ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&to)
    .execute(conn)
    .await?;
    let transitions: Vec<_> = changes
        .iter()
        .map(|(t, s)| {
            (
                ticket_transitions::ticket_id.eq(t.id.0),
                ticket_transitions::from_status.eq(Some(t.status.as_str())),
                ticket_transitions::to_status.eq(s.as_str()),
                ticket_transitions::by_id.eq(by.map(|u| u.0)),
            )
        })
        .collect();
    diesel::insert_into(ticket_transitions::table)
        .values(transitions)
        .execute(conn)
        .await?;
    // Status is indexed (`status:` searches, possible duplicates).
    outbox::enqueue_many(conn, Entity::Ticket, &ids).await
}

pub async fn set_assignee(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    assignee: Option<UserId>,
) -> QueryResult<()> {
    diesel::update(tickets::table.find(ticket.0))
        .set((
            tickets::assignee_id.eq(assignee.map(|u| u.0)),
            tickets::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    outbox::enqueue(conn, Entity::Ticket, ticket.0).await
}

pub async fn set_duplicate_of(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    of: TicketId,
) -> QueryResult<()> {
    diesel::update(tickets::table.find(ticket.0))
        .set(tickets::duplicate_of.eq(of.0))
        .execute(conn)
        .await?;
    outbox::enqueue(conn, Entity::Ticket, ticket.0).await
}

/// Transitions of a ticket: (from, to, when, who).
pub async fn transitions(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
) -> QueryResult<Vec<(Option<String>, String, DateTime<Utc>, Option<String>)>> {
    ticket_transitions::table
        .left_join(users::table)
        .filter(ticket_transitions::ticket_id.eq(ticket.0))
        .select((
            ticket_transitions::from_status,
            ticket_transitions::to_status,
            ticket_transitions::at,
            users::display_name.nullable(),
        ))
        .order(ticket_transitions::id.asc())
        .load(conn)
        .await
}

/// Which tickets a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Queue {
    /// New tickets, P1 first, then oldest.
    Triage,
    /// Open tickets assigned to the viewer.
    Mine,
    /// All open tickets (or all, with a status filter).
    #[default]
    Open,
    /// Resolved and closed tickets, newest first.
    Done,
    /// Every ticket, newest first.
    All,
}

#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub queue: Queue,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub category: Option<String>,
    pub organization: Option<i64>,
    pub assignee: Option<i64>,
}

#[derive(Debug, Clone, Queryable)]
pub struct TicketRow {
    #[diesel(embed)]
    pub ticket: Ticket,
    pub organization: Option<String>,
    /// Someone escalated the ticket to the viewer.
    pub escalated_to_viewer: bool,
    /// The assignee's name.
    pub assignee: Option<String>,
}

pub async fn list(
    conn: &mut AsyncPgConnection,
    scope: TicketScope,
    viewer: UserId,
    filter: &Filter,
    offset: i64,
    limit: i64,
) -> QueryResult<(Vec<TicketRow>, i64)> {
    let open: Vec<&str> = Status::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| s.as_str())
        .collect();
    let build = || {
        let mut query = tickets::table
            .left_join(organizations::table)
            .left_join(users::table.on(tickets::assignee_id.eq(users::id.nullable())))
            .into_boxed();
        query = match scope {
            TicketScope::All => query,
            TicketScope::Organization(org) => query.filter(tickets::organization_id.eq(org.0)),
            TicketScope::Nothing => query.filter(tickets::id.eq(-1)),
        };
        query = match filter.queue {
            Queue::Triage => query.filter(tickets::status.eq(Status::New.as_str())),
            // Assigned to the viewer, or escalated to them by name.
            Queue::Mine => query
                .filter(
                    tickets::assignee_id.eq(viewer.0).or(tickets::id.eq_any(
                        escalations::table
                            .filter(escalations::to_user_id.eq(viewer.0))
                            .select(escalations::ticket_id),
                    )),
                )
                .filter(tickets::status.eq_any(open.clone())),
            Queue::Open => match filter.status {
                Some(_) => query,
                None => query.filter(tickets::status.eq_any(open.clone())),
            },
            Queue::Done => query.filter(tickets::status.ne_all(open.clone())),
            Queue::All => query,
        };
        if let Some(status) = filter.status {
            query = query.filter(tickets::status.eq(status.as_str()));
        }
        if let Some(priority) = filter.priority {
            query = query.filter(tickets::priority.eq(priority.level()));
        }
        if let Some(category) = &filter.category {
            query = query.filter(tickets::category.eq(category.clone()));
        }
        if let Some(org) = filter.organization {
            query = query.filter(tickets::organization_id.eq(org));
        }
        if let Some(assignee) = filter.assignee {
            query = query.filter(tickets::assignee_id.eq(assignee));
        }
        query
    };
    let total = build().count().get_result(conn).await?;
    let escalated = diesel::dsl::exists(
        escalations::table
            .filter(escalations::ticket_id.eq(tickets::id))
            .filter(escalations::to_user_id.eq(viewer.0)),
    );
    let mut rows = build().select((
        Ticket::as_select(),
        organizations::name.nullable(),
        escalated,
        users::display_name.nullable(),
    ));
    rows = match filter.queue {
        // What is finished is looked up by when it happened.
        Queue::Done | Queue::All => rows.order((tickets::updated_at.desc(), tickets::id.desc())),
        _ => rows.order((
            tickets::priority.asc(),
            tickets::created_at.asc(),
            tickets::id.asc(),
        )),
    };
    let rows = rows.offset(offset).limit(limit).load(conn).await?;
    Ok((rows, total))
}

/// Categories to filter by: the managed list and any free text in use.
pub async fn categories(conn: &mut AsyncPgConnection) -> QueryResult<Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct Category {
        #[diesel(sql_type = diesel::sql_types::Text)]
        category: String,
    }
    // One index probe per category (`tickets_category_idx`), not a scan of
    // every ticket: every reports page asks for this list (185 ms at
    // 1,000,000 tickets as a DISTINCT, under 1 ms this way).
    let mut used: Vec<String> = diesel::sql_query(
        "WITH RECURSIVE c AS (
            (SELECT category FROM tickets WHERE category > '' ORDER BY category LIMIT 1)
            UNION ALL
            SELECT (SELECT t.category FROM tickets t WHERE t.category > c.category
                    ORDER BY t.category LIMIT 1)
            FROM c WHERE c.category IS NOT NULL
         )
         SELECT category FROM c WHERE category IS NOT NULL",
    )
    .load::<Category>(conn)
    .await?
    .into_iter()
    .map(|c| c.category)
    .collect();
    used.extend(crate::db::categories::names(conn).await?);
    used.sort();
    used.dedup();
    Ok(used)
}

/// Staff who can be assigned or escalated to: (id, name).
pub async fn staff(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(i64, String)>> {
    users::table
        .filter(users::role.ne("customer"))
        .filter(users::disabled.eq(false))
        .select((users::id, users::display_name))
        .order(users::display_name.asc())
        .load(conn)
        .await
}

pub async fn name_of(conn: &mut AsyncPgConnection, user: i64) -> QueryResult<String> {
    users::table
        .find(user)
        .select(users::display_name)
        .first(conn)
        .await
}

pub async fn organization_name(conn: &mut AsyncPgConnection, org: i64) -> QueryResult<String> {
    organizations::table
        .find(org)
        .select(organizations::name)
        .first(conn)
        .await
}

/// `query` narrowed to the tickets `scope` allows: every read of tickets
/// for a person goes through this (or the same match on a joined query).
fn within(
    query: tickets::BoxedQuery<'_, diesel::pg::Pg>,
    scope: TicketScope,
) -> tickets::BoxedQuery<'_, diesel::pg::Pg> {
    match scope {
        TicketScope::All => query,
        TicketScope::Organization(org) => query.filter(tickets::organization_id.eq(org.0)),
        TicketScope::Nothing => query.filter(tickets::id.eq(-1)),
    }
}

/// The ticket, if it exists and `scope` allows it. The ticket it was
/// closed as a duplicate of is named only if `scope` allows that one too.
pub async fn find_visible(
    conn: &mut AsyncPgConnection,
    id: TicketId,
    scope: TicketScope,
) -> QueryResult<Option<Ticket>> {
    let found = within(
        tickets::table.filter(tickets::id.eq(id.0)).into_boxed(),
        scope,
    )
    .select(Ticket::as_select())
    .first(conn)
    .await
    .optional()?;
    let Some(mut ticket) = found else {
        return Ok(None);
    };
    if let Some(of) = ticket.duplicate_of
        && scope != TicketScope::All
    {
        let of_visible = within(
            tickets::table.filter(tickets::id.eq(of)).into_boxed(),
            scope,
        )
        .select(tickets::id)
        .first::<i64>(conn)
        .await
        .optional()?;
        ticket.duplicate_of = of_visible;
    }
    Ok(Some(ticket))
}

/// Tickets marked as duplicates of this one, that `scope` allows.
pub async fn duplicates_of(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    scope: TicketScope,
) -> QueryResult<Vec<(i64, String)>> {
    within(
        tickets::table
            .filter(tickets::duplicate_of.eq(ticket.0))
            .into_boxed(),
        scope,
    )
    .select((tickets::id, tickets::title))
    .order(tickets::id.asc())
    .load(conn)
    .await
}

/// What linking a model did: a new link, or the existing link of the same
/// model (or the "no model fits" record) with its earlier outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Linked {
    New,
    /// The pinned revision stays the one first linked.
    Updated {
        was: Outcome,
        revision: Option<i32>,
    },
}

/// Links a model (or records "no model fits"), once per ticket: linking the
/// same model again updates its outcome and keeps the revision first
/// pinned. The caller holds the ticket row locked, so two links of the
/// same model cannot both insert (a unique index backs that up).
pub async fn link_model(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    model: Option<(i64, i32)>,
    outcome: Outcome,
    missing: &str,
    by: UserId,
) -> QueryResult<Linked> {
    let mut existing = ticket_models::table
        .filter(ticket_models::ticket_id.eq(ticket.0))
        .into_boxed();
    existing = match model {
        Some((id, _)) => existing.filter(ticket_models::model_id.eq(id)),
        None => existing.filter(ticket_models::model_id.is_null()),
    };
    let found: Option<(i64, String, Option<i32>)> = existing
        .select((
            ticket_models::id,
            ticket_models::outcome,
            ticket_models::revision,
        ))
        .first(conn)
        .await
        .optional()?;
    if let Some((row, was, revision)) = found {
        diesel::update(ticket_models::table.find(row))
            .set((
                ticket_models::outcome.eq(outcome.as_str()),
                ticket_models::missing.eq(missing),
                ticket_models::linked_by.eq(by.0),
            ))
            .execute(conn)
            .await?;
        let was = was.parse().map_err(|_| {
            diesel::result::Error::DeserializationError(
                format!("unknown link outcome {was:?} in the database").into(),
            )
        })?;
        return Ok(Linked::Updated { was, revision });
    }
    diesel::insert_into(ticket_models::table)
        .values((
            ticket_models::ticket_id.eq(ticket.0),
            ticket_models::model_id.eq(model.map(|m| m.0)),
            ticket_models::revision.eq(model.map(|m| m.1)),
            ticket_models::outcome.eq(outcome.as_str()),
            ticket_models::missing.eq(missing),
            ticket_models::linked_by.eq(by.0),
        ))
        .execute(conn)
        .await?;
    Ok(Linked::New)
}

/// Deletes the ticket's link to the model; its outcome, or `None` when
/// there was no such link.
pub async fn unlink_model(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    model: i64,
) -> QueryResult<Option<Outcome>> {
    let was: Option<String> = diesel::delete(
        ticket_models::table
            .filter(ticket_models::ticket_id.eq(ticket.0))
            .filter(ticket_models::model_id.eq(model)),
    )
    .returning(ticket_models::outcome)
    .get_result(conn)
    .await
    .optional()?;
    was.map(|was| {
        was.parse().map_err(|_| {
            diesel::result::Error::DeserializationError(
                format!("unknown link outcome {was:?} in the database").into(),
            )
        })
    })
    .transpose()
}

/// The revision of `key` this ticket's link pins: (model id, revision).
pub async fn pinned_revision(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    key: &str,
) -> QueryResult<Option<(i64, i32)>> {
    let row: Option<(i64, Option<i32>)> = ticket_models::table
        .inner_join(incident_models::table)
        .filter(ticket_models::ticket_id.eq(ticket.0))
        .filter(incident_models::key.eq(key))
        .select((incident_models::id, ticket_models::revision))
        .first(conn)
        .await
        .optional()?;
    Ok(row.and_then(|(id, rev)| rev.map(|r| (id, r))))
}

/// The corrected fields of a ticket, all four written at once.
pub struct Fields<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub priority: Priority,
    pub category: &'a str,
}

pub async fn set_fields(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    fields: Fields<'_>,
) -> QueryResult<()> {
    diesel::update(tickets::table.find(ticket.0))
        .set((
            tickets::title.eq(fields.title),
            tickets::description.eq(fields.description),
            tickets::priority.eq(fields.priority.level()),
            tickets::category.eq(fields.category),
            tickets::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    // Title, description and category are searched; priority is a filter.
    outbox::enqueue(conn, Entity::Ticket, ticket.0).await
}

/// A ticket's model links: (model id, key, title, revision, outcome, missing).
pub async fn linked_models(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
) -> QueryResult<
    Vec<(
        Option<i64>,
        Option<String>,
        Option<String>,
        Option<i32>,
        String,
        String,
    )>,
> {
    ticket_models::table
        .left_join(incident_models::table)
        .filter(ticket_models::ticket_id.eq(ticket.0))
        .select((
            ticket_models::model_id,
            incident_models::key.nullable(),
            incident_models::title.nullable(),
            ticket_models::revision,
            ticket_models::outcome,
            ticket_models::missing,
        ))
        .order(ticket_models::id.asc())
        .load(conn)
        .await
}

/// Tickets that used a model: (ticket id, title, status, revision, outcome),
/// newest first, limited to what the scope allows.
pub async fn tickets_for_model(
    conn: &mut AsyncPgConnection,
    model_id: i64,
    scope: TicketScope,
) -> QueryResult<Vec<(i64, String, String, Option<i32>, String)>> {
    let mut query = ticket_models::table
        .inner_join(tickets::table)
        .filter(ticket_models::model_id.eq(model_id))
        .into_boxed();
    query = match scope {
        TicketScope::All => query,
        TicketScope::Organization(org) => query.filter(tickets::organization_id.eq(org.0)),
        TicketScope::Nothing => query.filter(tickets::id.eq(-1)),
    };
    query
        .select((
            tickets::id,
            tickets::title,
            tickets::status,
            ticket_models::revision,
            ticket_models::outcome,
        ))
        .order(ticket_models::id.desc())
        .load(conn)
        .await
}

pub struct NewEscalation<'a> {
    pub ticket: TicketId,
    pub from: UserId,
    pub to_user: Option<UserId>,
    pub to_team: &'a str,
    pub followed: &'a crate::domain::ticket::Followed,
}

pub async fn escalate(conn: &mut AsyncPgConnection, e: NewEscalation<'_>) -> QueryResult<()> {
    use crate::domain::ticket::Followed;
    let (step, reason) = match e.followed {
        Followed::Yes { step_reached } => (Some(*step_reached), String::new()),
        Followed::No { why } => (None, why.clone()),
        Followed::NoModel => (None, String::new()),
    };
    diesel::insert_into(escalations::table)
        .values((
            escalations::ticket_id.eq(e.ticket.0),
            escalations::from_id.eq(e.from.0),
            escalations::to_user_id.eq(e.to_user.map(|u| u.0)),
            escalations::to_team.eq(e.to_team),
            escalations::followed_model.eq(e.followed.as_str()),
            escalations::step_reached.eq(step),
            escalations::reason.eq(reason),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Tickets by id for the search index: those in `ids`, or a page of all of
/// them after id `after`.
pub async fn for_index(
    conn: &mut AsyncPgConnection,
    ids: Option<&[i64]>,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<Ticket>> {
    let mut query = tickets::table.filter(tickets::id.gt(after)).into_boxed();
    if let Some(ids) = ids {
        query = query.filter(tickets::id.eq_any(ids.to_vec()));
    }
    query
        .select(Ticket::as_select())
        .order(tickets::id.asc())
        .limit(limit)
        .load(conn)
        .await
}
