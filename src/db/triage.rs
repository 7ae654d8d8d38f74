//! Recorded triage searches.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{triage_searches, users};
use crate::domain::account::UserId;
use crate::domain::ticket::TicketId;

#[derive(Debug, Clone, Queryable)]
pub struct Search {
    pub id: i64,
    pub query: String,
    pub results: serde_json::Value,
    pub picked: Option<String>,
    pub created_at: DateTime<Utc>,
    pub who: String,
}

impl Search {
    /// The result keys, in rank order.
    pub fn keys(&self) -> Vec<String> {
        self.results
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["key"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub async fn record(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    user: UserId,
    query: &str,
    results: serde_json::Value,
) -> QueryResult<i64> {
    diesel::insert_into(triage_searches::table)
        .values((
            triage_searches::ticket_id.eq(ticket.0),
            triage_searches::user_id.eq(user.0),
            triage_searches::query.eq(query),
            triage_searches::results.eq(results),
        ))
        .returning(triage_searches::id)
        .get_result(conn)
        .await
}

/// Records several searches at once (triage on arrival), at most one per
/// ticket: (ticket, user, query, results). Answers each ticket's search id.
pub async fn record_many(
    conn: &mut AsyncPgConnection,
    searches: &[(TicketId, UserId, &str, serde_json::Value)],
) -> QueryResult<std::collections::HashMap<i64, i64>> {
    if searches.is_empty() {
        return Ok(std::collections::HashMap::new());
    }
    let values: Vec<_> = searches
        .iter()
        .map(|(ticket, user, query, results)| {
            (
                triage_searches::ticket_id.eq(ticket.0),
                triage_searches::user_id.eq(user.0),
                triage_searches::query.eq(*query),
                triage_searches::results.eq(results),
            )
        })
        .collect();
    let ids: Vec<(i64, i64)> = diesel::insert_into(triage_searches::table)
        .values(values)
        .returning((triage_searches::ticket_id, triage_searches::id))
        .get_results(conn)
        .await?;
    Ok(ids.into_iter().collect())
}

/// Notes which result was picked (linked) from a search of this ticket.
pub async fn picked(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
    search: i64,
    key: &str,
) -> QueryResult<()> {
    diesel::update(
        triage_searches::table
            .filter(triage_searches::id.eq(search))
            .filter(triage_searches::ticket_id.eq(ticket.0)),
    )
    .set(triage_searches::picked.eq(key))
    .execute(conn)
    .await?;
    Ok(())
}

/// A ticket's searches, newest first.
pub async fn for_ticket(
    conn: &mut AsyncPgConnection,
    ticket: TicketId,
) -> QueryResult<Vec<Search>> {
    triage_searches::table
        .inner_join(users::table)
        .filter(triage_searches::ticket_id.eq(ticket.0))
        .select((
            triage_searches::id,
            triage_searches::query,
            triage_searches::results,
            triage_searches::picked,
            triage_searches::created_at,
            users::display_name,
        ))
        .order(triage_searches::id.desc())
        .load(conn)
        .await
}
