//! The managers' reports (`/reports`): overview, link rate and outcomes,
//! gaps, model health, resolution with and without a model, triage; the
//! excluded tickets; drafting a model from a gap's ticket; every table as
//! CSV and JSON. The team reads them (engineers, reviewers, managers,
//! admins); customers never (the route table says `Staff`, and the service
//! checks again).

pub mod actions;
pub mod chart;
pub mod export;
pub mod pages;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Utc;

use crate::app::AppState;
use crate::domain::FieldError;
use crate::domain::report::period::QueryInput;
use crate::domain::report::{Part, ReportQuery};
use crate::domain::zone::Tz;
use crate::web::auth::SignedIn;
use crate::web::error::{ApiError, AppError};

/// The zone the signed-in person reads reports in: their own, else the
/// instance's default.
pub fn zone_of(state: &AppState, who: &SignedIn) -> Tz {
    who.0.user.zone(state.config.time_zone)
}

/// What was typed into the picker, and the query it makes (or why not);
/// without a `tz`, days are in `zone` (the viewer's own).
pub fn query_of(req: &HttpRequest, zone: Tz) -> (QueryInput, Result<ReportQuery, FieldError>) {
    match serde_urlencoded::from_str::<QueryInput>(req.query_string()) {
        Ok(input) => {
            let query = ReportQuery::parse(&input, Utc::now(), zone);
            (input, query)
        }
        // Never a guess: a query string that cannot be read is said so.
        Err(e) => (
            QueryInput::default(),
            Err(FieldError::new(
                "query",
                format!("the query string cannot be read: {e}"),
            )),
        ),
    }
}

fn part_of(name: &str) -> Result<Part, AppError> {
    Part::from_name(name).ok_or(AppError::NotFound)
}

async fn load_part(
    state: &AppState,
    who: &SignedIn,
    query: &ReportQuery,
    part: Part,
) -> Result<crate::domain::report::Report, AppError> {
    // A second connection when the pool has one free: model health and
    // resolution are read in two halves at the same time.
    let mut conn = state.pool.get().await?;
    let mut other = crate::db::spare(&state.pool).await;
    Ok(crate::reports::report_on(
        &mut conn,
        other.as_deref_mut(),
        &who.0.user.viewer(),
        query,
        &[part],
    )
    .await?)
}

fn csv_response(part: Part, query: &ReportQuery, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"casebook-{}-{}-{}.csv\"",
                part.name(),
                query.period.first_day,
                query.period.last_day
            ),
        ))
        .body(body)
}

/// `GET /reports/export/{table}`: one table as CSV, for a signed-in person
/// (the pages' "CSV" links).
pub async fn export_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let part = part_of(&path)?;
    let query = query_of(&req, zone_of(&state, &who)).1?;
    let report = load_part(&state, &who, &query, part).await?;
    Ok(csv_response(
        part,
        &query,
        export::csv(&export::table(&report, part)),
    ))
}

/// The report query parameters, shared by the JSON and CSV tables.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "documents the picker's query string for the OpenAPI document"
)]
pub struct ReportParams {
    /// 7, 30 (default) or 90.
    days: Option<String>,
    /// First day (YYYY-MM-DD), with `to`.
    from: Option<String>,
    /// Last day (YYYY-MM-DD), included.
    to: Option<String>,
    /// The zone days and weeks are counted in, an IANA name (e.g.
    /// Europe/Berlin); by default the caller's own (their account page).
    tz: Option<String>,
    category: Option<String>,
    /// 1–4.
    priority: Option<String>,
    /// An organization id.
    organization: Option<String>,
    /// A user id.
    assignee: Option<String>,
    /// Days after which a model counts as not verified (default 180).
    verify_by: Option<String>,
}

/// `GET /api/v1/reports/{table}`: one table as JSON.
#[utoipa::path(
    get,
    path = "/api/v1/reports/{table}",
    tag = "reports",
    params(
        ("table" = String, Path, description = "volume, mix, links, links-by-category, links-by-week, links-by-triager, gaps, models, resolution, triage, searches or search-words"),
        ReportParams,
    ),
    responses((status = 200, description = "The table's rows for the query", body = export::ReportTable))
)]
pub async fn api_json(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<web::Json<export::ReportTable>, ApiError> {
    let part = part_of(&path)?;
    let query = query_of(&req, zone_of(&state, &who)).1?;
    let report = load_part(&state, &who, &query, part).await?;
    Ok(web::Json(export::json(&report, part, &query)))
}

/// `GET /api/v1/reports/{table}/csv`: one table as CSV.
#[utoipa::path(
    get,
    path = "/api/v1/reports/{table}/csv",
    tag = "reports",
    params(("table" = String, Path, description = "as for the JSON table"), ReportParams),
    responses((status = 200, description = "The table as CSV (a header row, then the rows)", content_type = "text/csv", body = String))
)]
pub async fn api_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let part = part_of(&path)?;
    let query = query_of(&req, zone_of(&state, &who)).1?;
    let report = load_part(&state, &who, &query, part).await?;
    Ok(csv_response(
        part,
        &query,
        export::csv(&export::table(&report, part)),
    ))
}
