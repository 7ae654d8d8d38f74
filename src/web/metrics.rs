//! `/metrics`: the Prometheus text exposition (see [`crate::metrics`]). On
//! the main listener it answers only `Authorization: Bearer <metrics
//! token>` (`--metrics-token`); without a token configured it is not
//! there (404). `--metrics-listen` serves it without a token on a second
//! address ([`serve_open`]).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use crate::app::AppState;
use crate::metrics::Sources;
use crate::web::error::AppError;

/// The content type Prometheus expects for the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Equal without telling, by its timing, how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    let Some(expected) = state.config.metrics_token.as_deref() else {
        return Err(AppError::NotFound);
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match given {
        Some(token) if same(token.as_bytes(), expected.as_bytes()) => exposition(&state).await,
        _ => Ok(HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\""))
            .content_type("text/plain; charset=utf-8")
            .body("send Authorization: Bearer <the metrics token>\n")),
    }
}

/// `/metrics` on the `--metrics-listen` address: no token.
pub async fn serve_open(state: web::Data<AppState>) -> Result<HttpResponse, AppError> {
    exposition(&state).await
}

async fn exposition(state: &AppState) -> Result<HttpResponse, AppError> {
    let body = state
        .metrics
        .render(Sources {
            pool: &state.pool,
            search: &state.search,
            hub: &state.hub,
        })
        .await
        .map_err(|e| AppError::Internal(format!("metrics could not be encoded: {e}")))?;
    Ok(HttpResponse::Ok()
        .content_type(CONTENT_TYPE)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}
