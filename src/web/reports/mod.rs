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
use crate::web::auth::SignedIn;
use crate::web::error::{ApiError, AppError};

/// What was typed into the picker, and the query it makes (or why not).
pub fn query_of(req: &HttpRequest) -> (QueryInput, Result<ReportQuery, FieldError>) {
    match serde_urlencoded::from_str::<QueryInput>(req.query_string()) {
        Ok(input) => {
            let query = ReportQuery::parse(&input, Utc::now());
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
    let mut conn = state.pool.get().await?;
    Ok(crate::reports::report(&mut conn, &who.0.user.viewer(), query, &[part]).await?)
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
    let query = query_of(&req).1?;
    let report = load_part(&state, &who, &query, part).await?;
    Ok(csv_response(
        part,
        &query,
        export::csv(&export::table(&report, part)),
    ))
}

/// `GET /api/v1/reports/{table}`: one table as JSON.
pub async fn api_json(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let part = part_of(&path)?;
    let query = query_of(&req).1?;
    let report = load_part(&state, &who, &query, part).await?;
    Ok(HttpResponse::Ok().json(export::json(&report, part, &query)))
}

/// `GET /api/v1/reports/{table}/csv`: one table as CSV.
pub async fn api_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    who: SignedIn,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let part = part_of(&path)?;
    let query = query_of(&req).1?;
    let report = load_part(&state, &who, &query, part).await?;
    Ok(csv_response(
        part,
        &query,
        export::csv(&export::table(&report, part)),
    ))
}
