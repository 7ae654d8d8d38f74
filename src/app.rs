//! Application state and the one function that builds the actix `App`;
//! `main` and the tests both use [`build`].

use std::collections::BTreeSet;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Compress, DefaultHeaders, from_fn};
use actix_web::{App, web};

use crate::config::Config;
use crate::db::DbPool;

#[derive(Clone)]
pub struct AppState {
    pub pool: DbPool,
    pub config: Arc<Config>,
    /// Migration versions this binary carries; `/readyz` compares the
    /// database against them.
    pub migrations: Arc<BTreeSet<String>>,
    /// Journal entries committed by any instance, for live pages.
    pub hub: crate::live::Hub,
    /// This process's search index (derived from PostgreSQL).
    pub search: crate::search::SearchIndex,
    /// CPU-heavy request work (diffs, searches, rendering long models) runs
    /// on blocking threads, at most this many at once, so the async
    /// workers keep answering (`web::cpu`).
    pub cpu: Arc<tokio::sync::Semaphore>,
    /// What `/metrics` reports (see [`crate::metrics`]).
    pub metrics: crate::metrics::SharedMetrics,
}

impl AppState {
    pub fn new(pool: DbPool, config: Config, search: crate::search::SearchIndex) -> Self {
        Self {
            metrics: Arc::new(crate::metrics::Metrics::new(search.applied.clone())),
            search,
            pool,
            config: Arc::new(config),
            migrations: Arc::new(crate::db::embedded_versions()),
            hub: crate::live::Hub::new(),
            cpu: Arc::new(tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            )),
        }
    }
}

pub fn build(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(state))
        .app_data(form_config())
        .app_data(web::PayloadConfig::new(crate::web::csrf::MAX_FORM_BYTES))
        .app_data(crate::web::api::json_config())
        .app_data(query_config())
        .app_data(path_config())
        .configure(crate::web::routes)
        .default_service(web::to(crate::web::not_found))
        .wrap(from_fn(crate::web::csrf::protect))
        .wrap(security_headers())
        // gzip when the client accepts it, except event streams: the
        // marker inside Compress makes it pass them through, the layer
        // outside takes the marker off again.
        .wrap(from_fn(crate::web::compression::mark_streams))
        .wrap(Compress::default())
        .wrap(from_fn(crate::web::compression::unmark_streams))
        // Sees the final status of every request: its log line and metrics.
        .wrap(from_fn(crate::web::request_log))
        // Outermost: the request id is on every log line and response.
        .wrap(from_fn(crate::web::request_id::assign))
}

/// No inline script anywhere, no framing, no leaking of URLs (which may
/// name tickets) to other sites.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; \
    frame-ancestors 'none'";

fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
}

/// A query string that cannot be read is a 400 with the reason, as a page
/// or a problem document (not actix's default plain text).
fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, req| {
        let error = crate::web::error::AppError::BadRequest(err.to_string());
        if crate::web::auth::is_api(req.path()) {
            crate::web::error::ApiError(error).into()
        } else {
            error.into()
        }
    })
}

/// A path segment that is not what the route takes (a ticket number that
/// is not a number) names nothing: 404, as a page or a problem document.
fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_, req| {
        let error = crate::web::error::AppError::NotFound;
        if crate::web::auth::is_api(req.path()) {
            crate::web::error::ApiError(error).into()
        } else {
            error.into()
        }
    })
}

/// Forms that cannot be read get a clear 400, not actix's default text.
fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(crate::web::csrf::MAX_FORM_BYTES)
        .error_handler(|err, _| crate::web::error::AppError::BadRequest(err.to_string()).into())
}
