//! The cheap counts `/metrics` reads at scrape time: open tickets by
//! priority and status, and the triage queue (new tickets) with its oldest.

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::tickets;
use crate::domain::ticket::Status;

/// (priority, status, count) of the tickets in an open status.
pub async fn open_tickets(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(i16, String, i64)>> {
    let open: Vec<&str> = Status::ALL
        .into_iter()
        .filter(|s| s.is_open())
        .map(Status::as_str)
        .collect();
    tickets::table
        .filter(tickets::status.eq_any(open))
        .group_by((tickets::priority, tickets::status))
        .select((tickets::priority, tickets::status, count_star()))
        .load(conn)
        .await
}

/// How many tickets wait for triage (status new), and when the oldest of
/// them was opened.
pub async fn triage_queue(
    conn: &mut AsyncPgConnection,
) -> QueryResult<(i64, Option<DateTime<Utc>>)> {
    tickets::table
        .filter(tickets::status.eq(Status::New.as_str()))
        .select((count_star(), min(tickets::created_at)))
        .get_result(conn)
        .await
}
