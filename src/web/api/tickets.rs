//! `/api/v1/tickets`: the same actions as the ticket pages, as JSON, and the
//! ticket's event stream.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::db::journal;
use crate::db::tickets::{self, Ticket};
use crate::domain::policy::Visibility;
use crate::domain::ticket::TicketId;
use crate::tickets::{self as service, EditTicket, Escalation, OpenTicket};
use crate::web::auth::SignedIn;
use crate::web::error::{ApiError, AppError};
use crate::web::tickets::live::{self, Format};
use crate::web::tickets::view::EntryView;
use crate::web::tickets::{ListQuery, PAGE_SIZE};

fn ticket_json(t: &Ticket) -> Value {
    json!({
        "id": t.id,
        "title": t.title,
        "description": t.description,
        "status": t.status,
        "priority": t.priority().to_string(),
        "category": t.category,
        "organization_id": t.organization_id,
        "requester_id": t.requester_id,
        "assignee_id": t.assignee_id,
        "duplicate_of": t.duplicate_of,
        "created_at": t.created_at.to_rfc3339(),
        "updated_at": t.updated_at.to_rfc3339(),
    })
}

pub async fn list(
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let viewer = who.0.user.viewer();
    let page = query.page;
    let mut conn = state.pool.get().await?;
    let (rows, total) = tickets::list(
        &mut conn,
        viewer.ticket_scope(),
        viewer.user,
        &query.filter(),
        page.offset(PAGE_SIZE),
        PAGE_SIZE,
    )
    .await?;
    let items: Vec<Value> = rows.iter().map(|r| ticket_json(&r.ticket)).collect();
    Ok(HttpResponse::Ok().json(
        json!({ "tickets": items, "total": total, "page": page.number(), "per_page": PAGE_SIZE }),
    ))
}

#[derive(Deserialize)]
pub struct NewTicketJson {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    priority: Option<Value>,
    #[serde(default)]
    category: String,
    organization_id: Option<i64>,
}

pub async fn create(
    state: web::Data<AppState>,
    who: SignedIn,
    input: web::Json<NewTicketJson>,
) -> Result<HttpResponse, ApiError> {
    let priority = match &input.priority {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    };
    let mut conn = state.pool.get().await?;
    let ticket = service::open(
        &mut conn,
        &who.0.user.viewer(),
        OpenTicket {
            title: &input.title,
            description: &input.description,
            priority: &priority,
            category: &input.category,
            organization: input.organization_id,
        },
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/tickets/{}", ticket.id)))
        .json(ticket_json(&ticket)))
}

pub async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
) -> Result<HttpResponse, ApiError> {
    let viewer = who.0.user.viewer();
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let ticket = tickets::find_visible(&mut conn, id, viewer.ticket_scope())
        .await?
        .ok_or(AppError::NotFound)?;
    let entries: Vec<Value> = journal::list(&mut conn, id, viewer.entry_scope(), None)
        .await?
        .iter()
        .map(EntryView::json)
        .collect();
    let mut body = ticket_json(&ticket);
    body["entries"] = Value::Array(entries);
    if viewer.role.is_staff() {
        let linked: Vec<Value> = tickets::linked_models(&mut conn, id)
            .await?
            .into_iter()
            .map(|(_, key, title, revision, outcome, missing)| json!({ "model": key, "title": title, "revision": revision, "outcome": outcome, "missing": missing }))
            .collect();
        body["models"] = Value::Array(linked);
    }
    body["duplicates"] = tickets::duplicates_of(&mut conn, id, viewer.ticket_scope())
        .await?
        .into_iter()
        .map(|(id, title)| json!({ "id": id, "title": title }))
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

#[derive(Deserialize)]
pub struct EntryJson {
    #[serde(default)]
    body: String,
    #[serde(default)]
    visibility: Option<String>,
}

pub async fn write(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<EntryJson>,
) -> Result<HttpResponse, ApiError> {
    let viewer = who.0.user.viewer();
    let visibility = match input.visibility.as_deref() {
        Some("public") => Visibility::Public,
        Some("internal") => Visibility::Internal,
        None if !viewer.role.is_staff() => Visibility::Public,
        None => Visibility::Internal,
        Some(_) => {
            return Err(AppError::Invalid(crate::domain::FieldError::new(
                "visibility",
                "is internal or public",
            ))
            .into());
        }
    };
    let mut conn = state.pool.get().await?;
    let id = path.into_inner();
    let entry = service::write(&mut conn, &viewer, id, &input.body, visibility).await?;
    let row = journal::find(&mut conn, id, entry.id, viewer.entry_scope())
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Created().json(EntryView::json(&row)))
}

