//! `/api/v1/tickets`: the same actions as the ticket pages, as JSON, and the
//! ticket's event stream.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::db::journal::{self, EntryRow};
use crate::db::tickets::{self, Ticket};
use crate::domain::policy::Visibility;
use crate::domain::ticket::TicketId;
use crate::tickets::{self as service, EditTicket, Escalation, OpenTicket};
use crate::web::api::{Done, Located};
use crate::web::auth::SignedIn;
use crate::web::error::{ApiError, AppError};
use crate::web::tickets::live::{self, Format};
use crate::web::tickets::{ListQuery, PAGE_SIZE};

/// A ticket's fields.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketJson {
    pub id: i64,
    pub title: String,
    pub description: String,
    /// new, triaged, in_progress, waiting_on_customer, resolved or closed.
    pub status: String,
    /// P1 (would trigger an out-of-hours call) to P4.
    pub priority: String,
    pub category: String,
    pub organization_id: Option<i64>,
    pub requester_id: i64,
    pub assignee_id: Option<i64>,
    pub duplicate_of: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Ticket> for TicketJson {
    fn from(t: &Ticket) -> Self {
        Self {
            id: t.id.0,
            title: t.title.clone(),
            description: t.description.clone(),
            status: t.status.as_str().to_owned(),
            priority: t.priority().to_string(),
            category: t.category.clone(),
            organization_id: t.organization_id,
            requester_id: t.requester_id.0,
            assignee_id: t.assignee_id,
            duplicate_of: t.duplicate_of,
            created_at: t.created_at.to_rfc3339(),
            updated_at: t.updated_at.to_rfc3339(),
        }
    }
}

/// One page of tickets.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketList {
    pub tickets: Vec<TicketJson>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// A journal entry (also the `data` of a JSON event stream's events).
#[derive(Debug, Serialize, ToSchema)]
pub struct EntryJson {
    pub id: i64,
    pub ticket_id: i64,
    /// note, reply, status, link, escalation, triage, …
    pub kind: String,
    /// internal (team only) or public.
    pub visibility: String,
    /// The author's name; `null` for entries Casebook wrote.
    pub author: Option<String>,
    /// Markdown text.
    pub body: String,
    /// What a structured entry records (the new status, the model linked…).
    #[schema(value_type = Object)]
    pub data: Value,
    pub created_at: String,
}

impl From<&EntryRow> for EntryJson {
    fn from(row: &EntryRow) -> Self {
        let e = &row.entry;
        Self {
            id: e.id,
            ticket_id: e.ticket_id,
            kind: e.kind.clone(),
            visibility: journal::visibility_str(e.visibility).to_owned(),
            author: row.author.clone(),
            body: e.body.clone(),
            data: e.data.clone(),
            created_at: e.created_at.to_rfc3339(),
        }
    }
}

/// A model linked to the ticket, at the revision that was used.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedModel {
    /// The model's key (`null` if the model is gone).
    pub model: Option<String>,
    pub title: Option<String>,
    pub revision: Option<i32>,
    /// resolved, partial or no_fit.
    pub outcome: String,
    /// What the model was missing.
    pub missing: String,
}

/// A ticket marked as a duplicate of this one.
#[derive(Debug, Serialize, ToSchema)]
pub struct DuplicateRef {
    pub id: i64,
    pub title: String,
}

/// A ticket with its journal (public entries only, for a customer), its
/// linked models (team only) and its duplicates.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: TicketJson,
    pub entries: Vec<EntryJson>,
    /// Left out for customers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models: Option<Vec<LinkedModel>>,
    pub duplicates: Vec<DuplicateRef>,
}

/// What a correction changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Edited {
    pub ok: bool,
    /// How many of the fields sent changed value.
    pub changed: usize,
}

#[utoipa::path(
    get,
    path = "/api/v1/tickets",
    tag = "tickets",
    params(
        ("queue" = Option<String>, Query, description = "open (default), triage, mine, resolved or all"),
        ("status" = Option<String>, Query, description = "a status, e.g. in_progress"),
        ("priority" = Option<String>, Query, description = "1–4"),
        ("category" = Option<String>, Query),
        ("organization" = Option<String>, Query, description = "an organization id"),
        ("assignee" = Option<String>, Query, description = "a user id"),
        ("page" = Option<i64>, Query, description = "from 1; clamped to the list"),
    ),
    responses((status = 200, description = "One page of the tickets the token's owner may see", body = TicketList))
)]
pub async fn list(
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<ListQuery>,
) -> Result<web::Json<TicketList>, ApiError> {
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
    Ok(web::Json(TicketList {
        tickets: rows.iter().map(|r| TicketJson::from(&r.ticket)).collect(),
        total,
        page: page.number(),
        per_page: PAGE_SIZE,
    }))
}

