//! The reports' forms: exclude a ticket from metrics (and count it again),
//! draft a model from a ticket of the gap report.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::ticket::TicketId;
use crate::web::auth::SignedIn;
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::{render_status, see_other};

#[derive(Deserialize)]
pub struct ExcludeForm {
    #[serde(default)]
    ticket: String,
    #[serde(default)]
    reason: String,
    /// "ticket" when sent from the ticket page, which it returns to.
    #[serde(default)]
    back: String,
}

pub async fn exclude(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<ExcludeForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let result = match crate::reports::ticket_number(&form.ticket) {
        Ok(id) => {
            let mut conn = state.pool.get().await?;
            crate::reports::exclude(&mut conn, &who.0.user.viewer(), id, &form.reason)
                .await
                .map(|()| id)
                .map_err(AppError::from)
        }
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(id) if form.back == "ticket" => Ok(see_other(&format!("/tickets/{id}"))),
        Ok(_) => Ok(see_other("/reports/exclusions")),
        Err(AppError::Invalid(e)) => {
            super::pages::exclusions_page(
                &state,
                ctx,
                Some(e.to_string()),
                form.ticket,
                form.reason,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(AppError::NotFound) => {
            super::pages::exclusions_page(
                &state,
                ctx,
                Some(format!("ticket: there is no ticket {}", form.ticket.trim())),
                form.ticket,
                form.reason,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

pub async fn include(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    match crate::reports::include(&mut conn, &who.0.user.viewer(), path.into_inner()).await {
        Ok(()) => Ok(see_other("/reports/exclusions")),
        Err(e) => match AppError::from(e) {
            AppError::Invalid(e) => {
                super::pages::exclusions_page(
                    &state,
                    ctx,
                    Some(e.to_string()),
                    String::new(),
                    String::new(),
                    StatusCode::UNPROCESSABLE_ENTITY,
                )
                .await
            }
            other => Err(other),
        },
    }
}

/// The model editor, prefilled from a ticket, saving back to it.
#[derive(Template)]
#[template(path = "reports/draft.html")]
pub struct DraftPage {
    pub ctx: Ctx,
    pub ticket: i64,
    pub text: String,
    pub error: Option<String>,
}

pub async fn draft(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let text = crate::reports::draft_text(&mut conn, &who.0.user.viewer(), id).await?;
    render_status(
        &DraftPage {
            ctx,
            ticket: id.0,
            text,
            error: None,
        },
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
pub struct DraftForm {
    #[serde(default)]
    text: String,
}

pub async fn save_draft(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    form: web::Form<DraftForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form = form.into_inner();
    let mut conn = state.pool.get().await?;
    match crate::reports::save_draft(&mut conn, &who.0.user.viewer(), id, &form.text).await {
        Ok(model) => Ok(see_other(&format!(
            "/models/{}?notice=model-saved",
            model.key
        ))),
        Err(e) => match AppError::from(e) {
            AppError::Invalid(e) => render_status(
                &DraftPage {
                    ctx,
                    ticket: id.0,
                    text: form.text,
                    error: Some(e.message),
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            other => Err(other),
        },
    }
}
