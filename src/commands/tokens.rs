//! `casebook token create`: an API token for a user, from the command line
//! (scripts, CI, an integration set up before anyone signs in).

use diesel_async::AsyncConnection;
use serde_json::json;

use crate::config::Config;
use crate::db::{api_tokens, audit, users};
use crate::domain::FieldError;
use crate::domain::account::{UserId, validate_name};
use crate::secrets::{hash_token, new_token};
use crate::server::StartupError;

/// Token names are as long as on the account page.
const MAX_TOKEN_NAME: usize = 80;

/// Creates a token named `name` for the user with `email` (any case) and
/// returns it; only its hash is stored, so this is the one time it is seen.
/// A disabled user gets none.
pub async fn create_token(
    config: &Config,
    email: &str,
    name: &str,
) -> Result<String, StartupError> {
    let name = validate_name("name", name, MAX_TOKEN_NAME)?;
    let email = email.trim().to_owned();
    let token = new_token("cb_").map_err(|e| StartupError::Command(e.to_string()))?;
    let token_hash = hash_token(&token);
    let prefix: String = token.chars().take(10).collect();
    super::with_database(config, async move |conn| {
        conn.transaction(async move |conn| {
            let Some((user, _)) = users::find_for_login(conn, &email).await? else {
                return Err(FieldError::new("email", format!("no user has the email {email}")).into());
            };
            if user.disabled {
                return Err(
                    FieldError::new("email", format!("the user {email} is disabled")).into(),
                );
            }
            let created =
                api_tokens::create(conn, UserId(user.id), &name, &token_hash, &prefix).await?;
            audit::record(
                conn,
                audit::Event {
                    actor: None,
                    action: "token.created",
                    subject: name.clone(),
                    client_addr: None,
                    detail: json!({ "token_id": created.id, "prefix": prefix, "user_id": user.id, "via": "cli" }),
                },
            )
            .await?;
            Ok::<_, StartupError>(())
        })
        .await
    })
    .await?;
    Ok(token)
}
