//! Named API tokens. Shown once at creation; stored as hashes.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

use crate::db::schema::{api_tokens, users};
use crate::db::users::User;
use crate::domain::account::{TokenId, UserId};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_tokens)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

pub async fn create(
    conn: &mut AsyncPgConnection,
    user: UserId,
    name: &str,
    token_hash: &str,
    prefix: &str,
) -> QueryResult<ApiToken> {
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::user_id.eq(user.0),
            api_tokens::name.eq(name),
            api_tokens::token_hash.eq(token_hash),
            api_tokens::prefix.eq(prefix),
        ))
        .returning(ApiToken::as_returning())
        .get_result(conn)
        .await
}

pub async fn list_for_user(
    conn: &mut AsyncPgConnection,
    user: UserId,
) -> QueryResult<Vec<ApiToken>> {
    api_tokens::table
        .filter(api_tokens::user_id.eq(user.0))
        .select(ApiToken::as_select())
        .order((
            api_tokens::revoked_at.is_not_null(),
            api_tokens::created_at.desc(),
        ))
        .load(conn)
        .await
}

/// Revokes one of the user's own live tokens; `None` when there is no such
/// token.
pub async fn revoke(
    conn: &mut AsyncPgConnection,
    user: UserId,
    id: TokenId,
) -> QueryResult<Option<ApiToken>> {
    diesel::update(
        api_tokens::table
            .filter(api_tokens::id.eq(id.0))
            .filter(api_tokens::user_id.eq(user.0))
            .filter(api_tokens::revoked_at.is_null()),
    )
    .set(api_tokens::revoked_at.eq(diesel::dsl::now))
    .returning(ApiToken::as_returning())
    .get_result(conn)
    .await
    .optional()
}

/// The kind of token `casebook mailgate` uses.
pub const MAILGATE: &str = "mailgate";

/// The user behind a live token, noting the use.
pub async fn find_user(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
) -> QueryResult<Option<User>> {
    Ok(find_user_and_kind(conn, token_hash)
        .await?
        .map(|(user, _)| user))
}

/// The user behind a live token and the token's kind (`personal` or
/// `mailgate`), noting the use.
pub async fn find_user_and_kind(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
) -> QueryResult<Option<(User, String)>> {
    type Found = (i64, String, Option<DateTime<Utc>>, User);
    let found: Option<Found> = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(users::disabled.eq(false))
        .select((
            api_tokens::id,
            api_tokens::kind,
            api_tokens::last_used_at,
            User::as_select(),
        ))
        .first(conn)
        .await
        .optional()?;
    let Some((token_id, kind, last_used, user)) = found else {
        return Ok(None);
    };
    if !crate::db::used_lately(last_used, Utc::now()) {
        note_use(conn, token_id).await?;
    }
    Ok(Some((user, kind)))
}

/// Notes a use of a token, at most once every
/// [`crate::db::NOTE_USE_EVERY_SECS`]: a script calling the API many times
/// a second does not write (and wait for the disk to flush) the token's row
/// on every call, only to change its "last used" by a few milliseconds.
async fn note_use(conn: &mut AsyncPgConnection, id: i64) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE api_tokens SET last_used_at = now() WHERE id = $1 \
         AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => $2))",
    )
    .bind::<diesel::sql_types::BigInt, _>(id)
    .bind::<diesel::sql_types::Double, _>(crate::db::NOTE_USE_EVERY_SECS as f64)
    .execute(conn)
    .await?;
    Ok(())
}

/// A mail gateway token for `user` (staff): shown once, stored hashed.
pub async fn create_mailgate(
    conn: &mut AsyncPgConnection,
    user: UserId,
    name: &str,
    token_hash: &str,
    prefix: &str,
) -> QueryResult<ApiToken> {
    diesel::insert_into(api_tokens::table)
        .values((
            api_tokens::user_id.eq(user.0),
            api_tokens::name.eq(name),
            api_tokens::token_hash.eq(token_hash),
            api_tokens::prefix.eq(prefix),
            api_tokens::kind.eq(MAILGATE),
        ))
        .returning(ApiToken::as_returning())
        .get_result(conn)
        .await
}

/// Every live mail gateway token, with its owner's name.
pub async fn mailgate_tokens(conn: &mut AsyncPgConnection) -> QueryResult<Vec<(ApiToken, String)>> {
    api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::kind.eq(MAILGATE))
        .filter(api_tokens::revoked_at.is_null())
        .select((ApiToken::as_select(), users::display_name))
        .order(api_tokens::created_at.desc())
        .load(conn)
        .await
}
