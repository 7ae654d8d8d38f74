//! `/api/v1/improvements`: the backlog (its listing carries the debt number
//! and trend), one item with its history, filing, editing, and bulk
//! re-prioritising.

use actix_web::web;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::app::AppState;
use crate::db::improvements::{self, Debt, EventRow, ItemRow, NewItem, RULE, Update};
use crate::domain::improvement::ItemInput;
use crate::web::api::Located;
use crate::web::auth::SignedIn;
use crate::web::error::ApiError;

/// An improvement item.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemJsonOut {
    pub id: i64,
    pub title: String,
    pub details: String,
    /// model_fix, new_model, process, tooling, …
    pub kind: String,
    /// The model's key, when it is about one.
    pub model: Option<String>,
    pub owner_id: Option<i64>,
    pub owner: Option<String>,
    pub due_on: Option<String>,
    /// P1–P4.
    pub priority: String,
    /// open, in_progress, done or wont_do.
    pub status: String,
    /// Why it won't be done.
    pub reason: String,
    pub overdue: bool,
    pub review_id: Option<i64>,
    pub ticket_id: Option<i64>,
    /// The model revision that resolved it.
    pub resolved_revision: Option<i32>,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&ItemRow> for ItemJsonOut {
    fn from(row: &ItemRow) -> Self {
        let i = &row.item;
        Self {
            id: i.id,
            title: i.title.clone(),
            details: i.details.clone(),
            kind: i.kind.clone(),
            model: row.model_key.clone(),
            owner_id: i.owner_id,
            owner: row.owner.clone(),
            due_on: i.due_on.map(|d| d.to_string()),
            priority: i.priority().to_string(),
            status: i.status.clone(),
            reason: i.reason.clone(),
            overdue: i.overdue_now(),
            review_id: i.review_id,
            ticket_id: i.ticket_id,
            resolved_revision: i.resolved_revision,
            created_at: i.created_at.to_rfc3339(),
            updated_at: i.updated_at.to_rfc3339(),
        }
    }
}

/// A point of the debt's trend.
#[derive(Debug, Serialize, ToSchema)]
pub struct DebtPoint {
    pub at: String,
    pub debt: i64,
}

/// The improvement debt: the number now, the rule, the 26-week trend.
#[derive(Debug, Serialize, ToSchema)]
pub struct DebtJson {
    pub now: i64,
    pub rule: String,
    pub trend: Vec<DebtPoint>,
}

impl From<&Debt> for DebtJson {
    fn from(d: &Debt) -> Self {
        Self {
            now: d.now,
            rule: RULE.to_owned(),
            trend: d
                .points
                .iter()
                .map(|(at, debt)| DebtPoint {
                    at: at.to_rfc3339(),
                    debt: *debt,
                })
                .collect(),
        }
    }
}

/// The backlog: the debt and one page of items.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImprovementList {
    pub debt: DebtJson,
    pub improvements: Vec<ItemJsonOut>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
}

/// A line of an item's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryLine {
    pub at: String,
    /// Who made the change (`null` for Casebook).
    pub by: Option<String>,
    pub action: String,
    /// What the change recorded.
    #[schema(value_type = Object)]
    pub detail: Value,
    /// The change in words.
    pub text: String,
}

impl From<&EventRow> for HistoryLine {
    fn from(e: &EventRow) -> Self {
        Self {
            at: e.at.to_rfc3339(),
            by: e.actor.clone(),
            action: e.action.clone(),
            detail: e.detail.clone(),
            text: e.describe(),
        }
    }
}

/// An item with its history.
#[derive(Debug, Serialize, ToSchema)]
pub struct ItemDetail {
    #[serde(flatten)]
    pub item: ItemJsonOut,
    pub history: Vec<HistoryLine>,
}

/// How many items a bulk change changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Changed {
    pub changed: usize,
}
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

