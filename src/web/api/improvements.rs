//! `/api/v1/improvements`: the backlog (its listing carries the debt number
//! and trend), one item with its history, filing, editing, and bulk
//! re-prioritising.

use actix_web::{HttpResponse, web};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;
use crate::db::improvements::{self, NewItem, Update};
use crate::domain::improvement::ItemInput;
use crate::web::auth::SignedIn;
use crate::web::error::ApiError;
use crate::web::improvements::{ListQuery, PAGE_SIZE};
use crate::web::reviews::page_number;

/// A priority sent as `2`, `"2"` or `"P2"`.
pub fn priority_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => String::new(),
    }
}

pub async fn list(
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let viewer = who.0.user.viewer();
    let page = page_number(query.page);
    let mut conn = state.pool.get().await?;
    let debt = improvements::debt(&mut conn, &viewer, Utc::now()).await?;
    let (rows, total) = improvements::list(
        &mut conn,
        &viewer,
        &query.filter(&viewer),
        (page - 1) * PAGE_SIZE,
        PAGE_SIZE,
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({
        "debt": debt.json(),
        "improvements": rows.iter().map(|r| r.json()).collect::<Vec<_>>(),
        "total": total,
        "page": page,
        "per_page": PAGE_SIZE,
    })))
}

pub async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let viewer = who.0.user.viewer();
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let row = improvements::find(&mut conn, &viewer, id).await?;
    let history = improvements::history(&mut conn, &viewer, id).await?;
    let mut out = row.json();
    out["history"] = json!(history
        .iter()
        .map(|e| json!({ "at": e.at.to_rfc3339(), "by": e.actor, "action": e.action, "detail": e.detail, "text": e.describe() }))
        .collect::<Vec<_>>());
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Deserialize, Default)]
pub struct ItemJson {
    #[serde(default)]
    title: String,
    #[serde(default)]
    details: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    model: String,
    owner_id: Option<i64>,
    #[serde(default)]
    due_on: String,
    priority: Option<Value>,
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
    review_id: Option<i64>,
    ticket_id: Option<i64>,
}

impl ItemJson {
    fn input(&self) -> ItemInput {
        ItemInput {
            title: self.title.clone(),
            details: self.details.clone(),
            kind: self.kind.clone(),
            priority: priority_text(self.priority.as_ref()),
            due_on: self.due_on.clone(),
        }
    }
}

async fn item_json(state: &AppState, who: &SignedIn, id: i64) -> Result<Value, ApiError> {
    let mut conn = state.pool.get().await?;
    Ok(improvements::find(&mut conn, &who.0.user.viewer(), id)
        .await?
        .json())
}

pub async fn create(
    state: web::Data<AppState>,
    who: SignedIn,
    body: web::Json<ItemJson>,
) -> Result<HttpResponse, ApiError> {
    let viewer = who.0.user.viewer();
    let mut conn = state.pool.get().await?;
    let item = improvements::create(
        &mut conn,
        &viewer,
        NewItem {
            input: &body.input(),
            model_key: &body.model,
            owner: body.owner_id,
            review: body.review_id,
            ticket: body.ticket_id,
        },
    )
    .await?;
    drop(conn);
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/improvements/{}", item.id)))
        .json(item_json(&state, &who, item.id).await?))
}

/// A whole edit: send every field (a missing status or reason keeps the
/// current one).
pub async fn update(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
    body: web::Json<ItemJson>,
) -> Result<HttpResponse, ApiError> {
    let viewer = who.0.user.viewer();
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let current = improvements::find(&mut conn, &viewer, id).await?;
    let status = if body.status.is_empty() {
        current.item.status.clone()
    } else {
        body.status.clone()
    };
    let reason = if body.reason.is_empty() {
        current.item.reason.clone()
    } else {
        body.reason.clone()
    };
    improvements::update(
        &mut conn,
        &viewer,
        id,
        Update {
            input: &body.input(),
            model_key: &body.model,
            owner: body.owner_id,
            status: &status,
            reason: &reason,
        },
    )
    .await?;
    drop(conn);
    Ok(HttpResponse::Ok().json(item_json(&state, &who, id).await?))
}

#[derive(Deserialize)]
pub struct BulkJson {
    #[serde(default)]
    ids: Vec<i64>,
    priority: Option<Value>,
}

pub async fn reprioritise(
    state: web::Data<AppState>,
    who: SignedIn,
    body: web::Json<BulkJson>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.pool.get().await?;
    let changed = improvements::reprioritise(
        &mut conn,
        &who.0.user.viewer(),
        &body.ids,
        &priority_text(body.priority.as_ref()),
    )
    .await?;
    Ok(HttpResponse::Ok().json(json!({ "changed": changed })))
}
