//! Signing in and out. A failed sign-in never says whether the email
//! exists; attempts are rate-limited per account and per client address.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Duration, Utc};
use diesel_async::AsyncConnection;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::db::{audit, sessions, users};
use crate::domain::account::UserId;
use crate::secrets::{self, hash_token, new_token};
use crate::web::auth::{Identity, MaybeSignedIn, SESSION_COOKIE, SignedIn, client_addr};
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::{render_status, see_other};

pub const SESSION_DAYS: i64 = 7;
pub const WINDOW_MINUTES: i64 = 15;
/// Failed password checks of one account (sign-in, or the current
/// password on the account page) before it must wait.
const MAX_FAILURES_PER_ACCOUNT: i64 = 5;
const MAX_FAILURES_PER_ADDRESS: i64 = 20;

#[derive(Template)]
#[template(path = "sessions/new.html")]
struct LoginPage {
    ctx: Ctx,
    email: String,
    next: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

/// Only a path of this site: a `next` pointing elsewhere would make the
/// login page an open redirect. Browsers drop tabs and line breaks from a
/// URL and read `\` as `/` (so `/<TAB>/evil.example` is `//evil.example`),
/// hence no control character, whitespace or backslash at all, and no
/// second slash at the start.
fn safe_next(next: &str) -> &str {
    let plain = next
        .chars()
        .all(|c| !c.is_control() && !c.is_whitespace() && c != '\\');
    if plain && next.starts_with('/') && !next.starts_with("//") {
        next
    } else {
        "/"
    }
}

/// Whether this account or address failed too many password checks within
/// the window (sign-in and the account page's current-password check count
/// alike): then it must wait.
pub async fn too_many_failures(
    conn: &mut diesel_async::AsyncPgConnection,
    email: &str,
    addr: &str,
) -> diesel::QueryResult<bool> {
    let since = Utc::now() - Duration::minutes(WINDOW_MINUTES);
    let (by_email, by_addr) = sessions::recent_failures(conn, email, addr, since).await?;
    Ok(by_email >= MAX_FAILURES_PER_ACCOUNT || by_addr >= MAX_FAILURES_PER_ADDRESS)
}

pub async fn new(
    ctx: Ctx,
    who: MaybeSignedIn,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    if who.0.is_some() {
        return Ok(see_other(safe_next(&query.next)));
    }
    render_status(
        &LoginPage {
            ctx,
            email: String::new(),
            next: query.next.clone(),
            error: None,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    ctx: Ctx,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let email = form.email.trim().to_owned();
    let again = |ctx: Ctx, status: StatusCode, error: &str| {
        render_status(
            &LoginPage {
                ctx,
                email: email.clone(),
                next: form.next.clone(),
                error: Some(error.to_owned()),
            },
            status,
        )
    };
    if email.is_empty() || form.password.is_empty() {
        return again(
            ctx,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your email and password.",
        );
    }
    if email.len() > 254 || form.password.len() > 512 {
        return again(ctx, StatusCode::UNAUTHORIZED, "Email or password is wrong.");
    }
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    if too_many_failures(&mut conn, &email, &addr).await? {
        return again(
            ctx,
            StatusCode::TOO_MANY_REQUESTS,
            &format!("Too many failed sign-ins. Wait {WINDOW_MINUTES} minutes and try again."),
        );
    }
    let found = users::find_for_login(&mut conn, &email).await?;
    let stored = found
        .as_ref()
        .map(|(_, hash)| hash.clone())
        .unwrap_or_else(|| secrets::dummy_password_hash().to_owned());
    let password = form.password.clone();
    // Hashing is slow on purpose; keep it off the async workers.
    let matches = web::block(move || secrets::verify_password(&password, &stored))
        .await
        .unwrap_or(false);
    let user = found
        .map(|(user, _)| user)
        .filter(|u| matches && !u.disabled);

    let Some(user) = user else {
        let (email, addr) = (email.clone(), addr.clone());
        conn.transaction(async move |conn| {
            sessions::record_attempt(conn, &email, &addr, false).await?;
            audit::record(
                conn,
                audit::Event {
                    actor: None,
                    action: "login.failed",
                    subject: email.clone(),
                    client_addr: Some(&addr),
                    detail: json!({}),
                },
            )
            .await?;
            Ok::<_, AppError>(())
        })
        .await?;
        return again(ctx, StatusCode::UNAUTHORIZED, "Email or password is wrong.");
    };

    let token = new_token("")?;
    let token_hash = hash_token(&token);
    let expires = Utc::now() + Duration::days(SESSION_DAYS);
    let user_id = UserId(user.id);
    conn.transaction(async move |conn| {
        sessions::record_attempt(conn, &email, &addr, true).await?;
        sessions::create(conn, user_id, &token_hash, expires).await?;
        audit::record(
            conn,
            audit::Event {
                actor: Some(user_id),
                action: "login",
                subject: email.clone(),
                client_addr: Some(&addr),
                detail: json!({}),
            },
        )
        .await?;
        Ok::<_, AppError>(())
    })
    .await?;
    tracing::info!(user.id = user.id, "signed in");
    let mut response = see_other(safe_next(&form.next));
    response
        .add_cookie(&session_cookie(&state, token))
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    Ok(response)
}

pub fn session_cookie(state: &AppState, token: String) -> Cookie<'static> {
    Cookie::build(SESSION_COOKIE, token)
        .path("/")
        .http_only(true)
        // Lax, so links from chat and email into Casebook arrive signed in;
        // forms are defended by the CSRF token, not by the cookie policy.
        .same_site(SameSite::Lax)
        .secure(state.config.secure_cookies)
        .max_age(CookieDuration::days(SESSION_DAYS))
        .finish()
}

pub async fn destroy(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
) -> Result<HttpResponse, AppError> {
    let Identity {
        user, session_hash, ..
    } = who.0;
    let mut conn = state.pool.get().await?;
    let addr = client_addr(&req);
    conn.transaction(async move |conn| {
        if let Some(hash) = &session_hash {
            sessions::delete(conn, hash).await?;
        }
        audit::record(
            conn,
            audit::Event {
                actor: Some(UserId(user.id)),
                action: "logout",
                subject: user.email.clone(),
                client_addr: Some(&addr),
                detail: json!({}),
            },
        )
        .await?;
        Ok::<_, AppError>(())
    })
    .await?;
    let mut response = see_other("/login?notice=signed-out");
    let mut gone = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    gone.make_removal();
    response
        .add_cookie(&gone)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next("/tickets?x=1"), "/tickets?x=1");
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "",
            "javascript:x",
            "/\t/evil.example/x",
            "/\n/evil.example",
            "/\r\nSet-Cookie: x=y",
            "/\u{b}/evil.example",
            "/ /evil.example",
            "/x\\..\\\\evil.example",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad}");
        }
    }
}
