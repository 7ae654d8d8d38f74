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
    /// Open "write a new model" items the draft may answer.
    pub items: Vec<crate::db::reports::NewModelItem>,
    /// The items ticked (by default those filed from this ticket).
    pub resolves: Vec<i64>,
}

impl DraftPage {
    pub fn ticked(&self, id: &i64) -> bool {
        self.resolves.contains(id)
    }
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
    let items = crate::db::reports::new_model_items(&mut conn, id.0).await?;
    let resolves = items
        .iter()
        .filter(|i| i.from_ticket)
        .map(|i| i.id)
        .collect();
    render_status(
        &DraftPage {
            ctx,
            ticket: id.0,
            text,
            error: None,
            items,
            resolves,
        },
        StatusCode::OK,
    )
}

/// The draft form: the text, and the ticked items (`resolves`, repeated).
struct DraftForm {
    text: String,
    resolves: Vec<i64>,
}

impl DraftForm {
    fn read(pairs: Vec<(String, String)>) -> Result<Self, AppError> {
        let mut form = DraftForm {
            text: String::new(),
            resolves: Vec::new(),
        };
        for (name, value) in pairs {
            match name.as_str() {
                "text" => form.text = value,
                "resolves" => form.resolves.push(value.trim().parse().map_err(|_| {
                    AppError::Invalid(crate::domain::FieldError::new(
                        "resolves",
                        "choose improvement items from the list",
                    ))
                })?),
                _ => {}
            }
        }
        Ok(form)
    }
}

pub async fn save_draft(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form = DraftForm::read(form.into_inner())?;
    let mut conn = state.pool.get().await?;
    let viewer = who.0.user.viewer();
    match crate::reports::save_draft(&mut conn, &viewer, id, &form.text, &form.resolves).await {
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
                    items: crate::db::reports::new_model_items(&mut conn, id.0).await?,
                    resolves: form.resolves,
                },
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            other => Err(other),
        },
    }
}
