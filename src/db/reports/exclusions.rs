//! Tickets excluded from metrics (game days, tests).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{metric_exclusions, tickets, users};
use crate::domain::account::UserId;
use crate::domain::ticket::TicketId;

/// A ticket left out of the measures.
#[derive(Debug, Clone, Queryable, serde::Serialize)]
pub struct Exclusion {
    pub ticket_id: i64,
    pub title: String,
    pub reason: String,
    pub by: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub async fn is_excluded(conn: &mut AsyncPgConnection, ticket: TicketId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        metric_exclusions::table.filter(metric_exclusions::ticket_id.eq(ticket.0)),
    ))
    .get_result(conn)
    .await
}

/// Exclusions with their ticket's title and who excluded it, as
/// [`Exclusion`] reads them.
#[diesel::dsl::auto_type(no_type_alias)]
fn listed() -> _ {
    metric_exclusions::table
        .inner_join(tickets::table)
        .left_join(users::table)
        .select((
            metric_exclusions::ticket_id,
            tickets::title,
            metric_exclusions::reason,
            users::display_name.nullable(),
            metric_exclusions::created_at,
        ))
}

/// The exclusion of one ticket, if it is excluded (what the ticket page
/// shows instead of the form).
pub async fn exclusion_of(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
) -> QueryResult<Option<Exclusion>> {
    listed()
        .filter(metric_exclusions::ticket_id.eq(ticket.0))
        .first(conn)
        .await
        .optional()
}

pub async fn exclude(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    reason: &str,
    by: UserId,
) -> QueryResult<()> {
    diesel::insert_into(metric_exclusions::table)
        .values((
            metric_exclusions::ticket_id.eq(ticket.0),
            metric_exclusions::reason.eq(reason),
            metric_exclusions::by_id.eq(Some(by.0)),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn include(conn: &mut AsyncPgConnection, ticket: TicketId) -> QueryResult<()> {
    diesel::delete(metric_exclusions::table.filter(metric_exclusions::ticket_id.eq(ticket.0)))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn exclusions(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Exclusion>> {
    listed()
        .order(metric_exclusions::created_at.desc())
        .limit(500)
        .load(conn)
        .await
}
