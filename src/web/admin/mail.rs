//! Mail in, for admins: mail gateway tokens (for `casebook mailgate`) and
//! the domains whose unknown senders open tickets for an organization.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel_async::AsyncConnection;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::db::api_tokens::{self, ApiToken};
use crate::db::{audit, mail, users};
use crate::domain::FieldError;
use crate::domain::account::{UserId, validate_name};
use crate::secrets::{hash_token, new_token};
use crate::web::auth::{SignedIn, client_addr};
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::{render_status, see_other};

#[derive(Template)]
#[template(path = "admin/mail/show.html")]
struct MailPage {
    ctx: Ctx,
    tokens: Vec<(ApiToken, String)>,
    domains: Vec<(String, String)>,
    organizations: Vec<(i64, String)>,
    new_token: Option<String>,
    public_url: String,
    error: Option<FieldError>,
}

async fn page(
    state: &AppState,
    ctx: Ctx,
    new_token: Option<String>,
    error: Option<FieldError>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let tokens = api_tokens::mailgate_tokens(&mut conn).await?;
    let domains = mail::domains(&mut conn).await?;
    let organizations = users::organizations(&mut conn)
        .await?
        .into_iter()
        .map(|(o, _)| (o.id, o.name))
        .collect();
    render_status(
        &MailPage {
            ctx,
            tokens,
            domains,
            organizations,
            new_token,
            public_url: state.config.delivery.public_url.clone(),
            error,
        },
        status,
    )
}

pub async fn show(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    page(&state, ctx, None, None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
}

/// A mail gateway token, owned by the admin who made it; shown once.
pub async fn create_token(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let name = match validate_name("name", &form.name, 80) {
        Ok(name) => name,
        Err(e) => return page(&state, ctx, None, Some(e), StatusCode::UNPROCESSABLE_ENTITY).await,
    };
    let token = new_token("cb_")?;
    let hash = hash_token(&token);
    let prefix: String = token.chars().take(10).collect();
    let actor = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    conn.transaction(async |conn| {
        let created = api_tokens::create_mailgate(conn, actor, &name, &hash, &prefix).await?;
        audit::record(
            conn,
            audit::Event {
                actor: Some(actor),
                action: "mailgate_token.created",
                subject: name.clone(),
                client_addr: Some(&addr),
                detail: json!({ "token_id": created.id, "prefix": prefix }),
            },
        )
        .await?;
        Ok::<_, AppError>(())
    })
    .await?;
    page(&state, ctx, Some(token), None, StatusCode::OK).await
}

#[derive(Deserialize)]
pub struct DomainForm {
    #[serde(default)]
    domain: String,
    #[serde(default)]
    organization: String,
}

fn checked_domain(domain: &str) -> Result<String, FieldError> {
    let domain = domain.trim().trim_start_matches('@').to_ascii_lowercase();
    let valid = (3..=253).contains(&domain.len())
        && domain.contains('.')
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if valid {
        Ok(domain)
    } else {
        Err(FieldError::new(
            "domain",
            "give a domain such as example.com",
        ))
    }
}

pub async fn save_domain(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<DomainForm>,
) -> Result<HttpResponse, AppError> {
    let refuse = async |e: FieldError| {
        page(&state, ctx, None, Some(e), StatusCode::UNPROCESSABLE_ENTITY).await
    };
    let domain = match checked_domain(&form.domain) {
        Ok(d) => d,
        Err(e) => return refuse(e).await,
    };
    let Ok(org) = form.organization.parse::<i64>() else {
        return refuse(FieldError::new("organization", "choose an organization")).await;
    };
    let actor = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    let saved = conn
        .transaction(async |conn| {
            if users::organization_name_exists(conn, org).await? {
                mail::set_domain(conn, &domain, org).await?;
            } else {
                return Ok::<_, AppError>(false);
            }
            audit::record(
                conn,
                audit::Event {
                    actor: Some(actor),
                    action: "mail_domain.saved",
                    subject: domain.clone(),
                    client_addr: Some(&addr),
                    detail: json!({ "organization_id": org }),
                },
            )
            .await?;
            Ok(true)
        })
        .await?;
    if !saved {
        return refuse(FieldError::new("organization", "does not exist")).await;
    }
    Ok(see_other("/admin/mail?notice=mail-domain-saved"))
}

pub async fn remove_domain(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<DomainForm>,
) -> Result<HttpResponse, AppError> {
    let domain = form.domain.trim().to_ascii_lowercase();
    let actor = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    conn.transaction(async |conn| {
        if !mail::remove_domain(conn, &domain).await? {
            return Err(AppError::NotFound);
        }
        audit::record(
            conn,
            audit::Event {
                actor: Some(actor),
                action: "mail_domain.removed",
                subject: domain.clone(),
                client_addr: Some(&addr),
                detail: json!({}),
            },
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(see_other("/admin/mail?notice=mail-domain-removed"))
}
