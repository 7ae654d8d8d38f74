//! The improvement backlog: one prioritised list with its debt number and
//! trend, filters, the owner's own list, bulk re-prioritising (a plain
//! form), filing an item, and an item's page with its history. The actions
//! are in `db::improvements`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::Utc;
use serde::Deserialize;

use crate::app::AppState;
use crate::db::improvements::{self, Debt, EventRow, Filter, ItemRow, NewItem, Update};
use crate::domain::FieldError;
use crate::domain::improvement::{ItemInput, ItemStatus, Kind};
use crate::domain::policy::Viewer;
use crate::domain::ticket::Priority;
use crate::web::auth::SignedIn;
use crate::web::error::AppError;
use crate::web::page::Ctx;
use crate::web::reviews::page_number;
use crate::web::{render, render_status, see_other};

pub const PAGE_SIZE: i64 = 50;

#[derive(Deserialize, Default, Clone)]
pub struct ListQuery {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub mine: String,
    pub page: Option<i64>,
}

impl ListQuery {
    pub fn filter(&self, viewer: &Viewer) -> Filter {
        Filter {
            kind: self.kind.parse().ok(),
            owner: if self.mine == "1" {
                Some(viewer.user.0)
            } else {
                self.owner.trim().parse().ok()
            },
            model: self.model.trim().parse().ok(),
            review: None,
            status: self.status.parse().ok(),
            all_statuses: self.status == "all",
        }
    }

    pub fn keep(&self) -> String {
        crate::web::query_string(&[
            ("kind", self.kind.as_str()),
            ("owner", self.owner.as_str()),
            ("model", self.model.as_str()),
            ("status", self.status.as_str()),
            ("mine", self.mine.as_str()),
        ])
    }
}

#[derive(Template)]
#[template(path = "improvements/list.html")]
struct ListPage {
    ctx: Ctx,
    debt: Debt,
    rule: &'static str,
    rows: Vec<ItemRow>,
    total: i64,
    page: i64,
    pages: i64,
    query: ListQuery,
    keep: String,
    kinds: &'static [Kind],
    statuses: &'static [ItemStatus],
    priorities: [Priority; 4],
    owners: Vec<(i64, String)>,
    models: Vec<(i64, String)>,
    may_reprioritise: bool,
    error: Option<FieldError>,
}

async fn list_page(
    state: &AppState,
    ctx: Ctx,
    viewer: &Viewer,
    query: ListQuery,
    error: Option<FieldError>,
) -> Result<ListPage, AppError> {
    let page = page_number(query.page);
    let mut conn = state.pool.get().await?;
    let debt = improvements::debt(&mut conn, viewer, Utc::now()).await?;
    let (rows, total) = improvements::list(
        &mut conn,
        viewer,
        &query.filter(viewer),
        (page - 1) * PAGE_SIZE,
        PAGE_SIZE,
    )
    .await?;
    Ok(ListPage {
        ctx,
        debt,
        rule: improvements::RULE,
        rows,
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        keep: query.keep(),
        query,
        kinds: Kind::ALL,
        statuses: ItemStatus::ALL,
        priorities: Priority::ALL,
        owners: improvements::possible_owners(&mut conn).await?,
        models: improvements::models_with_items(&mut conn).await?,
        may_reprioritise: crate::domain::policy::Access::Manager.allows(Some(viewer.role)),
        error,
    })
}

pub async fn list(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    render(&list_page(&state, ctx, &viewer, query.into_inner(), None).await?)
}

