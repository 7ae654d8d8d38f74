//! The JSON API (`/api/v1`), authenticated by bearer tokens only.

pub mod alerts;
pub mod improvements;
pub mod models;
pub mod reviews;
pub mod rota;
pub mod tickets;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::web::auth::SignedIn;
use crate::web::error::ApiError;

/// Who the token belongs to.
pub async fn me(who: SignedIn) -> Result<HttpResponse, ApiError> {
    let user = &who.0.user;
    Ok(HttpResponse::Ok().json(json!({
        "id": user.id,
        "email": user.email,
        "display_name": user.display_name,
        "role": user.role,
        "organization_id": user.organization_id,
    })))
}

/// JSON bodies that cannot be read get a problem document naming why.
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(2 * 1024 * 1024)
        .error_handler(|err, _| {
            let error = match err {
                actix_web::error::JsonPayloadError::Overflow { limit }
                | actix_web::error::JsonPayloadError::OverflowKnownLength { limit, .. } => {
                    crate::web::error::AppError::PayloadTooLarge(limit)
                }
                err => crate::web::error::AppError::BadRequest(err.to_string()),
            };
            ApiError(error).into()
        })
}
