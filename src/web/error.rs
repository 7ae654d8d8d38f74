//! One error type for request handling. Every variant maps to a status on
//! purpose (no catch-all); server-side causes are logged once, here at the
//! boundary. Pages get an HTML error page, the JSON API a problem document
//! (through [`ApiError`]).

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::domain::FieldError;
use crate::secrets::SecretError;
use crate::web::auth::{problem, problem_response};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("you do not have access to this page")]
    Forbidden,
    #[error("{0}")]
    Invalid(#[from] FieldError),
    #[error("the form has expired or came from another site; reload the page and try again")]
    CsrfRejected,
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    #[error("the request could not be read: {0}")]
    BadRequest(String),
    #[error(
        "the request is larger than {0} bytes, so nothing was saved. Go back: your browser \
         still holds what you typed; shorten it (a journal entry may have {entry} bytes) and send it again",
        entry = crate::tickets::MAX_BODY_BYTES
    )]
    PayloadTooLarge(usize),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    #[error("no database connection available: {0}")]
    Pool(String),
    #[error("could not render the page: {0}")]
    Render(#[from] askama::Error),
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{0}")]
    Internal(String),
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// Someone else's change came first (an edit conflict, a review already
    /// submitted): 409 with what is current now.
    #[error("{detail}")]
    Conflict {
        title: &'static str,
        detail: String,
        field: &'static str,
        /// An edited model's current revision (also the
        /// `X-Current-Revision` header).
        current_revision: Option<i32>,
    },
}

impl From<diesel_async::pooled_connection::deadpool::PoolError> for AppError {
    fn from(e: diesel_async::pooled_connection::deadpool::PoolError) -> Self {
        AppError::Pool(e.to_string())
    }
}

/// Every refusal of the ticket service, as HTTP.
impl From<crate::tickets::TicketError> for AppError {
    fn from(e: crate::tickets::TicketError) -> Self {
        use crate::tickets::TicketError;
        match e {
            TicketError::NotFound => AppError::NotFound,
            TicketError::Forbidden => AppError::Forbidden,
            TicketError::Invalid(f) => AppError::Invalid(f),
            TicketError::Search(s) => AppError::Internal(s.to_string()),
            TicketError::Database(d) => AppError::Database(d),
        }
    }
}

impl From<crate::db::users::WriteError> for AppError {
    fn from(e: crate::db::users::WriteError) -> Self {
        match e {
            crate::db::users::WriteError::Field(f) => AppError::Invalid(f),
            crate::db::users::WriteError::Database(d) => AppError::Database(d),
        }
    }
}

/// The connection broke or the server is going away: the request may
/// succeed if tried again, so 503, not 500.
fn database_unavailable(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind, Error};
    match e {
        Error::DatabaseError(kind, info) => {
            matches!(
                kind,
                DatabaseErrorKind::ClosedConnection
                    | DatabaseErrorKind::UnableToSendCommand
                    | DatabaseErrorKind::SerializationFailure
            ) || info.message().contains("terminating connection")
                || info.message().contains("connection closed")
        }
        Error::BrokenTransactionManager => true,
        _ => false,
    }
}

/// PostgreSQL refuses the NUL character in text: bad input, not a fault.
/// Forms are checked before any handler (`web::csrf`); this covers JSON
/// bodies and paths.
fn nul_character(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(_, info) if info.message().contains("0x00"))
}

#[derive(Template)]
#[template(path = "errors/error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
    /// The request's id, to quote to an administrator.
    request_id: Option<String>,
}

