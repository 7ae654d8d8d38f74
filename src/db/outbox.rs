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

/// Several rows of one entity kind in one statement, one notification.
pub async fn enqueue_many(
    conn: &mut AsyncPgConnection,
    entity: Entity,
    ids: &[i64],
) -> QueryResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let values: Vec<_> = ids
        .iter()
        .map(|id| {
            (
                search_outbox::entity.eq(entity.as_str()),
                search_outbox::entity_id.eq(*id),
            )
        })
        .collect();
    diesel::insert_into(search_outbox::table)
        .values(values)
        .execute(conn)
        .await?;
    diesel::sql_query(format!("NOTIFY {CHANNEL}"))
        .execute(conn)
        .await?;
    Ok(())
}

/// Every transaction with an id below this has ended (committed or rolled
/// back); transactions from here on may still be running. Rows of
/// transactions below it can no longer appear, whatever their ids.
pub async fn horizon(conn: &mut AsyncPgConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct Horizon {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        xmin: i64,
    }
    diesel::sql_query("SELECT txid_snapshot_xmin(txid_current_snapshot()) AS xmin")
        .get_result::<Horizon>(conn)
        .await
        .map(|h| h.xmin)
}

/// Waits, up to `patience`, until every row committed so far lies below the
/// horizon (transactions that still run hold it back). Whether it does.
pub async fn settle(
    conn: &mut AsyncPgConnection,
    patience: std::time::Duration,
) -> QueryResult<bool> {
    let newest: Option<i64> = search_outbox::table
        .select(diesel::dsl::max(search_outbox::txid))
        .first(conn)
        .await?;
    let Some(newest) = newest else {
        return Ok(true);
    };
    let deadline = tokio::time::Instant::now() + patience;
    while horizon(conn).await? <= newest {
        if tokio::time::Instant::now() >= deadline {
            return Ok(false);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Ok(true)
}

/// Rows of the transactions in `from..to` (all ended: `to` is at most the
/// horizon) with an id above `after`, by id: (id, entity, entity id).
pub async fn between(
    conn: &mut AsyncPgConnection,
    from: i64,
    to: i64,
    after: i64,
    limit: i64,
) -> QueryResult<Vec<(i64, String, i64)>> {
    search_outbox::table
        .filter(search_outbox::txid.ge(from))
        .filter(search_outbox::txid.lt(to))
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

/// Committed rows an index at `position` has not applied yet.
pub async fn pending(conn: &mut AsyncPgConnection, position: Position) -> QueryResult<i64> {
    search_outbox::table
        .filter(search_outbox::txid.ge(position.horizon))
        .filter(
            search_outbox::txid
                .ge(position.range_end)
                .or(search_outbox::id.gt(position.after)),
        )
        .count()
        .get_result(conn)
        .await
}

/// How far an index has applied the outbox: every row of a transaction
/// below `horizon`, and the rows of transactions in `horizon..range_end`
/// up to id `after` (a range is applied in id order, a batch at a time).
/// Kept as the tantivy commit payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub horizon: i64,
    pub range_end: i64,
    pub after: i64,
}

impl Position {
    /// Everything below `horizon` applied, nothing started beyond.
    pub fn at(horizon: i64) -> Self {
        Self {
            horizon,
            range_end: horizon,
            after: 0,
        }
    }

    /// Whether a range is half applied.
    pub fn in_range(self) -> bool {
        self.range_end > self.horizon
    }
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "xmin:{}:{}:{}", self.horizon, self.range_end, self.after)
    }
}

impl std::str::FromStr for Position {
    type Err = ();

    /// An index written before commit-order reading (its payload an outbox
    /// id) has no position: it replays the whole outbox, which is safe.
    fn from_str(s: &str) -> Result<Self, ()> {
        let mut parts = s.strip_prefix("xmin:").ok_or(())?.split(':');
        let mut next = || parts.next().and_then(|p| p.parse::<i64>().ok()).ok_or(());
        Ok(Self {
            horizon: next()?,
            range_end: next()?,
            after: next()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Position;

    #[test]
    fn positions_round_trip_and_old_payloads_replay_everything() {
        let p = Position {
            horizon: 7,
            range_end: 12,
            after: 40,
        };
        assert_eq!(p.to_string().parse(), Ok(p));
        assert!(p.in_range());
        assert!(!Position::at(9).in_range());
        assert_eq!("1234".parse::<Position>(), Err(()));
        assert_eq!("xmin:1:2".parse::<Position>(), Err(()));
    }
}
