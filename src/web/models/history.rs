//! A model's revisions, one revision's text, and the diff between any two.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::db::models::{self, Model, Revision, RevisionMeta};
use crate::domain::model::diff::{self, DiffLine};
use crate::web::auth::SignedIn;
use crate::web::error::AppError;
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
    let viewer = who.0.user.viewer();
    let (model, _) = super::load_visible(&mut conn, &viewer, &path).await?;
    let revisions = models::history(&mut conn, model.id, !viewer.role.is_staff()).await?;
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
    let viewer = who.0.user.viewer();
    let (model, _) = super::load_visible(&mut conn, &viewer, &key).await?;
    let revision = super::load_revision(&mut conn, &viewer, &model, number).await?;
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
    let viewer = who.0.user.viewer();
    let (model, _) = super::load_visible(&mut conn, &viewer, &path).await?;
    let from = super::load_revision(&mut conn, &viewer, &model, query.from).await?;
    let to = super::load_revision(&mut conn, &viewer, &model, query.to).await?;
    let lines = crate::web::cpu(&state, move || diff::lines(&from.body, &to.body)).await?;
    let (added, removed) = diff::counts(&lines);
    let (from, to) = (query.from, query.to);
    render(&DiffPage {
        ctx,
        model,
        from,
        to,
        lines,
        added,
        removed,
    })
}
