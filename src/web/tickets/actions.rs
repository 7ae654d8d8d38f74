//! The ticket page's forms: write an entry, change status, assign, link a
//! model, escalate, mark a duplicate, triage search. Each is one action of
//! the ticket service (`crate::tickets`); a refused one shows the page
//! again with the reason.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::app::AppState;
use crate::domain::policy::Visibility;
use crate::domain::ticket::TicketId;
use crate::tickets::{self as service, Escalation};
use crate::web::auth::SignedIn;
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::{render_status, see_other};

/// After an action: back to the ticket, or the page again with the reason.
async fn finish<E: Into<AppError>>(
    result: Result<(), E>,
    state: &AppState,
    ctx: Ctx,
    who: &SignedIn,
    id: TicketId,
    composer: String,
) -> Result<HttpResponse, AppError> {
    match result.map_err(Into::into) {
        Ok(()) => Ok(see_other(&format!("/tickets/{id}#journal"))),
        Err(AppError::Invalid(e)) => {
            let page =
                super::show_page(state, ctx, &who.0.user.viewer(), id, Some(e), composer).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct EntryForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    visibility: String,
}

pub async fn write(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    form: web::Form<EntryForm>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let id = path.into_inner();
    // Staff write internal notes unless they choose public; customers can
    // only write public replies.
    let visibility = if !viewer.role.is_staff() || form.visibility == "public" {
        Visibility::Public
    } else {
        Visibility::Internal
    };
    let mut conn = state.pool.get().await?;
    let result = service::write(&mut conn, &viewer, id, &form.body, visibility)
        .await
        .map(|_| ());
    finish(result, &state, ctx, &who, id, form.body.clone()).await
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
}

pub async fn change_status(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let result = service::change_status(&mut conn, &who.0.user.viewer(), id, &form.status).await;
    finish(result, &state, ctx, &who, id, String::new()).await
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    assignee: String,
}

pub async fn assign(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    form: web::Form<AssignForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let assignee = match form.assignee.trim() {
        "" => None,
        "me" => Some(who.0.user.id),
        other => match other.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                let e = crate::domain::FieldError::new("assignee", "choose a person from the list");
                return finish(Err(e), &state, ctx, &who, id, String::new()).await;
            }
        },
    };
    let mut conn = state.pool.get().await?;
    let result = service::assign(&mut conn, &who.0.user.viewer(), id, assignee).await;
    finish(result, &state, ctx, &who, id, String::new()).await
}

#[derive(Deserialize)]
pub struct LinkForm {
    /// The recorded triage search the model was picked from, if any.
    #[serde(default)]
    search: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    missing: String,
}

pub async fn link_model(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    form: web::Form<LinkForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let result = service::link_model(
        &mut conn,
        &who.0.user.viewer(),
        id,
        &form.model,
        &form.outcome,
        &form.missing,
        form.search.trim().parse::<i64>().ok(),
    )
    .await;
    finish(result, &state, ctx, &who, id, String::new()).await
}

#[derive(Deserialize)]
pub struct TriageForm {
    #[serde(default)]
    q: String,
}

/// Runs a triage search from the ticket and records it: the query, what
/// came back, and (when a result is linked) what was picked.
pub async fn triage(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    form: web::Form<TriageForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let result = service::triage(&mut conn, &state.search, &who.0.user.viewer(), id, &form.q)
        .await
        .map(|_| ());
    finish(result, &state, ctx, &who, id, String::new()).await
}

#[derive(Deserialize)]
pub struct EscalateForm {
    #[serde(default)]
    to_user: String,
    #[serde(default)]
    to_team: String,
    #[serde(default)]
    followed_model: String,
    #[serde(default)]
    step_reached: String,
    #[serde(default)]
    reason: String,
}

pub async fn escalate(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    form: web::Form<EscalateForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let to_user = form.to_user.trim().parse().ok();
    let mut conn = state.pool.get().await?;
    let result = service::escalate(
        &mut conn,
        &who.0.user.viewer(),
        id,
        Escalation {
            to_user,
            to_team: &form.to_team,
            followed: &form.followed_model,
            step_reached: &form.step_reached,
            reason: &form.reason,
        },
    )
    .await;
    finish(result, &state, ctx, &who, id, String::new()).await
}

#[derive(Deserialize)]
pub struct DuplicateForm {
    #[serde(default)]
    duplicate_of: String,
}

pub async fn mark_duplicate(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    form: web::Form<DuplicateForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let result =
        service::mark_duplicate(&mut conn, &who.0.user.viewer(), id, &form.duplicate_of).await;
    finish(result, &state, ctx, &who, id, String::new()).await
}
