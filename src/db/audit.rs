//! The audit log: append-only.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{audit_log, users};
use crate::domain::account::UserId;

pub struct Event<'a> {
    pub actor: Option<UserId>,
    pub action: &'a str,
    pub subject: String,
    pub client_addr: Option<&'a str>,
    pub detail: serde_json::Value,
}

pub async fn record(conn: &mut AsyncPgConnection, event: Event<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::actor_id.eq(event.actor.map(|a| a.0)),
            audit_log::action.eq(event.action),
            audit_log::subject.eq(event.subject),
            audit_log::client_addr.eq(event.client_addr),
            audit_log::detail.eq(event.detail),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[derive(Debug, Queryable)]
pub struct Entry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor: Option<String>,
    pub action: String,
    pub subject: String,
    pub client_addr: Option<String>,
    pub detail: serde_json::Value,
}

/// Newest first.
pub async fn page(
    conn: &mut AsyncPgConnection,
    offset: i64,
    limit: i64,
) -> QueryResult<Vec<Entry>> {
    audit_log::table
        .left_join(users::table)
        .select((
            audit_log::id,
            audit_log::at,
            users::email.nullable(),
            audit_log::action,
            audit_log::subject,
            audit_log::client_addr,
            audit_log::detail,
        ))
        .order(audit_log::id.desc())
        .offset(offset)
        .limit(limit)
        .load(conn)
        .await
}

pub async fn count(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    audit_log::table.count().get_result(conn).await
}
