//! Pure types and rules: no actix, no diesel. Status transitions, the
//! plain-text model format, access policy, metric maths live here as plain
//! functions with unit tests.

pub mod account;
pub mod alert;
pub mod attachment;
pub mod improvement;
pub mod mail;
pub mod model;
pub mod notice;
pub mod policy;
pub mod report;
pub mod review;
pub mod rota;
pub mod ticket;
pub mod webhook;
pub mod zone;

/// A value a person typed that cannot be accepted, with the form field it
/// belongs to. Shown next to the field on a page, and as `field` in an API
/// problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self {
            field,
            message: message.into(),
        }
    }
}
