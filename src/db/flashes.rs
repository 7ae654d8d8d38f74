//! Form flashes: what a refused ticket-page form said and what was typed,
//! kept for the one page view after the redirect (see the migration
//! `ticket_page`). Taken once, by the same person on the same ticket,
//! within [`LIFETIME_MINUTES`].

use chrono::{Duration, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;

use crate::db::schema::form_flashes;
use crate::domain::account::UserId;
use crate::domain::ticket::TicketId;

pub const LIFETIME_MINUTES: i64 = 10;

/// A refusal waiting for its page view.
#[derive(Debug, Clone, PartialEq)]
pub struct Flash {
    pub field: String,
    pub message: String,
    pub draft: Value,
}

/// Stores a flash under `token_hash`, and deletes the expired ones.
pub async fn put(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
    user: UserId,
    ticket: TicketId,
    flash: &Flash,
) -> QueryResult<()> {
    let expired = Utc::now() - Duration::minutes(LIFETIME_MINUTES);
    diesel::delete(form_flashes::table.filter(form_flashes::created_at.lt(expired)))
        .execute(conn)
        .await?;
    diesel::insert_into(form_flashes::table)
        .values((
            form_flashes::token_hash.eq(token_hash),
            form_flashes::user_id.eq(user.0),
            form_flashes::ticket_id.eq(ticket.0),
            form_flashes::field.eq(&flash.field),
            form_flashes::message.eq(&flash.message),
            form_flashes::draft.eq(&flash.draft),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Takes (reads and deletes) the flash under `token_hash`, if it is this
/// person's, for this ticket, and not expired.
pub async fn take(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
    user: UserId,
    ticket: TicketId,
) -> QueryResult<Option<Flash>> {
    let fresh = Utc::now() - Duration::minutes(LIFETIME_MINUTES);
    let row: Option<(String, String, Value)> = diesel::delete(
        form_flashes::table
            .filter(form_flashes::token_hash.eq(token_hash))
            .filter(form_flashes::user_id.eq(user.0))
            .filter(form_flashes::ticket_id.eq(ticket.0))
            .filter(form_flashes::created_at.ge(fresh)),
    )
    .returning((
        form_flashes::field,
        form_flashes::message,
        form_flashes::draft,
    ))
    .get_result(conn)
    .await
    .optional()?;
    Ok(row.map(|(field, message, draft)| Flash {
        field,
        message,
        draft,
    }))
}