impl AppError {
    fn title(&self) -> &'static str {
        if let AppError::Conflict { title, .. } = self {
            return title;
        }
        match self.status() {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::UNAUTHORIZED => "Sign-in required",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::UNPROCESSABLE_ENTITY => "Invalid input",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported content type",
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::REQUEST_TIMEOUT => "Request timed out",
            StatusCode::PAYLOAD_TOO_LARGE => "Request too large",
            StatusCode::TOO_MANY_REQUESTS => "Too many attempts",
            StatusCode::SERVICE_UNAVAILABLE => "Temporarily unavailable",
            _ => "Something went wrong",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Database(e) if database_unavailable(e) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Database(e) if nul_character(e) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::Database(diesel::result::Error::NotFound) => StatusCode::NOT_FOUND,
            AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden | AppError::CsrfRejected => StatusCode::FORBIDDEN,
            AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::Pool(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Conflict { .. } => StatusCode::CONFLICT,
            AppError::Database(_)
            | AppError::Render(_)
            | AppError::Secret(_)
            | AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the person is told. Server-side causes stay in the log.
    fn public_message(&self) -> String {
        if let AppError::Database(e) = self
            && nul_character(e)
        {
            return "Text must not contain the NUL character.".to_owned();
        }
        match self.status() {
            StatusCode::NOT_FOUND => "There is nothing at this address.".to_owned(),
            StatusCode::SERVICE_UNAVAILABLE => {
                "The database is not answering. Try again in a moment.".to_owned()
            }
            StatusCode::INTERNAL_SERVER_ERROR => {
                "The error has been logged. Try again, and tell an administrator if it persists."
                    .to_owned()
            }
            _ => self.to_string(),
        }
    }

    /// The response for a page (`api == false`) or the JSON API.
    pub fn response_for(&self, api: bool) -> HttpResponse {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        }
        let message = self.public_message();
        if api {
            let field = match self {
                AppError::Invalid(f) => Some(f.field),
                AppError::Conflict { field, .. } => Some(*field),
                _ => None,
            };
            let mut res = problem(status, self.title(), &message, field);
            if let AppError::Conflict {
                current_revision: Some(current),
                ..
            } = self
            {
                res = problem_response(crate::web::api::Problem {
                    status: status.as_u16(),
                    title: self.title().to_owned(),
                    detail: message,
                    field: field.map(str::to_owned),
                    request_id: crate::web::request_id::current(),
                    current_revision: Some(*current),
                });
                res.headers_mut().insert(
                    actix_web::http::header::HeaderName::from_static("x-current-revision"),
                    actix_web::http::header::HeaderValue::from(*current),
                );
            }
            return res;
        }
        let page = ErrorPage {
            status: status.as_u16(),
            title: self.title(),
            message: &message,
            request_id: crate::web::request_id::current(),
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

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.response_for(false)
    }
}

/// An [`AppError`] from a JSON API handler: answered as a problem document.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub AppError);

impl<E> From<E> for ApiError
where
    E: Into<AppError> + NotAppError,
{
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

/// Marks the error types that convert into [`ApiError`] through
/// [`AppError`].
pub trait NotAppError {}
impl NotAppError for diesel::result::Error {}
impl NotAppError for diesel_async::pooled_connection::deadpool::PoolError {}
impl NotAppError for FieldError {}
impl NotAppError for SecretError {}
impl NotAppError for crate::db::users::WriteError {}
impl NotAppError for crate::tickets::TicketError {}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.0.status()
    }

    fn error_response(&self) -> HttpResponse {
        self.0.response_for(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::result::{DatabaseErrorInformation, DatabaseErrorKind, Error};

    struct Info(&'static str);

    impl DatabaseErrorInformation for Info {
        fn message(&self) -> &str {
            self.0
        }
        fn details(&self) -> Option<&str> {
            None
        }
        fn hint(&self) -> Option<&str> {
            None
        }
        fn table_name(&self) -> Option<&str> {
            None
        }
        fn column_name(&self) -> Option<&str> {
            None
        }
        fn constraint_name(&self) -> Option<&str> {
            None
        }
        fn statement_position(&self) -> Option<i32> {
            None
        }
    }

    fn db(kind: DatabaseErrorKind, message: &'static str) -> AppError {
        AppError::Database(Error::DatabaseError(kind, Box::new(Info(message))))
    }

    #[test]
    fn a_lost_database_connection_is_503_a_nul_is_422_the_rest_500() {
        use DatabaseErrorKind::*;
        for e in [
            db(ClosedConnection, "connection closed"),
            db(UnableToSendCommand, "broken pipe"),
            db(SerializationFailure, "could not serialize access"),
            db(
                Unknown,
                "terminating connection due to administrator command",
            ),
            AppError::Database(Error::BrokenTransactionManager),
            AppError::Pool("timed out".to_owned()),
        ] {
            assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE, "{e}");
        }
        let nul = db(Unknown, "invalid byte sequence for encoding \"UTF8\": 0x00");
        assert_eq!(nul.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(nul.public_message().contains("NUL"));
        assert_eq!(
            db(UniqueViolation, "duplicate key").status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            AppError::Database(Error::NotFound).status(),
            StatusCode::NOT_FOUND
        );
    }
}
