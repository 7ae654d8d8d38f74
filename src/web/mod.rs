//! HTTP handlers, one file per resource, and the route table. Handlers are
//! thin: extract → authorize → load → domain decision → write → render.

pub mod assets;
pub mod health;
pub mod home;

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::ContentType;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use askama::Template;

use crate::error::AppError;

/// The only place routes are named.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(home::show))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/static/{path:.*}", web::get().to(assets::show));
}

/// Renders a page struct into an HTML response.
pub fn render(page: &impl Template) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok()
        .content_type(ContentType::html())
        .body(page.render()?))
}

pub async fn not_found() -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

/// One log line per request: method, path (never the query string, which
/// may carry tokens), status and time taken.
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let result = next.call(req).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    let status = match &result {
        Ok(res) => res.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    tracing::info!(
        http.method = %method,
        http.path = %path,
        http.status = status,
        elapsed_ms = format_args!("{elapsed_ms:.1}"),
        "{method} {path} {status}"
    );
    result
}
