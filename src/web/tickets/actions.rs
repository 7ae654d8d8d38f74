//! The ticket page's forms: write an entry, change status, assign, link a
//! model, escalate, mark a duplicate. Each is one action in
//! `db::ticket_actions`; a refused one shows the page again with the reason.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::app::AppState;
use crate::db::ticket_actions::{self, Escalation};
use crate::domain::policy::Visibility;
use crate::domain::ticket::TicketId;
use crate::error::AppError;
use crate::web::auth::SignedIn;
use crate::web::page::Ctx;
use crate::web::{render_status, see_other};

/// After an action: back to the ticket, or the page again with the reason.
async fn finish(
    result: Result<(), AppError>,
    state: &AppState,
    ctx: Ctx,
    who: &SignedIn,
    id: TicketId,
    composer: String,
) -> Result<HttpResponse, AppError> {
    match result {
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
    path: web::Path<i64>,
    form: web::Form<EntryForm>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let id = TicketId(path.into_inner());
    // Staff write internal notes unless they choose public; customers can
    // only write public replies.
    let visibility = if !viewer.role.is_staff() || form.visibility == "public" {
        Visibility::Public
    } else {
        Visibility::Internal
    };
    let mut conn = state.pool.get().await?;
    let result = ticket_actions::write(&mut conn, &viewer, id, &form.body, visibility)
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
    path: web::Path<i64>,
    form: web::Form<StatusForm>,
) -> Result<HttpResponse, AppError> {
    let id = TicketId(path.into_inner());
    let mut conn = state.pool.get().await?;
    let result =
        ticket_actions::change_status(&mut conn, &who.0.user.viewer(), id, &form.status).await;
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
    path: web::Path<i64>,
    form: web::Form<AssignForm>,
) -> Result<HttpResponse, AppError> {
    let id = TicketId(path.into_inner());
    let assignee = match form.assignee.trim() {
        "" => None,
        "me" => Some(who.0.user.id),
        other => match other.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                let e = crate::domain::FieldError::new("assignee", "choose a person from the list");
                return finish(Err(e.into()), &state, ctx, &who, id, String::new()).await;
            }
        },
    };
    let mut conn = state.pool.get().await?;
    let result = ticket_actions::assign(&mut conn, &who.0.user.viewer(), id, assignee).await;
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
    path: web::Path<i64>,
    form: web::Form<LinkForm>,
) -> Result<HttpResponse, AppError> {
    let id = TicketId(path.into_inner());
    let mut conn = state.pool.get().await?;
    let mut result = ticket_actions::link_model(
        &mut conn,
        &who.0.user.viewer(),
        id,
        &form.model,
        &form.outcome,
        &form.missing,
    )
    .await;
    if let (Ok(()), Ok(search)) = (&result, form.search.trim().parse::<i64>()) {
        result = crate::db::triage::picked(&mut conn, id, search, form.model.trim())
            .await
            .map_err(AppError::from);
    }
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
    path: web::Path<i64>,
    form: web::Form<TriageForm>,
) -> Result<HttpResponse, AppError> {
    let id = TicketId(path.into_inner());
    let mut conn = state.pool.get().await?;
    let result = record_search(&state, &mut conn, &who, id, &form.q)
        .await
        .map(|_| ());
    finish(result, &state, ctx, &who, id, String::new()).await
}

/// Shared with the API: search, record, and note it in the journal.
pub async fn record_search(
    state: &AppState,
    conn: &mut diesel_async::AsyncPgConnection,
    who: &SignedIn,
    id: TicketId,
    q: &str,
) -> Result<(i64, Vec<crate::search::triage::Suggestion>), AppError> {
    use diesel_async::AsyncConnection;
    let q = q.trim().to_owned();
    if q.is_empty() || q.len() > 1000 {
        return Err(
            crate::domain::FieldError::new("q", "search for 1 to 1000 characters of text").into(),
        );
    }
    let viewer = who.0.user.viewer();
    let ticket = crate::db::tickets::find(conn, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !viewer.may_view_ticket(ticket.organization_id.map(crate::domain::account::OrgId)) {
        return Err(AppError::NotFound);
    }
    let found = crate::search::triage::suggest_models(&state.search, &q, 10)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let results: Vec<serde_json::Value> = found
        .iter()
        .map(|s| serde_json::json!({ "key": s.key, "title": s.title, "score": s.score }))
        .collect();
    let user = viewer.user;
    let search_id = conn
        .transaction(async move |conn| {
            let count = results.len();
            let search_id =
                crate::db::triage::record(conn, id, user, &q, serde_json::Value::Array(results)).await?;
            crate::db::journal::add(
                conn,
                crate::db::journal::NewEntry {
                    ticket: id,
                    author: Some(user),
                    kind: crate::domain::ticket::EntryKind::Triage,
                    visibility: Visibility::Internal,
                    body: "",
                    data: serde_json::json!({ "query": q, "results": count, "search_id": search_id }),
                },
            )
            .await?;
            Ok::<_, AppError>(search_id)
        })
        .await?;
    Ok((search_id, found))
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
    path: web::Path<i64>,
    form: web::Form<EscalateForm>,
) -> Result<HttpResponse, AppError> {
    let id = TicketId(path.into_inner());
    let to_user = form.to_user.trim().parse().ok();
    let mut conn = state.pool.get().await?;
    let result = ticket_actions::escalate(
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
    path: web::Path<i64>,
    form: web::Form<DuplicateForm>,
) -> Result<HttpResponse, AppError> {
    let id = TicketId(path.into_inner());
    let mut conn = state.pool.get().await?;
    let result =
        ticket_actions::mark_duplicate(&mut conn, &who.0.user.viewer(), id, &form.duplicate_of)
            .await;
    finish(result, &state, ctx, &who, id, String::new()).await
}
