//! The JSON API (`/api/v1`), authenticated by bearer tokens only. Every
//! handler answers with a named type that derives `ToSchema`, and the
//! OpenAPI document ([`openapi`]) lists those same types, so the contract
//! cannot drift from the code; a test checks real responses against it.

pub mod alerts;
pub mod attachments;
pub mod improvements;
pub mod models;
pub mod openapi;
pub mod reviews;
pub mod rota;
pub mod tickets;

use actix_web::body::BoxBody;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, Responder, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::web::auth::SignedIn;
use crate::web::error::ApiError;

/// An error, as `application/problem+json` (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// The HTTP status code.
    pub status: u16,
    /// A short summary of the kind of problem, e.g. "Invalid input".
    pub title: String,
    /// What went wrong, for a person.
    pub detail: String,
    /// The request field at fault, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The request's id (also in the `X-Request-Id` header), to quote to
    /// an administrator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// On an edit conflict: the model revision that is current now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<i32>,
}

/// Who the token belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    /// customer, engineer, reviewer, manager or admin.
    pub role: String,
    /// A customer's organization; `null` for the team.
    pub organization_id: Option<i64>,
}

/// An action that has nothing else to say.
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    /// Always `true`.
    pub ok: bool,
}

impl Done {
    pub fn json() -> web::Json<Done> {
        web::Json(Done { ok: true })
    }
}

/// A JSON body with a status and a `Location` header: what a create (201)
/// or an update of a resource with an address (200) answers.
pub struct Located<T> {
    pub status: StatusCode,
    pub location: String,
    pub body: T,
}

impl<T> Located<T> {
    pub fn created(location: String, body: T) -> Self {
        Self {
            status: StatusCode::CREATED,
            location,
            body,
        }
    }
}

impl<T: Serialize> Responder for Located<T> {
    type Body = BoxBody;

    fn respond_to(self, _: &HttpRequest) -> HttpResponse {
        HttpResponse::build(self.status)
            .insert_header((header::LOCATION, self.location))
            .json(&self.body)
    }
}

#[utoipa::path(
    get,
    path = "/api/v1/me",
    tag = "me",
    responses((status = 200, description = "The token's owner", body = Me))
)]
pub async fn me(who: SignedIn) -> Result<web::Json<Me>, ApiError> {
    let user = &who.0.user;
    Ok(web::Json(Me {
        id: user.id,
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        role: user.role.clone(),
        organization_id: user.organization_id,
    }))
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
                actix_web::error::JsonPayloadError::ContentType => {
                    crate::web::error::AppError::UnsupportedMediaType(
                        "send the body as application/json",
                    )
                }
                err => crate::web::error::AppError::BadRequest(err.to_string()),
            };
            ApiError(error).into()
        })
}
