//! The client half of `casebook mailgate`: post one message to
//! `POST /api/v1/mail` and turn the answer into an exit status an MTA
//! understands (sysexits.h).

use std::time::Duration;

pub const EX_OK: u8 = 0;
pub const EX_DATAERR: u8 = 65;
pub const EX_TEMPFAIL: u8 = 75;
pub const EX_NOPERM: u8 = 77;

#[derive(Debug, thiserror::Error)]
pub enum GateError {
    /// Casebook answered with a refusal (status, its message).
    #[error("refused ({0}): {1}")]
    Refused(u16, String),
    /// Try again later: Casebook unreachable, overloaded, or failing.
    #[error("temporary failure: {0}")]
    Temporary(String),
}

/// Posts the message; the server's answer when it took it.
pub async fn post(
    url: &str,
    token: &str,
    action: &str,
    message: Vec<u8>,
    timeout: Duration,
) -> Result<String, GateError> {
    let endpoint = format!(
        "{}/api/v1/mail?action={}",
        url.trim_end_matches('/'),
        if action == "comment" {
            "comment"
        } else {
            "correspond"
        }
    );
    let headers = [
        ("Authorization", format!("Bearer {token}")),
        ("Content-Type", "message/rfc822".to_owned()),
    ];
    match crate::http_client::post(&endpoint, &headers, message, timeout, None).await {
        Ok(r) if (200..300).contains(&r.status) => Ok(r.body),
        // 401: a wrong or revoked token is the operator's to fix; keep the
        // mail queued meanwhile.
        Ok(r) if r.status == 401 || r.status == 408 || r.status == 429 || r.status >= 500 => Err(
            GateError::Temporary(format!("HTTP {}: {}", r.status, r.body)),
        ),
        Ok(r) => Err(GateError::Refused(r.status, r.body)),
        Err(e) => Err(GateError::Temporary(e.to_string())),
    }
}

/// The exit status for the MTA: 0 delivered (or dropped on purpose), 75
/// try later, 77 not allowed, 65 bad message.
pub fn exit_code(outcome: &Result<String, GateError>) -> u8 {
    match outcome {
        Ok(_) => EX_OK,
        Err(GateError::Temporary(_)) => EX_TEMPFAIL,
        Err(GateError::Refused(403, _)) => EX_NOPERM,
        Err(GateError::Refused(..)) => EX_DATAERR,
    }
}
