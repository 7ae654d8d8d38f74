//! One error type for request handling. Every variant maps to a status on
//! purpose; server-side causes are logged once, here at the boundary.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("no database connection available: {0}")]
    Pool(String),
    #[error("could not render the page: {0}")]
    Render(#[from] askama::Error),
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        AppError::Pool(e.to_string())
    }
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Database(diesel::result::Error::NotFound) => StatusCode::NOT_FOUND,
            AppError::Database(_) | AppError::Render(_) => StatusCode::INTERNAL_SERVER_ERROR,
            AppError::Pool(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let (title, message) = match status {
            StatusCode::NOT_FOUND => ("Not found", "There is nothing at this address."),
            StatusCode::SERVICE_UNAVAILABLE => (
                "Temporarily unavailable",
                "The database is not answering. Try again in a moment.",
            ),
            _ => (
                "Something went wrong",
                "The error has been logged. Try again, and tell an administrator if it persists.",
            ),
        };
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            message,
        };
        match page.render() {
            Ok(body) => HttpResponse::build(status)
                .content_type(ContentType::html())
                .body(body),
            Err(_) => HttpResponse::build(status)
                .content_type(ContentType::plaintext())
                .body(message),
        }
    }
}
