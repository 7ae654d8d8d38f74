//! Outgoing webhooks: subscribe a URL to event types, stop a subscription,
//! and read the delivery log (each delivery with its tries).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use diesel_async::AsyncConnection;
use serde_json::json;

use crate::app::AppState;
use crate::db::webhooks::{self, LogLine, NewSubscription, Subscription};
use crate::db::{audit, users};
use crate::domain::FieldError;
use crate::domain::account::UserId;
use crate::domain::notice::Event;
use crate::secrets::new_token;
use crate::web::auth::{SignedIn, client_addr};
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::{render_status, see_other};

#[derive(Template)]
#[template(path = "admin/webhooks/list.html")]
struct ListPage {
    ctx: Ctx,
    subscriptions: Vec<(Subscription, Option<String>)>,
    log: Vec<LogLine>,
    events: Vec<(&'static str, &'static str, bool)>,
    organizations: Vec<(i64, String)>,
    form: Vec<(String, String)>,
    error: Option<FieldError>,
}

impl ListPage {
    fn value(&self, name: &str) -> &str {
        self.form
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

async fn page(
    state: &AppState,
    ctx: Ctx,
    form: Vec<(String, String)>,
    error: Option<FieldError>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let subscriptions = webhooks::list(&mut conn).await?;
    let log = webhooks::log(&mut conn, 50).await?;
    let organizations = users::organizations(&mut conn)
        .await?
        .into_iter()
        .map(|(o, _)| (o.id, o.name))
        .collect();
    let events = Event::ALL
        .iter()
        .map(|e| {
            let ticked = form.iter().any(|(n, v)| n == e.as_str() && v == "on");
            (e.as_str(), e.label(), ticked)
        })
        .collect();
    render_status(
        &ListPage {
            ctx,
            subscriptions,
            log,
            events,
            organizations,
            form,
            error,
        },
        status,
    )
}

pub async fn list(ctx: Ctx, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    page(&state, ctx, Vec::new(), None, StatusCode::OK).await
}

/// The subscription a form asks for, checked.
struct Checked {
    url: String,
    events: Vec<String>,
    customer_visible_only: bool,
    format: &'static str,
    organization: Option<i64>,
}

fn check(form: &[(String, String)]) -> Result<Checked, FieldError> {
    let value = |name: &str| {
        form.iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.trim())
    };
    let url = value("url").to_owned();
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 2000 {
        return Err(FieldError::new(
            "url",
            "give an http:// or https:// URL of at most 2000 characters",
        ));
    }
    let events: Vec<String> = Event::ALL
        .iter()
        .filter(|e| value(e.as_str()) == "on")
        .map(|e| e.as_str().to_owned())
        .collect();
    if events.is_empty() {
        return Err(FieldError::new("events", "tick at least one event"));
    }
    let customer_visible_only = value("customer_visible_only") == "on";
    let organization = match value("organization") {
        "" => None,
        v => Some(
            v.parse::<i64>()
                .map_err(|_| FieldError::new("organization", "choose an organization"))?,
        ),
    };
    if customer_visible_only && organization.is_none() {
        return Err(FieldError::new(
            "organization",
            "a customer-visible subscription is for one organization: choose it",
        ));
    }
    if customer_visible_only
        && let Some(e) = Event::ALL
            .iter()
            .find(|e| value(e.as_str()) == "on" && !e.is_customer_visible())
    {
        return Err(FieldError::new(
            "events",
            format!(
                "\"{}\" is for the team only; a customer-visible subscription cannot take it",
                e.label()
            ),
        ));
    }
    let format = match value("format") {
        "" | "json" => "json",
        "slack" => "slack",
        _ => return Err(FieldError::new("format", "choose JSON or Slack")),
    };
    Ok(Checked {
        url,
        events,
        customer_visible_only,
        format,
        organization,
    })
}

pub async fn create(
    req: HttpRequest,
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let checked = match check(&form) {
        Ok(c) => c,
        Err(e) => {
            return page(&state, ctx, form, Some(e), StatusCode::UNPROCESSABLE_ENTITY).await;
        }
    };
    if let Err(e) =
        crate::http_client::check_url(&checked.url, Some(&state.config.delivery.webhook_allow))
            .await
    {
        return page(
            &state,
            ctx,
            form,
            Some(FieldError::new("url", e.to_string())),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let secret = new_token("whsec_")?;
    let actor = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    conn.transaction(async |conn| {
        let sub = webhooks::create(
            conn,
            NewSubscription {
                url: &checked.url,
                events: checked.events.clone(),
                secret: &secret,
                customer_visible_only: checked.customer_visible_only,
                format: checked.format,
                organization: checked.organization,
                created_by: actor.0,
            },
        )
        .await?;
        audit::record(
            conn,
            audit::Event {
                actor: Some(actor),
                action: "webhook.created",
                subject: format!("webhook:{}", sub.id),
                client_addr: Some(&addr),
                detail: json!({ "url": sub.url, "events": checked.events }),
            },
        )
        .await?;
        Ok::<_, AppError>(())
    })
    .await?;
    Ok(see_other("/admin/webhooks?notice=webhook-created"))
}

pub async fn stop(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let actor = UserId(who.0.user.id);
    let addr = client_addr(&req);
    let mut conn = state.pool.get().await?;
    conn.transaction(async |conn| {
        if !webhooks::deactivate(conn, id).await? {
            return Err(AppError::NotFound);
        }
        audit::record(
            conn,
            audit::Event {
                actor: Some(actor),
                action: "webhook.stopped",
                subject: format!("webhook:{id}"),
                client_addr: Some(&addr),
                detail: json!({}),
            },
        )
        .await?;
        Ok(())
    })
    .await?;
    Ok(see_other("/admin/webhooks?notice=webhook-stopped"))
}