fn done() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "ok": true }))
}

#[derive(Deserialize)]
pub struct StatusJson {
    #[serde(default)]
    status: String,
    /// Why a new ticket is resolved as a false alarm (required for that move).
    #[serde(default)]
    reason: String,
}

pub async fn change_status(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<StatusJson>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    service::change_status(
        &mut conn,
        &who.0.user.viewer(),
        path.into_inner(),
        &input.status,
        &input.reason,
    )
    .await?;
    Ok(done())
}

#[derive(Deserialize)]
pub struct AssignJson {
    assignee_id: Option<i64>,
}

pub async fn assign(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<AssignJson>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    service::assign(
        &mut conn,
        &who.0.user.viewer(),
        path.into_inner(),
        input.assignee_id,
    )
    .await?;
    Ok(done())
}

#[derive(Deserialize)]
pub struct LinkJson {
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
    input: web::Json<LinkJson>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    service::link_model(
        &mut conn,
        &who.0.user.viewer(),
        path.into_inner(),
        &input.model,
        &input.outcome,
        &input.missing,
        None,
    )
    .await?;
    Ok(done())
}

#[derive(Deserialize)]
pub struct UnlinkJson {
    #[serde(default)]
    model: String,
}

pub async fn unlink_model(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<UnlinkJson>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    service::unlink_model(
        &mut conn,
        &who.0.user.viewer(),
        path.into_inner(),
        &input.model,
    )
    .await?;
    Ok(done())
}

#[derive(Deserialize)]
pub struct EscalationJson {
    to_user_id: Option<i64>,
    #[serde(default)]
    to_team: String,
    #[serde(default)]
    followed_model: String,
    step_reached: Option<i32>,
    #[serde(default)]
    reason: String,
}

pub async fn escalate(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<EscalationJson>,
) -> Result<HttpResponse, ApiError> {
    let step = input
        .step_reached
        .map(|s| s.to_string())
        .unwrap_or_default();
    let mut conn = state.pool.get().await?;
    service::escalate(
        &mut conn,
        &who.0.user.viewer(),
        path.into_inner(),
        Escalation {
            to_user: input.to_user_id,
            to_team: &input.to_team,
            followed: &input.followed_model,
            step_reached: &step,
            reason: &input.reason,
        },
    )
    .await?;
    Ok(done())
}

#[derive(Deserialize)]
pub struct DuplicateJson {
    duplicate_of: i64,
}

pub async fn mark_duplicate(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<DuplicateJson>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    service::mark_duplicate(
        &mut conn,
        &who.0.user.viewer(),
        path.into_inner(),
        &input.duplicate_of.to_string(),
    )
    .await?;
    Ok(done())
}

pub async fn events(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
) -> Result<HttpResponse, ApiError> {
    Ok(live::open(&req, &state, who.0, path.into_inner(), Format::Json).await?)
}

/// A correction: any of the four fields; those left out keep their value.
#[derive(Deserialize)]
pub struct FieldsJson {
    title: Option<String>,
    description: Option<String>,
    priority: Option<serde_json::Value>,
    category: Option<String>,
}

pub async fn edit(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<FieldsJson>,
) -> Result<HttpResponse, ApiError> {
    // The priority as "P1", "1" or 1.
    let priority = input.priority.as_ref().map(|p| match p {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let mut conn = state.pool.get().await?;
    let changed = service::edit(
        &mut conn,
        &who.0.user.viewer(),
        path.into_inner(),
        EditTicket {
            title: input.title.as_deref(),
            description: input.description.as_deref(),
            priority: priority.as_deref(),
            category: input.category.as_deref(),
        },
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "ok": true, "changed": changed })))
}

#[derive(Deserialize)]
pub struct StepJson {
    #[serde(default)]
    model: String,
    step: usize,
    #[serde(default = "ticked")]
    done: bool,
}

fn ticked() -> bool {
    true
}

pub async fn tick_step(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<StepJson>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    service::tick_step(
        &mut conn,
        &who.0.user.viewer(),
        path.into_inner(),
        &input.model,
        &input.step.to_string(),
        input.done,
    )
    .await?;
    Ok(done())
}
