//! One's own account: the password, named API tokens, which
//! notifications one gets by mail, and the time zone one reads times in.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel_async::AsyncConnection;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::db::api_tokens::{self, ApiToken};
use crate::db::{audit, deliveries, users};
use crate::domain::FieldError;
use crate::domain::account::{TokenId, UserId, validate_name, validate_password};
use crate::domain::notice::Notice;
use crate::secrets::{self, hash_token, new_token};
use crate::web::auth::{SignedIn, client_addr};
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::{render_status, see_other};

const MAX_TOKEN_NAME: usize = 80;

#[derive(Template)]
#[template(path = "account/show.html")]
struct AccountPage {
    ctx: Ctx,
    email: String,
    role: String,
    tokens: Vec<ApiToken>,
    /// Shown once, right after creation.
    new_token: Option<String>,
    error: Option<FieldError>,
    /// The notifications this person can get: (name, label, on).
    notices: Vec<(&'static str, &'static str, bool)>,
    /// The zone field as shown: the chosen name, or what was typed when it
    /// was refused; empty for the instance's default.
    time_zone: String,
    /// The instance's default zone.
    default_zone: &'static str,
    /// The zone in force, with the time now in it.
    zone_now: String,
}

impl AccountPage {
    fn zones(&self) -> impl Iterator<Item = &'static str> {
        crate::domain::zone::names()
    }
}

async fn page(
    state: &AppState,
    ctx: Ctx,
    who: &SignedIn,
    new_token: Option<String>,
    error: Option<FieldError>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let typed = who.0.user.time_zone.clone().unwrap_or_default();
    page_with_zone(state, ctx, who, new_token, error, status, typed).await
}

async fn page_with_zone(
    state: &AppState,
    ctx: Ctx,
    who: &SignedIn,
    new_token: Option<String>,
    error: Option<FieldError>,
    status: StatusCode,
    time_zone: String,
) -> Result<HttpResponse, AppError> {
    let zone = who.0.user.zone(state.config.time_zone);
    let mut conn = state.pool.get().await?;
    let tokens = api_tokens::list_for_user(&mut conn, UserId(who.0.user.id)).await?;
    let staff = who.0.user.role().is_staff();
    let notices = deliveries::preferences(&mut conn, who.0.user.id)
        .await?
        .into_iter()
        .filter(|(n, _)| staff || !n.is_team_only())
        .map(|(n, on)| (n.as_str(), n.label(), on))
        .collect();
    render_status(
        &AccountPage {
            ctx,
            email: who.0.user.email.clone(),
            role: who.0.user.role.clone(),
            tokens,
            new_token,
            error,
            notices,
            time_zone,
            default_zone: state.config.time_zone.name(),
            zone_now: format!(
                "{}: it is {} there now",
                zone.name(),
                crate::domain::zone::show(zone, chrono::Utc::now())
            ),
        },
        status,
    )
}

#[derive(Deserialize)]
pub struct TimeZoneForm {
    #[serde(default)]
    time_zone: String,
}

/// Sets the zone one reads times in (an IANA name); an empty field goes
/// back to the instance's default. A name not in the zone database is
/// refused with the form again and changes nothing.
pub async fn save_time_zone(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<TimeZoneForm>,
) -> Result<HttpResponse, AppError> {
    let typed = form.time_zone.trim();
    let zone = if typed.is_empty() {
        None
    } else {
        match crate::domain::zone::parse("time_zone", typed) {
            Ok(zone) => Some(zone),
            Err(error) => {
                return page_with_zone(
                    &state,
                    ctx,
                    &who,
                    None,
                    Some(error),
                    StatusCode::UNPROCESSABLE_ENTITY,
                    typed.to_owned(),
                )
                .await;
            }
        }
    };
    let user_id = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    conn.transaction(async move |conn| {
        users::set_time_zone(conn, user_id, zone).await?;
        audit::record(
            conn,
            audit::Event {
                actor: Some(user_id),
                action: "time_zone.changed",
                subject: zone.map_or("(default)", |z| z.name()).to_owned(),
                client_addr: Some(&addr),
                detail: json!({ "time_zone": zone.map(|z| z.name()) }),
            },
        )
        .await?;
        Ok::<_, AppError>(())
    })
    .await?;
    Ok(see_other("/account?notice=time-zone-saved"))
}