/// The bulk form: the ticked `item`s get `priority`.
pub async fn reprioritise(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let pairs = form.into_inner();
    let value = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let back = value("back");
    let ids: Result<Vec<i64>, _> = pairs
        .iter()
        .filter(|(k, _)| k == "item")
        .map(|(_, v)| v.trim().parse::<i64>())
        .collect();
    let result = match ids {
        Ok(ids) => {
            let mut conn = state.pool.get().await?;
            improvements::reprioritise(&mut conn, &viewer, &ids, &value("priority")).await
        }
        Err(_) => Err(FieldError::new("items", "tick items from the list").into()),
    };
    match result {
        Ok(_) => Ok(see_other(&format!(
            "/improvements?{}{}notice=items-reprioritised",
            back,
            if back.is_empty() { "" } else { "&" }
        ))),
        Err(improvements::ImprovementError::Invalid(e)) => {
            let query: ListQuery = serde_urlencoded::from_str(&back).unwrap_or_default();
            let page = list_page(&state, ctx, &viewer, query, Some(e)).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default, Clone)]
pub struct ItemForm {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub details: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub due_on: String,
    #[serde(default)]
    pub priority: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub reason: String,
    #[serde(default)]
    pub review: String,
    #[serde(default)]
    pub ticket: String,
}

impl ItemForm {
    pub fn input(&self) -> ItemInput {
        ItemInput {
            title: self.title.clone(),
            details: self.details.clone(),
            kind: self.kind.clone(),
            priority: self.priority.clone(),
            due_on: self.due_on.clone(),
        }
    }

    fn number(field: &'static str, value: &str) -> Result<Option<i64>, FieldError> {
        match value.trim() {
            "" => Ok(None),
            v => v
                .trim_start_matches('#')
                .parse()
                .map(Some)
                .map_err(|_| FieldError::new(field, "must be a number")),
        }
    }

    pub fn owner(&self) -> Result<Option<i64>, FieldError> {
        Self::number("owner", &self.owner)
    }
}

#[derive(Template)]
#[template(path = "improvements/new.html")]
struct NewPage {
    ctx: Ctx,
    form: ItemForm,
    error: Option<FieldError>,
    kinds: &'static [Kind],
    priorities: [Priority; 4],
    owners: Vec<(i64, String)>,
}

async fn new_page(
    state: &AppState,
    ctx: Ctx,
    form: ItemForm,
    error: Option<FieldError>,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    render_status(
        &NewPage {
            ctx,
            form,
            error,
            kinds: Kind::ALL,
            priorities: Priority::ALL,
            owners: improvements::possible_owners(&mut conn).await?,
        },
        status,
    )
}

/// The form, prefilled from the query (`review`, `ticket`, `kind`,
/// `model`, `title`).
pub async fn new(
    ctx: Ctx,
    state: web::Data<AppState>,
    query: web::Query<ItemForm>,
) -> Result<HttpResponse, AppError> {
    let mut form = query.into_inner();
    if form.priority.is_empty() {
        form.priority = "3".to_owned();
    }
    new_page(&state, ctx, form, None, StatusCode::OK).await
}

pub async fn create(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    form: web::Form<ItemForm>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let form = form.into_inner();
    let numbers = (|| {
        Ok::<_, FieldError>((
            form.owner()?,
            ItemForm::number("review", &form.review)?,
            ItemForm::number("ticket", &form.ticket)?,
        ))
    })();
    let created = match numbers {
        Ok((owner, review, ticket)) => {
            let mut conn = state.pool.get().await?;
            improvements::create(
                &mut conn,
                &viewer,
                NewItem {
                    input: &form.input(),
                    model_key: &form.model,
                    owner,
                    review,
                    ticket,
                },
            )
            .await
        }
        Err(e) => Err(e.into()),
    };
    match created {
        Ok(item) => {
            let notice = if item.overdue_now() {
                "improvement-filed-overdue"
            } else {
                "improvement-filed"
            };
            Ok(see_other(&format!(
                "/improvements/{}?notice={notice}",
                item.id
            )))
        }
        Err(improvements::ImprovementError::Invalid(e)) => {
            new_page(&state, ctx, form, Some(e), StatusCode::UNPROCESSABLE_ENTITY).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Template)]
#[template(path = "improvements/show.html")]
struct ShowPage {
    ctx: Ctx,
    row: ItemRow,
    history: Vec<EventRow>,
    form: ItemForm,
    error: Option<FieldError>,
    kinds: &'static [Kind],
    statuses: &'static [ItemStatus],
    priorities: [Priority; 4],
    owners: Vec<(i64, String)>,
}

async fn show_page(
    state: &AppState,
    ctx: Ctx,
    viewer: &Viewer,
    id: i64,
    form: Option<ItemForm>,
    error: Option<FieldError>,
) -> Result<ShowPage, AppError> {
    let mut conn = state.pool.get().await?;
    let row = improvements::find(&mut conn, viewer, id).await?;
    let history = improvements::history(&mut conn, viewer, id).await?;
    let form = form.unwrap_or_else(|| {
        let i = &row.item;
        ItemForm {
            title: i.title.clone(),
            details: i.details.clone(),
            kind: i.kind.clone(),
            model: row.model_key.clone().unwrap_or_default(),
            owner: i.owner_id.map(|o| o.to_string()).unwrap_or_default(),
            due_on: i.due_label(),
            priority: i.priority.to_string(),
            status: i.status.clone(),
            reason: i.reason.clone(),
            review: String::new(),
            ticket: String::new(),
        }
    });
    Ok(ShowPage {
        ctx,
        row,
        history,
        form,
        error,
        kinds: Kind::ALL,
        statuses: ItemStatus::ALL,
        priorities: Priority::ALL,
        owners: improvements::possible_owners(&mut conn).await?,
    })
}

pub async fn show(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    render(&show_page(&state, ctx, &viewer, path.into_inner(), None, None).await?)
}

pub async fn update(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<i64>,
    form: web::Form<ItemForm>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let id = path.into_inner();
    let form = form.into_inner();
    let updated = match form.owner() {
        Ok(owner) => {
            let mut conn = state.pool.get().await?;
            improvements::update(
                &mut conn,
                &viewer,
                id,
                Update {
                    input: &form.input(),
                    model_key: &form.model,
                    owner,
                    status: &form.status,
                    reason: &form.reason,
                },
            )
            .await
        }
        Err(e) => Err(e.into()),
    };
    match updated {
        Ok(_) => Ok(see_other(&format!(
            "/improvements/{id}?notice=improvement-saved"
        ))),
        Err(improvements::ImprovementError::Invalid(e)) => {
            let page = show_page(&state, ctx, &viewer, id, Some(form), Some(e)).await?;
            render_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
        }
        Err(e) => Err(e.into()),
    }
}
