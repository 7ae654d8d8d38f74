//! A model's revisions, one revision's text, and the diff between any two.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::db::models::{self, Model, Revision, RevisionMeta};
use crate::domain::model::diff::{self, DiffLine};
use crate::error::AppError;
use crate::web::auth::SignedIn;
use crate::web::page::Ctx;
use crate::web::render;

#[derive(Template)]
#[template(path = "models/history.html")]
struct HistoryPage {
    ctx: Ctx,
    model: Model,
    revisions: Vec<RevisionMeta>,
}

pub async fn list(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let (model, _) = super::load_visible(&mut conn, &who.0.user.viewer(), &path).await?;
    let revisions = models::history(&mut conn, model.id).await?;
    render(&HistoryPage {
        ctx,
        model,
        revisions,
    })
}

#[derive(Template)]
#[template(path = "models/revision.html")]
struct RevisionPage {
    ctx: Ctx,
    model: Model,
    revision: Revision,
}

pub async fn show(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<(String, i32)>,
) -> Result<HttpResponse, AppError> {
    let (key, number) = path.into_inner();
    let mut conn = state.pool.get().await?;
    let (model, _) = super::load_visible(&mut conn, &who.0.user.viewer(), &key).await?;
    let revision = models::revision(&mut conn, model.id, number)
        .await?
        .ok_or(AppError::NotFound)?;
    render(&RevisionPage {
        ctx,
        model,
        revision,
    })
}

#[derive(Template)]
#[template(path = "models/diff.html")]
struct DiffPage {
    ctx: Ctx,
    model: Model,
    from: i32,
    to: i32,
    lines: Vec<DiffLine>,
    added: usize,
    removed: usize,
}

#[derive(Deserialize)]
pub struct DiffQuery {
    from: i32,
    to: i32,
}

pub async fn compare(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
    query: web::Query<DiffQuery>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let (model, _) = super::load_visible(&mut conn, &who.0.user.viewer(), &path).await?;
    let from = models::revision(&mut conn, model.id, query.from)
        .await?
        .ok_or(AppError::NotFound)?;
    let to = models::revision(&mut conn, model.id, query.to)
        .await?
        .ok_or(AppError::NotFound)?;
    let lines = diff::lines(&from.body, &to.body);
    let (added, removed) = diff::counts(&lines);
    render(&DiffPage {
        ctx,
        model,
        from: from.number,
        to: to.number,
        lines,
        added,
        removed,
    })
}
