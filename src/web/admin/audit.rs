//! The audit log, newest first, 50 entries a page.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::app::AppState;
use crate::db::audit::{self, Entry};
use crate::web::error::AppError;
use crate::web::page::{Ctx, PageNo};
use crate::web::render;

pub const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "admin/audit/list.html")]
struct ListPage {
    ctx: Ctx,
    entries: Vec<Entry>,
    page: i64,
    pages: i64,
    total: i64,
}

#[derive(Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    page: PageNo,
}

pub async fn list(
    ctx: Ctx,
    state: web::Data<AppState>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.pool.get().await?;
    let total = audit::count(&mut conn).await?;
    let pages = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let page = query.page.at_most(pages);
    let entries = audit::page(&mut conn, page.offset(PAGE_SIZE), PAGE_SIZE).await?;
    render(&ListPage {
        ctx,
        entries,
        page: page.number(),
        pages,
        total,
    })
}
