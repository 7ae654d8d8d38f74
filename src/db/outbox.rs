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

pub async fn enqueue(conn: &mut AsyncPgConnection, entity: Entity, id: i64) -> QueryResult<()> {
    diesel::insert_into(search_outbox::table)
        .values((
            search_outbox::entity.eq(entity.as_str()),
            search_outbox::entity_id.eq(id),
        ))
        .execute(conn)
        .await?;
    Ok(())
}
