//! The ticket page's forms: write an entry, change status, assign, link a
//! model, escalate, mark a duplicate, triage search. Each is one action of
//! the ticket service (`crate::tickets`); a refused one shows the page
//! again with the reason.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::app::AppState;
use crate::db::flashes::{self, Flash};
use crate::domain::account::UserId;
use crate::domain::policy::Visibility;
use crate::domain::ticket::TicketId;
use crate::secrets::{hash_token, new_token};
use crate::tickets::{self as service, EditTicket, Escalation};
use crate::web::auth::SignedIn;
use crate::web::error::AppError;
use crate::web::see_other;

use super::Draft;

/// After an action: back to the ticket either way (redirect after POST, so
/// the address bar is the ticket's and a reload does not send the form
/// again). A refusal travels as a flash: the reason and what was typed are
/// stored for the next view of the ticket by the same person, and the
/// page shows them beside the field.
pub(super) async fn finish<E: Into<AppError>>(
    result: Result<(), E>,
    state: &AppState,
    who: &SignedIn,
    id: TicketId,
    draft: Draft,
) -> Result<HttpResponse, AppError> {
    match result.map_err(Into::into) {
        Ok(()) => Ok(see_other(&format!("/tickets/{id}#journal"))),
        Err(AppError::Invalid(e)) => {
            let token = new_token("")?;
            let flash = Flash {
                field: e.field.to_owned(),
                message: e.message,
                draft: serde_json::to_value(&draft)
                    .map_err(|e| AppError::Internal(e.to_string()))?,
            };
            let mut conn = state.pool.get().await?;
            flashes::put(
                &mut conn,
                &hash_token(&token),
                UserId(who.0.user.id),
                id,
                &flash,
            )
            .await?;
            let mut response = see_other(&format!("/tickets/{id}#refused"));
            response
                .add_cookie(&super::flash_cookie(state, id, token))
                .map_err(|e| AppError::BadRequest(e.to_string()))?;
            Ok(response)
        }
        Err(e) => Err(e),
    }
}

/// The composer's script asks for JSON: it appends the entry itself.
fn wants_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

#[derive(Deserialize)]
pub struct EntryForm {
    #[serde(default)]
    body: String,
    #[serde(default)]
    visibility: String,
}

pub async fn write(
    req: HttpRequest,
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
    let result = service::write(&mut conn, &viewer, id, &form.body, visibility).await;
    if wants_json(&req) {
        return match result {
            Ok(entry) => {
                let row = crate::db::journal::find(&mut conn, id, entry.id, viewer.entry_scope())
                    .await?
                    .ok_or(AppError::NotFound)?;
                let html = super::view::EntryView::of(&row).render()?;
                Ok(HttpResponse::Created().json(json!({ "id": entry.id, "html": html })))
            }
            Err(service::TicketError::Invalid(e)) => Ok(HttpResponse::UnprocessableEntity()
                .json(json!({ "field": e.field, "message": e.message }))),
            Err(e) => Err(e.into()),
        };
    }
    let draft = Draft {
        body: form.body.clone(),
        ..Draft::default()
    };
    finish(result.map(|_| ()), &state, &who, id, draft).await
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    status: String,
    /// Why a new ticket is resolved as a false alarm.
    #[serde(default)]
    resolution: String,
}

pub async fn change_status(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let result = service::change_status(
        &mut conn,
        &who.0.user.viewer(),
        id,
        &form.status,
        &form.resolution,
    )
    .await;
    finish(result, &state, &who, id, Draft::default()).await
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    assignee: String,
}

pub async fn assign(
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
                return finish(Err(e), &state, &who, id, Draft::default()).await;
            }
        },
    };
    let mut conn = state.pool.get().await?;
    let result = service::assign(&mut conn, &who.0.user.viewer(), id, assignee).await;
    finish(result, &state, &who, id, Draft::default()).await
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
    finish(result, &state, &who, id, Draft::default()).await
}

#[derive(Deserialize)]
pub struct UnlinkForm {
    #[serde(default)]
    model: String,
}

pub async fn unlink_model(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    form: web::Form<UnlinkForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let result = service::unlink_model(&mut conn, &who.0.user.viewer(), id, &form.model).await;
    finish(result, &state, &who, id, Draft::default()).await
}

#[derive(Deserialize)]
pub struct TriageForm {
    #[serde(default)]
    q: String,
}

/// Runs a triage search from the ticket and records it: the query, what
/// came back, and (when a result is linked) what was picked.
pub async fn triage(
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
    finish(result, &state, &who, id, Draft::default()).await
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
    finish(result, &state, &who, id, Draft::default()).await
}

#[derive(Deserialize)]
pub struct DuplicateForm {
    #[serde(default)]
    duplicate_of: String,
}

pub async fn mark_duplicate(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    form: web::Form<DuplicateForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let result =
        service::mark_duplicate(&mut conn, &who.0.user.viewer(), id, &form.duplicate_of).await;
    finish(result, &state, &who, id, Draft::default()).await
}

/// The correction form: the ticket's four editable fields.
#[derive(Deserialize, Serialize, Default, Clone)]
pub struct EditForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub category: String,
}

pub async fn edit(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    form: web::Form<EditForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let form = form.into_inner();
    let mut conn = state.pool.get().await?;
    let result = service::edit(
        &mut conn,
        &who.0.user.viewer(),
        id,
        EditTicket {
            title: Some(&form.title),
            description: Some(&form.description),
            priority: Some(&form.priority),
            category: Some(&form.category),
        },
    )
    .await
    .map(|_| ());
    let draft = Draft {
        edit: Some(form),
        ..Draft::default()
    };
    finish(result, &state, &who, id, draft).await
}

#[derive(Deserialize)]
pub struct StepForm {
    #[serde(default)]
    model: String,
    #[serde(default)]
    step: String,
    /// "1" ticks the step, anything else unticks it.
    #[serde(default)]
    done: String,
}

pub async fn tick_step(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    form: web::Form<StepForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let result = service::tick_step(
        &mut conn,
        &who.0.user.viewer(),
        id,
        &form.model,
        &form.step,
        form.done == "1",
    )
    .await;
    finish(result, &state, &who, id, Draft::default()).await
}
