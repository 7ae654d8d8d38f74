//! The managed list of ticket categories. Tickets keep their category as
//! text (free text is still allowed); the list offers the team's names and
//! gives a typed name its listed spelling, so metrics group cleanly.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{ticket_categories, tickets};

#[derive(Debug, Clone, Queryable)]
pub struct Category {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// How many tickets carry it (in any spelling).
    pub tickets: i64,
}

pub async fn names(conn: &mut AsyncPgConnection) -> QueryResult<Vec<String>> {
    ticket_categories::table
        .select(ticket_categories::name)
        .order(ticket_categories::name.asc())
        .load(conn)
        .await
}

pub async fn list(conn: &mut AsyncPgConnection) -> QueryResult<Vec<Category>> {
    let rows: Vec<(i64, String, DateTime<Utc>)> = ticket_categories::table
        .select((
            ticket_categories::id,
            ticket_categories::name,
            ticket_categories::created_at,
        ))
        .order(ticket_categories::name.asc())
        .load(conn)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, name, created_at) in rows {
        let count = tickets::table
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>("lower(category) = lower(")
                    .bind::<diesel::sql_types::Text, _>(name.clone())
                    .sql(")"),
            )
            .count()
            .get_result(conn)
            .await?;
        out.push(Category {
            id,
            name,
            created_at,
            tickets: count,
        });
    }
    Ok(out)
}

/// The listed spelling of `name`, if the list has it (case and surrounding
/// spaces ignored).
pub async fn canonical(conn: &mut AsyncPgConnection, name: &str) -> QueryResult<Option<String>> {
    ticket_categories::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(name) = lower(")
                .bind::<diesel::sql_types::Text, _>(name.trim().to_owned())
                .sql(")"),
        )
        .select(ticket_categories::name)
        .first(conn)
        .await
        .optional()
}

/// Adds a category; `false` when the list already has it.
pub async fn add(conn: &mut AsyncPgConnection, name: &str) -> QueryResult<bool> {
    if canonical(conn, name).await?.is_some() {
        return Ok(false);
    }
    let inserted = diesel::insert_into(ticket_categories::table)
        .values(ticket_categories::name.eq(name))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    Ok(inserted == 1)
}

/// Removes a category from the list; tickets keep their text.
pub async fn remove(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<bool> {
    diesel::delete(ticket_categories::table.find(id))
        .execute(conn)
        .await
        .map(|n| n == 1)
}
