//! The search page: one box over models and tickets, within what the
//! viewer may see.

use actix_web::{HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::search::query::{self, Audience, Hit, Results};
use crate::web::auth::SignedIn;
use crate::web::error::{ApiError, AppError};
use crate::web::page::{Ctx, PageNo};
use crate::web::render;

pub const PAGE_SIZE: usize = 20;

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: PageNo,
}

/// Search pages go no further than [`query::MAX_RESULTS`]: a page beyond
/// is the last reachable one.
fn reachable(page: PageNo) -> PageNo {
    page.at_most((query::MAX_RESULTS / PAGE_SIZE) as i64)
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

/// Runs the search on a blocking thread (`web::cpu`).
async fn run(state: &AppState, who: &SignedIn, q: &str, page: PageNo) -> Result<Results, AppError> {
    if q.len() > 1000 {
        return Err(crate::domain::FieldError::new(
            "q",
            "the search is longer than 1000 characters",
        )
        .into());
    }
    let parsed = query::parse(q);
    let (index, audience) = (state.search.clone(), audience(who));
    let offset = usize::try_from(page.offset(PAGE_SIZE as i64)).unwrap_or(query::MAX_RESULTS);
    crate::web::cpu(state, move || {
        query::search_or_ranked(&index, &parsed, audience, offset, PAGE_SIZE)
    })
    .await?
    .map_err(|e| AppError::Internal(e.to_string()))
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
    max_results: usize,
    q_encoded: String,
}

pub async fn show(
    ctx: Ctx,
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, AppError> {
    let page = reachable(query.page);
    let Results {
        hits,
        total,
        ranked,
    } = run(&state, &who, &query.q, page).await?;
    render(&ResultsPage {
        ctx,
        q_encoded: crate::web::auth::urlencode(&query.q),
        q: query.q.clone(),
        hits,
        total,
        ranked,
        page: page.number() as usize,
        pages: total.min(query::MAX_RESULTS).div_ceil(PAGE_SIZE).max(1),
        max_results: query::MAX_RESULTS,
    })
}

/// One search result.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    /// model or ticket.
    pub kind: String,
    pub id: i64,
    /// A model's key (empty for a ticket).
    pub key: String,
    pub title: String,
    pub status: String,
    /// The page that shows it.
    pub url: String,
    /// An HTML extract with the matching words in `<b>`.
    pub snippet: String,
    pub score: f32,
}

/// One page of search results.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResults {
    pub query: String,
    pub total: usize,
    /// Few results held every word: these hold some, best first.
    pub ranked: bool,
    pub page: i64,
    pub per_page: usize,
    /// How deep the pages go.
    pub max_results: usize,
    pub results: Vec<SearchHit>,
}

#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "search",
    params(
        ("q" = Option<String>, Query, description = "words and \"quoted phrases\" (at most 1000 characters)"),
        ("page" = Option<i64>, Query, description = "from 1; no deeper than the best 1,000 results"),
    ),
    responses((status = 200, description = "Models and tickets the token's owner may see", body = SearchResults))
)]
pub async fn api(
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<SearchQuery>,
) -> Result<web::Json<SearchResults>, ApiError> {
    let page = reachable(query.page);
    let Results {
        hits,
        total,
        ranked,
    } = run(&state, &who, &query.q, page).await?;
    let results = hits
        .iter()
        .map(|h| SearchHit {
            kind: h.kind.to_owned(),
            id: h.id,
            key: h.key.clone(),
            title: h.title.clone(),
            status: h.status.clone(),
            url: h.url(),
            snippet: h.snippet.as_str().to_owned(),
            score: h.score,
        })
        .collect();
    Ok(web::Json(SearchResults {
        query: query.q.clone(),
        total,
        ranked,
        page: page.number(),
        per_page: PAGE_SIZE,
        max_results: query::MAX_RESULTS,
        results,
    }))
}
