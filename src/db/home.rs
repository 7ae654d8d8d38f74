//! What the home pages read besides the ticket lists (`db::tickets::list`)
//! and the rota: the managers' headline numbers, the escalations to a
//! person, and how far an installation is set up. Each is a few counts over
//! indexes (`tickets_queue_idx`, `ticket_transitions_to_status_idx`,
//! `escalations_to_user_idx`), so the home page stays cheap at any size;
//! the reports pages hold the measures proper.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{escalations, incident_models, ticket_transitions, tickets, users};
use crate::domain::policy::Viewer;
use crate::domain::ticket::Status;

/// The numbers a manager's home page leads with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headline {
    pub open: i64,
    pub open_p1: i64,
    pub waiting_triage: i64,
    pub unassigned: i64,
    /// Tickets moved to resolved in the last seven days (each once).
    pub resolved_week: i64,
}

fn open_statuses() -> Vec<&'static str> {
    Status::ALL
        .iter()
        .filter(|s| s.is_open())
        .map(|s| s.as_str())
        .collect()
}

/// The headline numbers; `None` for customers.
pub async fn headline(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    now: DateTime<Utc>,
) -> QueryResult<Option<Headline>> {
    if !viewer.role.is_staff() {
        return Ok(None);
    }
    let open = open_statuses();
    let count_open = || tickets::table.filter(tickets::status.eq_any(open.clone()));
    Ok(Some(Headline {
        open: count_open().count().get_result(conn).await?,
        open_p1: count_open()
            .filter(tickets::priority.eq(1_i16))
            .count()
            .get_result(conn)
            .await?,
        waiting_triage: tickets::table
            .filter(tickets::status.eq(Status::New.as_str()))
            .count()
            .get_result(conn)
            .await?,
        unassigned: count_open()
            .filter(tickets::assignee_id.is_null())
            .count()
            .get_result(conn)
            .await?,
        resolved_week: ticket_transitions::table
            .filter(ticket_transitions::to_status.eq(Status::Resolved.as_str()))
            .filter(ticket_transitions::at.gt(now - Duration::days(7)))
            .select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "count(DISTINCT ticket_transitions.ticket_id)",
            ))
            .get_result(conn)
            .await?,
    }))
}

/// An escalation to a person, as their home page lists it.
#[derive(Debug, Clone)]
pub struct EscalationToMe {
    pub ticket: i64,
    pub title: String,
    pub priority: i16,
    pub status: String,
    pub from: String,
    pub at: DateTime<Utc>,
}

impl EscalationToMe {
    pub fn status_label(&self) -> &'static str {
        self.status
            .parse::<Status>()
            .map(|s| s.label())
            .unwrap_or("")
    }
}

/// The newest escalations to the viewer by name, within `days`; none for
/// customers (escalations are team-only).
pub async fn escalations_to(
    conn: &mut AsyncPgConnection,
    viewer: &Viewer,
    now: DateTime<Utc>,
    days: i64,
    limit: i64,
) -> QueryResult<Vec<EscalationToMe>> {
    if !viewer.role.is_staff() {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64, String, i16, String, String, DateTime<Utc>)> = escalations::table
        .inner_join(tickets::table)
        .inner_join(users::table.on(users::id.eq(escalations::from_id)))
        .filter(escalations::to_user_id.eq(viewer.user.0))
        .filter(escalations::created_at.gt(now - Duration::days(days)))
        .select((
            tickets::id,
            tickets::title,
            tickets::priority,
            tickets::status,
            users::display_name,
            escalations::created_at,
        ))
        .order((escalations::created_at.desc(), escalations::id.desc()))
        .limit(limit)
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(
            |(ticket, title, priority, status, from, at)| EscalationToMe {
                ticket,
                title,
                priority,
                status,
                from,
                at,
            },
        )
        .collect())
}

/// How far the installation is set up: people besides the admins, models,
/// tickets. An admin's home page offers the next steps while any is zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Setup {
    pub people: i64,
    pub models: i64,
    pub tickets: i64,
}

impl Setup {
    pub fn is_fresh(&self) -> bool {
        self.people == 0 || self.models == 0 || self.tickets == 0
    }
}

pub async fn setup(conn: &mut AsyncPgConnection) -> QueryResult<Setup> {
    Ok(Setup {
        people: users::table
            .filter(users::role.ne("admin"))
            .count()
            .get_result(conn)
            .await?,
        models: incident_models::table.count().get_result(conn).await?,
        tickets: tickets::table.count().get_result(conn).await?,
    })
}
