//! The search outbox: written in the same transaction as the change it
//! announces (see `search_outbox` in the migrations).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::search_outbox;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Model,
    Ticket,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Model => "model",
            Entity::Ticket => "ticket",
        }
    }
}

/// Indexers LISTEN here to apply new rows at once.
pub const CHANNEL: &str = "casebook_outbox";

pub async fn enqueue(conn: &mut AsyncPgConnection, entity: Entity, id: i64) -> QueryResult<()> {
    diesel::insert_into(search_outbox::table)
        .values((
            search_outbox::entity.eq(entity.as_str()),
            search_outbox::entity_id.eq(id),
        ))
        .execute(conn)
        .await?;
    diesel::sql_query(format!("NOTIFY {CHANNEL}"))
        .execute(conn)
        .await?;
    Ok(())
}

/// Rows after `after`, oldest first: (id, entity, entity id).
pub async fn after(
    conn: &mut AsyncPgConnection,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<(i64, String, i64)>> {
    search_outbox::table
        .filter(search_outbox::id.gt(after))
        .select((
            search_outbox::id,
            search_outbox::entity,
            search_outbox::entity_id,
        ))
        .order(search_outbox::id.asc())
        .limit(limit)
        .load(conn)
        .await
}

pub async fn newest(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    search_outbox::table
        .select(diesel::dsl::max(search_outbox::id))
        .first::<Option<i64>>(conn)
        .await
        .map(|id| id.unwrap_or(0))
}