/// A new ticket.
#[derive(Deserialize, ToSchema)]
pub struct NewTicketJson {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: String,
    /// 1–4, "1"–"4" or "P1"–"P4".
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    priority: Option<Value>,
    #[serde(default)]
    category: String,
    /// The customer organization (team members only; a customer's own
    /// organization otherwise).
    organization_id: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets",
    tag = "tickets",
    request_body = NewTicketJson,
    responses((status = 201, description = "Opened; Location names it", body = TicketJson))
)]
pub async fn create(
    state: web::Data<AppState>,
    who: SignedIn,
    input: web::Json<NewTicketJson>,
) -> Result<Located<TicketJson>, ApiError> {
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
    Ok(Located::created(
        format!("/api/v1/tickets/{}", ticket.id),
        TicketJson::from(&ticket),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/tickets/{id}",
    tag = "tickets",
    params(("id" = i64, Path, description = "The ticket's number")),
    responses((status = 200, description = "The ticket as its viewer may see it", body = TicketDetail))
)]
pub async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
) -> Result<web::Json<TicketDetail>, ApiError> {
    let viewer = who.0.user.viewer();
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let ticket = tickets::find_visible(&mut conn, id, viewer.ticket_scope())
        .await?
        .ok_or(AppError::NotFound)?;
    let entries = journal::list(&mut conn, id, viewer.entry_scope(), None)
        .await?
        .iter()
        .map(EntryJson::from)
        .collect();
    let models = if viewer.role.is_staff() {
        Some(
            tickets::linked_models(&mut conn, id)
                .await?
                .into_iter()
                .map(
                    |(_, model, title, revision, outcome, missing)| LinkedModel {
                        model,
                        title,
                        revision,
                        outcome,
                        missing,
                    },
                )
                .collect(),
        )
    } else {
        None
    };
    let duplicates = tickets::duplicates_of(&mut conn, id, viewer.ticket_scope())
        .await?
        .into_iter()
        .map(|(id, title)| DuplicateRef { id, title })
        .collect();
    Ok(web::Json(TicketDetail {
        ticket: TicketJson::from(&ticket),
        entries,
        models,
        duplicates,
    }))
}

/// A journal entry to write.
#[derive(Deserialize, ToSchema)]
pub struct NewEntryJson {
    /// Markdown text.
    #[serde(default)]
    body: String,
    /// internal or public; a customer's entries are public, the team's
    /// internal unless said.
    #[serde(default)]
    visibility: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{id}/entries",
    tag = "tickets",
    params(("id" = i64, Path)),
    request_body = NewEntryJson,
    responses((status = 201, description = "Written", body = EntryJson))
)]
pub async fn write(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<NewEntryJson>,
) -> Result<Located<EntryJson>, ApiError> {
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
    Ok(Located::created(
        format!("/api/v1/tickets/{}", id.0),
        EntryJson::from(&row),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct StatusJson {
    #[serde(default)]
    status: String,
    /// Why a new ticket is resolved as a false alarm (required for that move).
    #[serde(default)]
    reason: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{id}/status",
    tag = "tickets",
    params(("id" = i64, Path)),
    request_body = StatusJson,
    responses((status = 200, description = "Done", body = Done))
)]
pub async fn change_status(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<StatusJson>,
) -> Result<web::Json<Done>, ApiError> {
    let mut conn = state.pool.get().await?;
    service::change_status(
        &mut conn,
        &who.0.user.viewer(),
        path.into_inner(),
        &input.status,
        &input.reason,
    )
    .await?;
    Ok(Done::json())
}

#[derive(Deserialize, ToSchema)]
pub struct AssignJson {
    assignee_id: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{id}/assign",
    tag = "tickets",
    params(("id" = i64, Path)),
    request_body = AssignJson,
    responses((status = 200, description = "Done", body = Done))
)]
pub async fn assign(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<AssignJson>,
) -> Result<web::Json<Done>, ApiError> {
    let mut conn = state.pool.get().await?;
    service::assign(
        &mut conn,
        &who.0.user.viewer(),
        path.into_inner(),
        input.assignee_id,
    )
    .await?;
    Ok(Done::json())
}

#[derive(Deserialize, ToSchema)]
pub struct LinkJson {
    #[serde(default)]
    model: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    missing: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{id}/models",
    tag = "tickets",
    params(("id" = i64, Path)),
    request_body = LinkJson,
    responses((status = 200, description = "Done", body = Done))
)]
pub async fn link_model(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<LinkJson>,
) -> Result<web::Json<Done>, ApiError> {
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
    Ok(Done::json())
}

