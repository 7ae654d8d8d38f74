//! The first admin, without an open door: while no admin exists, `serve`
//! prints a one-time setup URL with a random token; this page refuses
//! without that token and is gone once an admin exists.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Duration, Utc};
use diesel_async::AsyncConnection;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::db::{DbPool, audit, sessions, users};
use crate::domain::FieldError;
use crate::domain::account::{
    MAX_NAME_CHARS, Role, UserId, validate_email, validate_name, validate_password,
};
use crate::secrets::{self, hash_token, new_token};
use crate::web::auth::client_addr;
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::sessions::{SESSION_DAYS, session_cookie};
use crate::web::{render_status, see_other};

const BAD_LINK: &str =
    "this setup link is not valid: use the URL that `casebook serve` printed on its console";

#[derive(Template)]
#[template(path = "setup/new.html")]
struct SetupPage {
    ctx: Ctx,
    token: String,
    email: String,
    display_name: String,
    error: Option<FieldError>,
}

/// Called by `serve` after migrations: while there is no admin, a fresh
/// setup token replaces any older one and the URL is printed.
pub async fn announce(pool: &DbPool, base_url: &str) -> Result<(), AppError> {
    let mut conn = pool.get().await?;
    if users::admin_exists(&mut conn).await? {
        sessions::delete_setup_token(&mut conn).await?;
        return Ok(());
    }
    let token = new_token("")?;
    sessions::replace_setup_token(&mut conn, &hash_token(&token)).await?;
    tracing::warn!("no admin account exists yet; the setup URL is printed on the console");
    println!(
        "\nCasebook has no admin yet. Create the first one here (this link works once):\n\n    {base_url}/setup?token={token}\n"
    );
    Ok(())
}

async fn token_is_valid(state: &AppState, token: &str) -> Result<bool, AppError> {
    let mut conn = state.pool.get().await?;
    if users::admin_exists(&mut conn).await? {
        return Err(AppError::NotFound);
    }
    let stored = sessions::setup_token_hash(&mut conn).await?;
    Ok(stored.is_some_and(|h| secrets::constant_time_eq(&h, &hash_token(token))))
}

#[derive(Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

pub async fn new(
    ctx: Ctx,
    state: web::Data<AppState>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    // The link printed at the first start, opened again once it did its
    // job: say so and point to signing in, instead of a dead end.
    match token_is_valid(&state, &query.token).await {
        Err(AppError::NotFound) => {
            return Ok(crate::web::see_other("/login?notice=setup-used"));
        }
        Err(e) => return Err(e),
        Ok(false) => return Err(AppError::Unauthorized(BAD_LINK)),
        Ok(true) => {}
    }
    render_status(
        &SetupPage {
            ctx,
            token: query.token.clone(),
            email: String::new(),
            display_name: String::new(),
            error: None,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

fn validate(form: &SetupForm) -> Result<(String, String), FieldError> {
    let email = validate_email(&form.email)?;
    let name = validate_name("display_name", &form.display_name, MAX_NAME_CHARS)?;
    validate_password(&form.password)?;
    if form.password != form.password_confirm {
        return Err(FieldError::new(
            "password_confirm",
            "does not match the password",
        ));
    }
    Ok((email, name))
}

pub async fn create(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    form: web::Form<SetupForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    if !token_is_valid(&state, &form.token).await? {
        return Err(AppError::Unauthorized(BAD_LINK));
    }
    let (email, name) = match validate(&form) {
        Ok(valid) => valid,
        Err(error) => {
            return render_status(
                &SetupPage {
                    ctx,
                    token: form.token.clone(),
                    email: form.email.clone(),
                    display_name: form.display_name.clone(),
                    error: Some(error),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            );
        }
    };
    let password = form.password.clone();
    let hash = crate::web::auth::hash_password(password).await?;
    let session = new_token("")?;
    let session_hash = hash_token(&session);
    let token_hash = hash_token(&form.token);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    conn.transaction(async move |conn| {
        // Whoever consumes the token first wins; a second submit finds
        // it gone and changes nothing.
        let stored = sessions::setup_token_hash(conn).await?;
        if stored.as_deref() != Some(token_hash.as_str()) || users::admin_exists(conn).await? {
            return Err(AppError::Unauthorized(BAD_LINK));
        }
        sessions::delete_setup_token(conn).await?;
        let admin = users::create(
            conn,
            users::NewUser {
                email: &email,
                display_name: &name,
                role: Role::Admin,
                organization: None,
                password_hash: &hash,
            },
        )
        .await?;
        audit::record(
            conn,
            audit::Event {
                actor: Some(UserId(admin.id)),
                action: "user.created",
                subject: admin.email.clone(),
                client_addr: Some(&addr),
                detail: json!({ "role": "admin", "via": "setup" }),
            },
        )
        .await?;
        sessions::create(
            conn,
            UserId(admin.id),
            &session_hash,
            Utc::now() + Duration::days(SESSION_DAYS),
        )
        .await?;
        Ok::<_, AppError>(())
    })
    .await?;
    let mut response = see_other("/");
    response
        .add_cookie(&session_cookie(&state, session))
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    Ok(response)
}
