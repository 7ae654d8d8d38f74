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

/// The user behind a live token, noting the use.
pub async fn find_user(
    conn: &mut AsyncPgConnection,
    token_hash: &str,
) -> QueryResult<Option<User>> {
    let found: Option<(i64, User)> = api_tokens::table
        .inner_join(users::table)
        .filter(api_tokens::token_hash.eq(token_hash))
        .filter(api_tokens::revoked_at.is_null())
        .filter(users::disabled.eq(false))
        .select((api_tokens::id, User::as_select()))
        .first(conn)
        .await
        .optional()?;
    let Some((token_id, user)) = found else {
        return Ok(None);
    };
    diesel::update(api_tokens::table.find(token_id))
        .set(api_tokens::last_used_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(Some(user))
}