/// Saves which notifications one gets by mail: the ticked boxes are on.
pub async fn save_notifications(
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let on: Vec<Notice> = form
        .iter()
        .filter(|(_, value)| value == "on")
        .filter_map(|(name, _)| name.parse().ok())
        .collect();
    let mut conn = state.pool.get().await?;
    deliveries::set_preferences(&mut conn, who.0.user.id, &on).await?;
    Ok(see_other("/account?notice=notifications-saved"))
}

pub async fn show(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    page(&state, ctx, &who, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

pub async fn change_password(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let user_id = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let email = who.0.user.email.clone();
    let mut conn = state.pool.get().await?;
    // Guessing the current password here is rate-limited like sign-in,
    // and counts against the same limit.
    if super::sessions::too_many_failures(&mut conn, &email, &addr).await? {
        return Err(AppError::TooManyRequests(format!(
            "Too many wrong passwords. Wait {} minutes and try again.",
            super::sessions::WINDOW_MINUTES
        )));
    }
    let stored = users::password_hash(&mut conn, user_id).await?;
    let current = form.current.clone();
    let current_ok = web::block(move || secrets::verify_password(&current, &stored))
        .await
        .unwrap_or(false);
    if !current_ok {
        crate::db::sessions::record_attempt(&mut conn, &email, &addr, false).await?;
    }
    let checked = if !current_ok {
        Err(FieldError::new("current", "is not your current password"))
    } else if form.password != form.password_confirm {
        Err(FieldError::new(
            "password_confirm",
            "does not match the new password",
        ))
    } else {
        validate_password(&form.password)
    };
    if let Err(error) = checked {
        return page(
            &state,
            ctx,
            &who,
            None,
            Some(error),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let password = form.password.clone();
    let hash = crate::web::auth::hash_password(password).await?;
    conn.transaction(async move |conn| {
        users::set_password(conn, user_id, &hash).await?;
        audit::record(
            conn,
            audit::Event {
                actor: Some(user_id),
                action: "password.changed",
                subject: email,
                client_addr: Some(&addr),
                detail: json!({}),
            },
        )
        .await?;
        Ok::<_, AppError>(())
    })
    .await?;
    Ok(see_other("/login?notice=password-changed"))
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
}

pub async fn create_token(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let name = match validate_name("name", &form.name, MAX_TOKEN_NAME) {
        Ok(name) => name,
        Err(error) => {
            return page(
                &state,
                ctx,
                &who,
                None,
                Some(error),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let token = new_token("cb_")?;
    let token_hash = hash_token(&token);
    let prefix: String = token.chars().take(10).collect();
    let user_id = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    conn.transaction(async move |conn| {
        let created = api_tokens::create(conn, user_id, &name, &token_hash, &prefix).await?;
        audit::record(
            conn,
            audit::Event {
                actor: Some(user_id),
                action: "token.created",
                subject: name.clone(),
                client_addr: Some(&addr),
                detail: json!({ "token_id": created.id, "prefix": prefix }),
            },
        )
        .await?;
        Ok::<_, AppError>(())
    })
    .await?;
    page(&state, ctx, &who, Some(token), None, StatusCode::CREATED).await
}

pub async fn revoke_token(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let user_id = UserId(who.0.user.id);
    let token_id = TokenId(path.into_inner());
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    conn.transaction(async move |conn| {
        let revoked = api_tokens::revoke(conn, user_id, token_id)
            .await?
            .ok_or(AppError::NotFound)?;
        audit::record(
            conn,
            audit::Event {
                actor: Some(user_id),
                action: "token.revoked",
                subject: revoked.name.clone(),
                client_addr: Some(&addr),
                detail: json!({ "token_id": revoked.id, "prefix": revoked.prefix }),
            },
        )
        .await?;
        Ok::<_, AppError>(())
    })
    .await?;
    Ok(see_other("/account?notice=token-revoked"))
}
