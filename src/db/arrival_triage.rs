//! The queue of triage on arrival (`arrival_triage`): one row per ticket an
//! alert opened, written in the delivery's transaction and deleted by the
//! arrival worker in the transaction that records the triage search.

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::arrival_triage;

/// Arrival workers LISTEN here to triage new rows at once.
pub const CHANNEL: &str = "casebook_arrival";

/// A ticket waiting for its triage on arrival.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, QueryableByName, Selectable)]
#[diesel(table_name = arrival_triage)]
pub struct Queued {
    pub ticket_id: i64,
    pub user_id: i64,
    pub query: String,
    pub alertname: String,
    pub runbook_key: Option<String>,
}

/// Queues the triage of tickets just opened, in the caller's transaction,
/// and wakes the workers when it commits.
pub async fn enqueue(conn: &mut AsyncPgConnection, rows: &[Queued]) -> QueryResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let values: Vec<_> = rows
        .iter()
        .map(|q| {
            (
                arrival_triage::ticket_id.eq(q.ticket_id),
                arrival_triage::user_id.eq(q.user_id),
                arrival_triage::query.eq(&q.query),
                arrival_triage::alertname.eq(&q.alertname),
                arrival_triage::runbook_key.eq(q.runbook_key.as_deref()),
            )
        })
        .collect();
    diesel::insert_into(arrival_triage::table)
        .values(values)
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    diesel::sql_query(format!("NOTIFY {CHANNEL}"))
        .execute(conn)
        .await?;
    Ok(())
}

/// Up to `limit` queued rows, lowest ticket first, read without locks:
/// the arrival worker searches for them before it locks anything.
pub async fn peek(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<Queued>> {
    arrival_triage::table
        .order(arrival_triage::ticket_id.asc())
        .select(Queued::as_select())
        .limit(limit)
        .load(conn)
        .await
}

/// Takes those of `tickets` still queued, for the caller's transaction,
/// with their tickets locked; rows another worker holds, and rows whose
/// ticket another transaction holds (the alert applier, which locks
/// tickets in delivery order), are skipped, not waited for. So this worker
/// never waits on a ticket lock and cannot close a deadlock with a
/// transaction that takes ticket locks out of id order; a skipped row is
/// triaged on the next look.
pub async fn claim(conn: &mut AsyncPgConnection, tickets: &[i64]) -> QueryResult<Vec<Queued>> {
    diesel::sql_query(
        "SELECT a.ticket_id, a.user_id, a.query, a.alertname, a.runbook_key \
         FROM arrival_triage a JOIN tickets t ON t.id = a.ticket_id \
         WHERE a.ticket_id = ANY($1) ORDER BY a.ticket_id \
         FOR UPDATE OF a SKIP LOCKED FOR NO KEY UPDATE OF t SKIP LOCKED",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::BigInt>, _>(tickets)
    .load(conn)
    .await
}

/// Removes rows whose triage is recorded (in the same transaction).
pub async fn done(conn: &mut AsyncPgConnection, tickets: &[i64]) -> QueryResult<()> {
    diesel::delete(arrival_triage::table.filter(arrival_triage::ticket_id.eq_any(tickets)))
        .execute(conn)
        .await?;
    Ok(())
}

/// How many tickets wait for their triage on arrival, and since when the
/// oldest has waited.
pub async fn pending(conn: &mut AsyncPgConnection) -> QueryResult<(i64, Option<DateTime<Utc>>)> {
    arrival_triage::table
        .select((count_star(), min(arrival_triage::queued_at)))
        .get_result(conn)
        .await
}