#[utoipa::path(
    get,
    path = "/api/v1/improvements",
    tag = "improvements",
    params(
        ("kind" = Option<String>, Query),
        ("owner" = Option<String>, Query, description = "a user id"),
        ("model" = Option<String>, Query, description = "a model key"),
        ("status" = Option<String>, Query, description = "open, in_progress, done, wont_do"),
        ("mine" = Option<String>, Query),
        ("page" = Option<i64>, Query, description = "from 1"),
    ),
    responses((status = 200, description = "The debt and one page of the backlog", body = ImprovementList))
)]
pub async fn list(
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<ListQuery>,
) -> Result<web::Json<ImprovementList>, ApiError> {
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
    Ok(web::Json(ImprovementList {
        debt: DebtJson::from(&debt),
        improvements: rows.iter().map(ItemJsonOut::from).collect(),
        total,
        page,
        per_page: PAGE_SIZE,
    }))
}

#[utoipa::path(
    get,
    path = "/api/v1/improvements/{id}",
    tag = "improvements",
    params(("id" = i64, Path)),
    responses((status = 200, description = "The item and its history", body = ItemDetail))
)]
pub async fn show(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
) -> Result<web::Json<ItemDetail>, ApiError> {
    let viewer = who.0.user.viewer();
    let id = path.into_inner();
    let mut conn = state.pool.get().await?;
    let row = improvements::find(&mut conn, &viewer, id).await?;
    let history = improvements::history(&mut conn, &viewer, id).await?;
    Ok(web::Json(ItemDetail {
        item: ItemJsonOut::from(&row),
        history: history.iter().map(HistoryLine::from).collect(),
    }))
}

/// An item's fields, to file or to edit.
#[derive(Deserialize, Default, ToSchema)]
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
    /// YYYY-MM-DD.
    #[serde(default)]
    due_on: String,
    /// 1–4, "1"–"4" or "P1"–"P4".
    #[schema(value_type = Option<String>)]
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

async fn item_json(state: &AppState, who: &SignedIn, id: i64) -> Result<ItemJsonOut, ApiError> {
    let mut conn = state.pool.get().await?;
    Ok(ItemJsonOut::from(
        &improvements::find(&mut conn, &who.0.user.viewer(), id).await?,
    ))
}

#[utoipa::path(
    post,
    path = "/api/v1/improvements",
    tag = "improvements",
    request_body = ItemJson,
    responses((status = 201, description = "Filed; Location names it", body = ItemJsonOut))
)]
pub async fn create(
    state: web::Data<AppState>,
    who: SignedIn,
    body: web::Json<ItemJson>,
) -> Result<Located<ItemJsonOut>, ApiError> {
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
    Ok(Located::created(
        format!("/api/v1/improvements/{}", item.id),
        item_json(&state, &who, item.id).await?,
    ))
}

/// A whole edit: send every field (a missing status or reason keeps the
/// current one).
#[utoipa::path(
    put,
    path = "/api/v1/improvements/{id}",
    tag = "improvements",
    params(("id" = i64, Path)),
    request_body = ItemJson,
    responses((status = 200, description = "Saved", body = ItemJsonOut))
)]
pub async fn update(
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
    body: web::Json<ItemJson>,
) -> Result<web::Json<ItemJsonOut>, ApiError> {
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
    Ok(web::Json(item_json(&state, &who, id).await?))
}

/// Items to give one priority.
#[derive(Deserialize, ToSchema)]
pub struct BulkJson {
    #[serde(default)]
    ids: Vec<i64>,
    /// 1–4, "1"–"4" or "P1"–"P4".
    #[schema(value_type = Option<String>)]
    priority: Option<Value>,
}

#[utoipa::path(
    post,
    path = "/api/v1/improvements/priority",
    tag = "improvements",
    request_body = BulkJson,
    responses((status = 200, description = "Re-prioritised", body = Changed))
)]
pub async fn reprioritise(
    state: web::Data<AppState>,
    who: SignedIn,
    body: web::Json<BulkJson>,
) -> Result<web::Json<Changed>, ApiError> {
    let mut conn = state.pool.get().await?;
    let changed = improvements::reprioritise(
        &mut conn,
        &who.0.user.viewer(),
        &body.ids,
        &priority_text(body.priority.as_ref()),
    )
    .await?;
    Ok(web::Json(Changed { changed }))
}
