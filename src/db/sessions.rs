//! Sign-in sessions, login attempts (for rate limiting) and the one-time
//! first-admin setup token. Only hashes of tokens are stored.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{login_attempts, sessions, setup_tokens, users};
use crate::db::users::User;
use crate::domain::account::UserId;

pub async fn create(
    conn: &mut AsyncPgConnection,
    user: UserId,
    token_hash: &str,
    expires_at: DateTime<Utc>,
) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values((
            sessions::user_id.eq(user.0),
            sessions::token_hash.eq(token_hash),
            sessions::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The user of a live session: not expired, user not disabled. Checked on
/// every request.
pub async fn find_user(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
) -> QueryResult<Option<User>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::token_hash.eq(token_hash))
        .filter(sessions::expires_at.gt(diesel::dsl::now))
        .filter(users::disabled.eq(false))
        .select(User::as_select())
        .first(conn)
        .await
        .optional()
}

pub async fn delete(conn: &mut AsyncPgConnection, token_hash: &str) -> QueryResult<()> {
    diesel::delete(sessions::table.filter(sessions::token_hash.eq(token_hash)))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn record_attempt(
    conn: &mut AsyncPgConnection,
    email: &str,
    client_addr: &str,
    succeeded: bool,
) -> QueryResult<()> {
    diesel::insert_into(login_attempts::table)
        .values((
            login_attempts::email.eq(email),
            login_attempts::client_addr.eq(client_addr),
            login_attempts::succeeded.eq(succeeded),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Failed attempts since `since`: for this email (any case), and from this
/// address.
pub async fn recent_failures(
    conn: &mut AsyncPgConnection,
    email: &str,
    client_addr: &str,
    since: DateTime<Utc>,
) -> QueryResult<(i64, i64)> {
    let by_email = login_attempts::table
        .filter(login_attempts::succeeded.eq(false))
        .filter(login_attempts::at.gt(since))
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = lower(")
                .bind::<diesel::sql_types::Text, _>(email)
                .sql(")"),
        )
        .count()
        .get_result(conn)
        .await?;
    let by_addr = login_attempts::table
        .filter(login_attempts::succeeded.eq(false))
        .filter(login_attempts::at.gt(since))
        .filter(login_attempts::client_addr.eq(client_addr))
        .count()
        .get_result(conn)
        .await?;
    Ok((by_email, by_addr))
}

pub async fn replace_setup_token(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
) -> QueryResult<()> {
    diesel::insert_into(setup_tokens::table)
        .values((
            setup_tokens::id.eq(1),
            setup_tokens::token_hash.eq(token_hash),
        ))
        .on_conflict(setup_tokens::id)
        .do_update()
        .set((
            setup_tokens::token_hash.eq(token_hash),
            setup_tokens::created_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn setup_token_hash(conn: &mut AsyncPgConnection) -> QueryResult<Option<String>> {
    setup_tokens::table
        .select(setup_tokens::token_hash)
        .first(conn)
        .await
        .optional()
}

pub async fn delete_setup_token(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::delete(setup_tokens::table).execute(conn).await?;
    Ok(())
}
