//! The search page: one box over models and tickets, within what the
//! viewer may see.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use serde_json::json;

use crate::app::AppState;
use crate::error::{ApiError, AppError};
use crate::search::query::{self, Audience, Hit, Results};
use crate::web::auth::SignedIn;
use crate::web::page::Ctx;
use crate::web::render;

pub const PAGE_SIZE: usize = 20;

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    page: Option<usize>,
}

fn audience(who: &SignedIn) -> Audience {
    let viewer = who.0.user.viewer();
    if viewer.role.is_staff() {
        Audience::Staff
    } else {
        Audience::Customer {
            organization: viewer.org.map(|o| o.0),
        }
    }
}

fn run(state: &AppState, who: &SignedIn, q: &str, page: usize) -> Result<Results, AppError> {
    if q.len() > 1000 {
        return Err(crate::domain::FieldError::new(
            "q",
            "the search is longer than 1000 characters",
        )
        .into());
    }
    let parsed = query::parse(q);
    query::search_or_ranked(
        &state.search,
        &parsed,
        audience(who),
        (page - 1) * PAGE_SIZE,
        PAGE_SIZE,
    )
    .map_err(|e| AppError::BadRequest(e.to_string()))
}

#[derive(Template)]
#[template(path = "search/results.html")]
struct ResultsPage {
    ctx: Ctx,
    q: String,
    hits: Vec<Hit>,
    total: usize,
    /// Few results hold every word: these hold some, best first.
    ranked: bool,
    page: usize,
    pages: usize,
    q_encoded: String,
}

pub async fn show(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, AppError> {
    let page = query.page.unwrap_or(1).max(1);
    let Results {
        hits,
        total,
        ranked,
    } = run(&state, &who, &query.q, page)?;
    render(&ResultsPage {
        ctx,
        q_encoded: crate::web::auth::urlencode(&query.q),
        q: query.q.clone(),
        hits,
        total,
        ranked,
        page,
        pages: total.div_ceil(PAGE_SIZE).max(1),
    })
}

pub async fn api(
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.page.unwrap_or(1).max(1);
    let Results {
        hits,
        total,
        ranked,
    } = run(&state, &who, &query.q, page)?;
    let results: Vec<_> = hits
        .iter()
        .map(|h| json!({ "kind": h.kind, "id": h.id, "key": h.key, "title": h.title, "status": h.status, "url": h.url(), "snippet": h.snippet.as_str(), "score": h.score }))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "query": query.q, "total": total, "ranked": ranked, "page": page, "per_page": PAGE_SIZE, "results": results })))
}
