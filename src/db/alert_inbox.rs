//! The inbox of Alertmanager deliveries (`alert_inbox`): a row per
//! accepted delivery, inserted by the receiver, applied (or parked) by the
//! applier (`tickets::inbox`), read back through the delivery's status URL.

use chrono::{DateTime, Utc};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::alert_inbox;

/// The applier's advisory lock: one applier per cluster applies the inbox,
/// so deliveries are applied in the order they were accepted and never
/// wait on each other's locks.
pub const APPLIER_LOCK: i64 = 0x6361_7365_696e_6278; // "caseinbx"

pub const PENDING: &str = "pending";
pub const APPLIED: &str = "applied";
pub const FAILED: &str = "failed";

/// A delivery waiting to be applied.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = alert_inbox)]
pub struct Pending {
    pub id: i64,
    pub integration_id: i64,
    pub external_url: String,
    pub alerts: serde_json::Value,
    pub alert_count: i32,
    pub attempts: i32,
}

/// A delivery as its status URL shows it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = alert_inbox)]
pub struct Delivery {
    pub id: i64,
    pub integration_id: i64,
    pub alert_count: i32,
    pub received_at: DateTime<Utc>,
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
    pub receipt: Option<serde_json::Value>,
}

/// Stores an accepted delivery, its alerts as JSON text (one statement,
/// so one implicit transaction); answers its id. No NOTIFY: PostgreSQL serialises the
/// commits of notifying transactions (each waits for the one before to
/// flush), which would queue every receiver behind the others; the
/// receiving process wakes its own applier instead.
pub async fn insert(
    conn: &mut AsyncPgConnection,
    integration: i64,
    external_url: &str,
    alerts: &str,
    alert_count: i32,
) -> QueryResult<i64> {
    use diesel::sql_types::{BigInt, Integer, Text};
    #[derive(QueryableByName)]
    struct Inserted {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }
    // The alerts arrive as JSON text, read into `jsonb` by the server.
    Ok(diesel::sql_query(
        "INSERT INTO alert_inbox (integration_id, external_url, alerts, alert_count) \
         VALUES ($1, $2, $3::jsonb, $4) RETURNING id",
    )
    .bind::<BigInt, _>(integration)
    .bind::<Text, _>(external_url)
    .bind::<Text, _>(alerts)
    .bind::<Integer, _>(alert_count)
    .get_result::<Inserted>(conn)
    .await?
    .id)
}

/// Takes the applier's lock for the caller's transaction; false when
/// another applier holds it.
pub async fn lock_applier(conn: &mut AsyncPgConnection) -> QueryResult<bool> {
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
        "pg_try_advisory_xact_lock({APPLIER_LOCK})"
    )))
    .get_result(conn)
    .await
}

/// The oldest pending deliveries, in the order they were accepted.
pub async fn next(conn: &mut AsyncPgConnection, limit: i64) -> QueryResult<Vec<Pending>> {
    alert_inbox::table
        .filter(alert_inbox::state.eq(PENDING))
        .order(alert_inbox::id.asc())
        .select(Pending::as_select())
        .limit(limit)
        .load(conn)
        .await
}

/// Records a delivery as applied, with what it did.
pub async fn applied(
    conn: &mut AsyncPgConnection,
    id: i64,
    receipt: &serde_json::Value,
) -> QueryResult<()> {
    diesel::update(alert_inbox::table.find(id))
        .set((
            alert_inbox::state.eq(APPLIED),
            alert_inbox::attempts.eq(alert_inbox::attempts + 1),
            alert_inbox::finished_at.eq(diesel::dsl::now),
            alert_inbox::receipt.eq(receipt),
            alert_inbox::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Records several deliveries as applied, each with what it did, in one
/// statement.
pub async fn applied_many(
    conn: &mut AsyncPgConnection,
    done: &[(i64, serde_json::Value)],
) -> QueryResult<()> {
    use diesel::sql_types::{Array, BigInt, Jsonb};
    if done.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = done.iter().map(|(id, _)| *id).collect();
    let receipts: Vec<&serde_json::Value> = done.iter().map(|(_, r)| r).collect();
    diesel::sql_query(format!(
        "UPDATE alert_inbox AS i SET state = '{APPLIED}', attempts = i.attempts + 1, \
            finished_at = now(), receipt = u.receipt, last_error = NULL \
         FROM unnest($1, $2) AS u(id, receipt) WHERE i.id = u.id"
    ))
    .bind::<Array<BigInt>, _>(ids)
    .bind::<Array<Jsonb>, _>(receipts)
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts a failed attempt; parks the delivery as failed once it has had
/// `max_attempts`. Answers whether it was parked.
pub async fn attempt_failed(
    conn: &mut AsyncPgConnection,
    id: i64,
    error: &str,
    max_attempts: i32,
) -> QueryResult<bool> {
    let state: String = diesel::update(alert_inbox::table.find(id))
        .set((
            alert_inbox::attempts.eq(alert_inbox::attempts + 1),
            alert_inbox::last_error.eq(error),
            alert_inbox::state.eq(diesel::dsl::sql::<diesel::sql_types::Text>(&format!(
                "CASE WHEN attempts + 1 >= {max_attempts} THEN '{FAILED}' ELSE '{PENDING}' END"
            ))),
            alert_inbox::finished_at.eq(diesel::dsl::sql::<
                diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
            >(&format!(
                "CASE WHEN attempts + 1 >= {max_attempts} THEN now() END"
            ))),
        ))
        .returning(alert_inbox::state)
        .get_result(conn)
        .await?;
    Ok(state == FAILED)
}

/// One delivery of one integration (another's is not found).
pub async fn find(
    conn: &mut AsyncPgConnection,
    integration: i64,
    id: i64,
) -> QueryResult<Option<Delivery>> {
    alert_inbox::table
        .find(id)
        .filter(alert_inbox::integration_id.eq(integration))
        .select(Delivery::as_select())
        .first(conn)
        .await
        .optional()
}

/// The inbox at a glance: pending deliveries, since when the oldest has
/// waited, and deliveries parked as failed.
pub async fn pending(
    conn: &mut AsyncPgConnection,
) -> QueryResult<(i64, Option<DateTime<Utc>>, i64)> {
    let (n, oldest): (i64, Option<DateTime<Utc>>) = alert_inbox::table
        .filter(alert_inbox::state.eq(PENDING))
        .select((count_star(), min(alert_inbox::received_at)))
        .get_result(conn)
        .await?;
    let failed: i64 = alert_inbox::table
        .filter(alert_inbox::state.eq(FAILED))
        .count()
        .get_result(conn)
        .await?;
    Ok((n, oldest, failed))
}

/// Deliveries parked as failed, newest first, for the admins.
pub async fn failed(
    conn: &mut AsyncPgConnection,
    integration: i64,
    limit: i64,
) -> QueryResult<Vec<Delivery>> {
    alert_inbox::table
        .filter(alert_inbox::state.eq(FAILED))
        .filter(alert_inbox::integration_id.eq(integration))
        .order(alert_inbox::id.desc())
        .select(Delivery::as_select())
        .limit(limit)
        .load(conn)
        .await
}

/// Forgets applied deliveries finished before `before` (their tickets and
/// journal keep what they did); parked ones stay for the admins.
pub async fn prune(conn: &mut AsyncPgConnection, before: DateTime<Utc>) -> QueryResult<usize> {
    diesel::delete(
        alert_inbox::table
            .filter(alert_inbox::state.eq(APPLIED))
            .filter(alert_inbox::finished_at.lt(before)),
    )
    .execute(conn)
    .await
}
