//! Request ids: every request gets one (a sane incoming `X-Request-Id` is
//! kept, so a proxy's id carries through; otherwise a new one), carried on
//! the request's tracing span, returned in the `X-Request-Id` header, and
//! shown on error pages and in problem documents so that a person can quote
//! it and an operator can find the log lines.

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

/// The id of the request being handled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

tokio::task_local! {
    /// Set for the whole of a request's handling (the middleware runs the
    /// rest of the chain inside it), so that error responses built deep
    /// down can name the request without every caller passing it.
    static CURRENT: RequestId;
}

/// The id of the request this task is handling, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(|id| id.0.clone()).ok()
}

/// An incoming id is kept when it is 1–64 characters of letters, digits,
/// `-`, `_`, `.` or `:`; anything else (control characters, log-line
/// forgery, megabytes) is replaced by a fresh id.
pub fn sane(value: &str) -> bool {
    (1..=64).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// 16 random bytes as 32 hex digits.
pub fn generate() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source is a broken machine; a time-based id still
        // tells requests apart in a log.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        return format!("t{nanos:x}");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The outermost middleware: assigns the id, runs the request inside its
/// span and task-local, and sets the response header.
pub async fn assign(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody + 'static>, actix_web::Error> {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map_or_else(generate, str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id);
    // Handlers' errors become responses inside the handler, so inside this
    // scope: their bodies name the request. (The request cannot be kept
    // here to turn a rare middleware error into a response: a clone of it
    // would stop the router from filling in the path parameters.)
    let mut res = CURRENT
        .scope(RequestId(id.clone()), next.call(req))
        .instrument(span)
        .await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut()
            .insert(HeaderName::from_static(HEADER), value);
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sane_incoming_ids_are_kept() {
        assert!(sane("abc-123_X.y:z"));
        assert!(sane(&"a".repeat(64)));
        for bad in ["", "a b", "line\nbreak", "<script>", &"a".repeat(65)] {
            assert!(!sane(bad), "{bad:?}");
        }
        let id = generate();
        assert_eq!(id.len(), 32);
        assert!(sane(&id));
        assert_ne!(generate(), id);
    }
}