#[derive(Deserialize, ToSchema)]
pub struct UnlinkJson {
    #[serde(default)]
    model: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{id}/models/unlink",
    tag = "tickets",
    params(("id" = i64, Path)),
    request_body = UnlinkJson,
    responses((status = 200, description = "Done", body = Done))
)]
pub async fn unlink_model(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<UnlinkJson>,
) -> Result<web::Json<Done>, ApiError> {
    let mut conn = state.pool.get().await?;
    service::unlink_model(
        &mut conn,
        &who.0.user.viewer(),
        path.into_inner(),
        &input.model,
    )
    .await?;
    Ok(Done::json())
}

#[derive(Deserialize, ToSchema)]
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

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{id}/escalations",
    tag = "tickets",
    params(("id" = i64, Path)),
    request_body = EscalationJson,
    responses((status = 200, description = "Done", body = Done))
)]
pub async fn escalate(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<EscalationJson>,
) -> Result<web::Json<Done>, ApiError> {
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
    Ok(Done::json())
}

#[derive(Deserialize, ToSchema)]
pub struct DuplicateJson {
    duplicate_of: i64,
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{id}/duplicate",
    tag = "tickets",
    params(("id" = i64, Path)),
    request_body = DuplicateJson,
    responses((status = 200, description = "Done", body = Done))
)]
pub async fn mark_duplicate(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<DuplicateJson>,
) -> Result<web::Json<Done>, ApiError> {
    let mut conn = state.pool.get().await?;
    service::mark_duplicate(
        &mut conn,
        &who.0.user.viewer(),
        path.into_inner(),
        &input.duplicate_of.to_string(),
    )
    .await?;
    Ok(Done::json())
}

#[utoipa::path(
    get,
    path = "/api/v1/tickets/{id}/events",
    tag = "tickets",
    params(
        ("id" = i64, Path),
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this entry id"),
    ),
    responses((
        status = 200,
        description = "Server-sent events: each new journal entry the viewer may see, as an `entry` event whose data is an Entry (JSON); the stream ends when the viewer's access changes",
        content_type = "text/event-stream",
        body = String,
    ))
)]
pub async fn events(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
) -> Result<HttpResponse, ApiError> {
    Ok(live::open(&req, &state, who.0, path.into_inner(), Format::Json).await?)
}

/// A correction: any of the four fields; those left out keep their value.
#[derive(Deserialize, ToSchema)]
pub struct FieldsJson {
    title: Option<String>,
    description: Option<String>,
    /// 1–4, "1"–"4" or "P1"–"P4".
    #[schema(value_type = Option<String>)]
    priority: Option<serde_json::Value>,
    category: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{id}/fields",
    tag = "tickets",
    params(("id" = i64, Path)),
    request_body = FieldsJson,
    responses((status = 200, description = "Corrected", body = Edited))
)]
pub async fn edit(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<FieldsJson>,
) -> Result<web::Json<Edited>, ApiError> {
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
    Ok(web::Json(Edited { ok: true, changed }))
}

#[derive(Deserialize, ToSchema)]
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

#[utoipa::path(
    post,
    path = "/api/v1/tickets/{id}/steps",
    tag = "tickets",
    params(("id" = i64, Path)),
    request_body = StepJson,
    responses((status = 200, description = "Done", body = Done))
)]
pub async fn tick_step(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<TicketId>,
    input: web::Json<StepJson>,
) -> Result<web::Json<Done>, ApiError> {
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
    Ok(Done::json())
}
