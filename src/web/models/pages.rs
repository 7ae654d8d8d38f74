//! The model list and the model page.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::db::models::{self, Filter, Model, Revision, Sort};
use crate::domain::model::{Status, links};
use crate::markdown::{self, SafeHtml};
use crate::web::auth::SignedIn;
use crate::web::error::AppError;
use crate::web::models::load_visible;
use crate::web::page::{Ctx, PageNo};
use crate::web::render;

pub const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "models/list.html")]
struct ListPage {
    ctx: Ctx,
    rows: Vec<(Model, Option<String>)>,
    total: i64,
    page: i64,
    pages: i64,
    query: ListQuery,
    categories: Vec<String>,
    tags: Vec<String>,
    owners: Vec<(i64, String)>,
    may_edit: bool,
    /// The filters and sort as a query string, for the pager's links.
    keep: String,
}

#[derive(Deserialize, Default, Clone)]
pub struct ListQuery {
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub tag: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub page: PageNo,
}

impl ListQuery {
    pub fn filter(&self, public_only: bool) -> Filter {
        let text = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Filter {
            category: text(&self.category),
            tag: text(&self.tag),
            status: self.status.parse::<Status>().ok(),
            owner: self.owner.trim().parse().ok(),
            public_only,
            sort: match self.sort.as_str() {
                "updated" => Sort::RecentlyUpdated,
                "key" => Sort::Key,
                _ => Sort::Title,
            },
        }
    }

    fn keep(&self) -> String {
        crate::web::query_string(&[
            ("category", self.category.as_str()),
            ("tag", self.tag.as_str()),
            ("status", self.status.as_str()),
            ("owner", self.owner.as_str()),
            ("sort", self.sort.as_str()),
        ])
    }
}

pub async fn list(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let public_only = !viewer.role.is_staff();
    let query = query.into_inner();
    let filter = query.filter(public_only);
    let mut conn = state.pool.get().await?;
    let page = query.page;
    let (rows, total) = models::list(&mut conn, &filter, page.offset(PAGE_SIZE), PAGE_SIZE).await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let (categories, tags) = models::facets(&mut conn, public_only).await?;
    let owners = if public_only {
        Vec::new()
    } else {
        models::owners(&mut conn).await?
    };
    render(&ListPage {
        ctx,
        rows,
        total,
        page: page.number(),
        pages,
        keep: query.keep(),
        query,
        categories,
        tags,
        owners,
        may_edit: viewer.may_edit_models(),
    })
}

/// A linked model as the page shows it.
pub struct LinkedModel {
    pub key: String,
    pub title: String,
}

#[derive(Template)]
#[template(path = "models/show.html")]
struct ShowPage {
    ctx: Ctx,
    model: Model,
    revision: Revision,
    statement: SafeHtml,
    steps: Vec<SafeHtml>,
    discussion: SafeHtml,
    backlinks: Vec<LinkedModel>,
    /// For a jump-off model: where its steps point, in order.
    next: Vec<LinkedModel>,
    owner: Option<String>,
    verified_by: Option<String>,
    may_edit: bool,
    /// Tickets that used this model: (id, title, status, revision, outcome).
    tickets: Vec<(i64, String, String, Option<i32>, String)>,
    /// How often it resolved, helped partly.
    resolved: usize,
    partial: usize,
    /// Its open improvement items (staff only; empty for customers).
    items: Vec<crate::db::improvements::Item>,
    /// The alert names it declares (`alerts:`), shown to the team.
    alerts: Vec<String>,
}

impl ShowPage {
    fn outcome_label(outcome: &str) -> &'static str {
        crate::web::tickets::view::outcome_label(outcome)
    }
}

pub async fn show(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let viewer = who.0.user.viewer();
    let mut conn = state.pool.get().await?;
    let (model, revision) = load_visible(&mut conn, &viewer, &path).await?;
    let text = crate::domain::model::parse(&revision.body).map_err(|e| {
        tracing::error!(model = %model.key, "stored revision does not parse: {e}");
        AppError::NotFound
    })?;
    let visible = |public: bool| viewer.may_view_model(public);
    let backlinks = models::backlinks(&mut conn, model.id)
        .await?
        .into_iter()
        .filter(|(_, _, public)| visible(*public))
        .map(|(key, title, _)| LinkedModel { key, title })
        .collect();
    let next = if crate::domain::model::is_jump_off(&text) {
        let keys = links(&text);
        let titles = models::titles(&mut conn, &keys).await?;
        keys.into_iter()
            .filter_map(|key| {
                titles
                    .iter()
                    .find(|(k, _, public)| *k == key && visible(*public))
                    .map(|(key, title, _)| LinkedModel {
                        key: key.clone(),
                        title: title.clone(),
                    })
            })
            .collect()
    } else {
        Vec::new()
    };
    let owner = match model.owner_id {
        Some(id) if viewer.role.is_staff() => Some(models::user_name(&mut conn, id).await?),
        _ => None,
    };
    let verified_by = match model.verified_by {
        Some(id) => Some(models::user_name(&mut conn, id).await?),
        None => None,
    };
    let tickets =
        crate::db::tickets::tickets_for_model(&mut conn, model.id, viewer.ticket_scope()).await?;
    let count = |o: &str| tickets.iter().filter(|t| t.4 == o).count();
    let (resolved, partial) = (count("resolved"), count("partial"));
    let items = crate::db::improvements::open_for_model(&mut conn, &viewer, model.id).await?;
    let alerts = if viewer.role.is_staff() {
        text.alerts.clone()
    } else {
        Vec::new()
    };
    // A model may hold a megabyte of Markdown.
    let (statement, steps, discussion) = crate::web::cpu(&state, move || {
        (
            markdown::render(&text.statement),
            text.steps.iter().map(|s| markdown::render(s)).collect(),
            markdown::render(&text.discussion),
        )
    })
    .await?;
    render(&ShowPage {
        ctx,
        items,
        tickets,
        resolved,
        partial,
        statement,
        steps,
        discussion,
        backlinks,
        next,
        owner,
        verified_by,
        may_edit: viewer.may_edit_models(),
        alerts,
        model,
        revision,
    })
}
