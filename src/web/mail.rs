//! `POST /api/v1/mail`: one raw RFC 5322 message from a mail gateway
//! (`casebook mailgate`, or any MTA hook that can POST). Only a mail
//! gateway token opens it (see `web::auth`); what the message may do is
//! what its sender may do (see `mail::inbound`).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::mail::inbound::{self, Action, MailError, Received};
use crate::web::auth::{SignedIn, problem};
use crate::web::error::{ApiError, AppError};

/// The most the route reads at all; the configured limit is usually lower.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;

#[derive(Deserialize, utoipa::IntoParams)]
pub struct MailQuery {
    /// `correspond` (public replies and new tickets, the default) or
    /// `comment` (internal notes, team senders only).
    #[serde(default)]
    action: String,
}

/// What became of a message.
#[derive(Serialize, ToSchema)]
pub struct MailOutcome {
    /// `opened`, `replied`, `commented`, `duplicate` or `dropped`.
    pub outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<i64>,
    /// Why an automatic message (bounce, auto-reply, loop) was dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[utoipa::path(
    post,
    path = "/api/v1/mail",
    tag = "mail",
    params(MailQuery),
    request_body(content = String, description = "One raw RFC 5322 message, as sent (any content type is read as the message: `message/rfc822` or `text/plain`)", content_type = "text/plain"),
    responses(
        (status = 201, description = "The message opened a ticket", body = MailOutcome),
        (status = 200, description = "The message replied or commented on a ticket, was taken in before, or was dropped as automatic mail", body = MailOutcome),
        (status = 413, description = "The message is larger than the configured limit", body = crate::web::api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The message is not readable MIME", body = crate::web::api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn receive(
    state: web::Data<AppState>,
    who: SignedIn,
    query: web::Query<MailQuery>,
    mut payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if !who.0.mail_gateway {
        return Ok(problem(
            StatusCode::FORBIDDEN,
            "Not allowed",
            "only a mail gateway token may post mail (Administration → Mail)",
            None,
        ));
    }
    let action: Action = query
        .action
        .parse()
        .map_err(|e: String| ApiError(AppError::BadRequest(e)))?;
    let limit = state.config.delivery.max_message_bytes;
    let mut raw = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError(AppError::BadRequest(e.to_string())))?;
        if raw.len() + chunk.len() > limit {
            return Ok(refusal(&MailError::TooLarge { limit }));
        }
        raw.extend_from_slice(&chunk);
    }
    let mut conn = state.pool.get().await.map_err(|e| ApiError(e.into()))?;
    match inbound::receive(&mut conn, &state.config.delivery, &raw, action).await {
        Ok(received) => Ok(answer(&received)),
        Err(MailError::Database(e)) => Err(ApiError(AppError::Database(e))),
        Err(e) => {
            tracing::info!("mail refused: {e}");
            Ok(refusal(&e))
        }
    }
}

fn answer(received: &Received) -> HttpResponse {
    let outcome = |outcome, ticket, entry, reason| MailOutcome {
        outcome,
        ticket,
        entry,
        reason,
    };
    match received {
        Received::Opened { ticket } => {
            tracing::info!(ticket.id = ticket, "mail opened ticket {ticket}");
            HttpResponse::Created().json(outcome("opened", Some(*ticket), None, None))
        }
        Received::Replied { ticket, entry } => {
            tracing::info!(ticket.id = ticket, "mail replied on ticket {ticket}");
            HttpResponse::Ok().json(outcome("replied", Some(*ticket), Some(*entry), None))
        }
        Received::Commented { ticket, entry } => {
            tracing::info!(ticket.id = ticket, "mail commented on ticket {ticket}");
            HttpResponse::Ok().json(outcome("commented", Some(*ticket), Some(*entry), None))
        }
        Received::Duplicate { ticket } => {
            HttpResponse::Ok().json(outcome("duplicate", *ticket, None, None))
        }
        Received::Dropped { reason } => {
            tracing::info!("mail dropped: {reason}");
            HttpResponse::Ok().json(outcome("dropped", None, None, Some(reason.to_string())))
        }
    }
}

fn refusal(e: &MailError) -> HttpResponse {
    let (status, title) = match e {
        MailError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "Message too large"),
        MailError::Malformed(_) | MailError::Encoding(_) => {
            (StatusCode::UNPROCESSABLE_ENTITY, "Message not readable")
        }
        MailError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid input"),
        MailError::UnknownSender(_) | MailError::Refused(_) => {
            (StatusCode::FORBIDDEN, "Not allowed")
        }
        MailError::Database(_) => (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong"),
    };
    problem(status, title, &e.to_string(), Some("message"))
}
