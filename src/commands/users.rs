//! `casebook user add`.

use diesel_async::AsyncConnection;
use serde_json::json;

use crate::config::Config;
use crate::db::{audit, users};
use crate::domain::FieldError;
use crate::domain::account::{
    MAX_NAME_CHARS, OrgId, Role, UserId, validate_email, validate_name, validate_password,
};
use crate::server::StartupError;

pub struct NewAccount {
    pub email: String,
    pub role: String,
    pub organization: Option<String>,
    pub display_name: Option<String>,
    pub password: String,
}

/// What `user add` did, for its one line of output.
pub struct Added {
    pub user_id: i64,
    pub email: String,
    pub role: Role,
    pub created_organization: Option<String>,
}

/// Adds a user, creating the named organization when it does not exist.
/// Validates everything before touching the database; writes in one
/// transaction.
pub async fn add_user(config: &Config, new: NewAccount) -> Result<Added, StartupError> {
    let email = validate_email(&new.email)?;
    let role: Role = new.role.parse()?;
    validate_password(&new.password)?;
    let default_name = email.split('@').next().unwrap_or(&email).to_owned();
    let name = validate_name(
        "name",
        new.display_name.as_deref().unwrap_or(&default_name),
        MAX_NAME_CHARS,
    )?;
    let org_name = new
        .organization
        .as_deref()
        .map(|o| validate_name("org", o, MAX_NAME_CHARS))
        .transpose()?;
    if role == Role::Customer && org_name.is_none() {
        return Err(FieldError::new("org", "a customer needs --org <organization>").into());
    }
    let password = new.password;
    let hash = tokio::task::spawn_blocking(move || crate::secrets::hash_password(&password))
        .await
        .map_err(|e| StartupError::Command(e.to_string()))?
        .map_err(|e| StartupError::Command(e.to_string()))?;

    super::with_database(config, async move |conn| {
        conn.transaction(async move |conn| {
            let mut created_organization = None;
            let organization = match &org_name {
                None => None,
                Some(name) => match users::find_organization_by_name(conn, name).await? {
                    Some(org) => Some(OrgId(org.id)),
                    None => {
                        let org = users::create_organization(conn, name).await?;
                        created_organization = Some(org.name.clone());
                        Some(OrgId(org.id))
                    }
                },
            };
            let user = users::create(
                conn,
                users::NewUser {
                    email: &email,
                    display_name: &name,
                    role,
                    organization,
                    password_hash: &hash,
                },
            )
            .await?;
            audit::record(
                conn,
                audit::Event {
                    actor: None,
                    action: "user.created",
                    subject: user.email.clone(),
                    client_addr: None,
                    detail: json!({ "user_id": user.id, "role": role.as_str(), "via": "cli" }),
                },
            )
            .await?;
            if role == Role::Admin {
                crate::db::sessions::delete_setup_token(conn).await?;
            }
            Ok::<_, StartupError>(Added {
                user_id: UserId(user.id).0,
                email: user.email,
                role,
                created_organization,
            })
        })
        .await
    })
    .await
}
